"""Market stage: store submitted learnwares, check them, and search them.

- :mod:`.organizer`: storage of learnwares and their market-side specifications;
- :mod:`.checker`: the statistical check of a submitted LANE learnware;
- :mod:`.searchers`: the LANE and Know2Vec searchers the market asks;
- :mod:`.k2v_market`: the market composed of these and the stock parts
  (``instantiate_market``, ``user_info``);
- :mod:`.listing`: what a market holds, read without importing ``learnware``.

The names below load their module (and ``learnware``, torch) on first use, so
that reading a market's rows (:mod:`.store`, :mod:`.listing`) stays cheap.
"""

from importlib import import_module

_LAZY = {
    "K2VStatChecker": "checker",
    "K2VMarket": "k2v_market",
    "instantiate_market": "k2v_market",
    "user_info": "k2v_market",
    "user_semantic_spec": "k2v_market",
    "K2VOrganizer": "organizer",
    "MarketReloadError": "store",
    "Know2VecSearcher": "searchers",
    "LANEMultipleSearchItem": "searchers",
    "LANEStatSearcher": "searchers",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
