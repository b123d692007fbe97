"""Market stage: store submitted learnwares, check them, and search them.

- :mod:`.organizer`: storage of learnwares and their market-side specifications;
- :mod:`.checker`: the statistical check of a submitted LANE learnware;
- :mod:`.searchers`: the LANE and Know2Vec searchers the market asks;
- :mod:`.k2v_market`: the market composed of these and the stock parts
  (``instantiate_market``, ``user_info``).
"""

from .checker import K2VStatChecker
from .k2v_market import K2VMarket, instantiate_market, user_info
from .organizer import K2VOrganizer, MarketReloadError
from .searchers import Know2VecSearcher, LANEMultipleSearchItem, LANEStatSearcher

__all__ = [
    "K2VMarket",
    "K2VOrganizer",
    "K2VStatChecker",
    "Know2VecSearcher",
    "LANEMultipleSearchItem",
    "LANEStatSearcher",
    "MarketReloadError",
    "instantiate_market",
    "user_info",
]
