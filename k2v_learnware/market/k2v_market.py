"""Market stage: the market itself, composed of our parts beside the stock ones.

We do not edit ``learnware``; ``instantiate_market`` composes its
``LearnwareMarket`` from ``K2VOrganizer`` (storage), ``EasySemanticChecker`` +
``K2VStatChecker`` (submission checks) and a ``SeqCombinedSearcher`` that asks
``Know2VecSearcher``, ``LANEStatSearcher`` and the stock ``EasyStatSearcher`` in
turn. ``K2VMarket`` keeps the message of every check, so a rejection says why.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from learnware.config import C
from learnware.learnware import get_learnware_from_dirpath
from learnware.logger import get_module_logger
from learnware.market import EasySemanticChecker, LearnwareMarket
from learnware.market.base import BaseChecker, BaseUserInfo
from learnware.market.easy import EasyFuzzSemanticSearcher, EasyStatSearcher, SeqCombinedSearcher

from ..retrieval.proxy import Know2VecProxy
from ..specification.know2vec import Know2VecSpecification
from ..specification.lane import lane_spec_of
from .checker import K2VStatChecker
from .organizer import K2VOrganizer
from .searchers import KNOW2VEC, Know2VecSearcher, LANEStatSearcher

logger = get_module_logger("k2v_learnware.market")


class K2VMarket(LearnwareMarket):
    """``LearnwareMarket`` that records why a learnware was rejected (``last_check``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_check: list[tuple[str, int, str]] = []

    def check_learnware(self, zip_path, semantic_spec, checker_names=None, **kwargs):
        self.last_check = []
        names = list(self.learnware_checker) if checker_names is None else checker_names
        status = BaseChecker.NONUSABLE_LEARNWARE
        with tempfile.TemporaryDirectory(prefix="pending_learnware_") as tempdir:
            try:
                with zipfile.ZipFile(zip_path) as zf:
                    zf.extractall(tempdir)
                pending = get_learnware_from_dirpath("pending", semantic_spec, tempdir, ignore_error=False)
            except Exception as err:
                return self._reject("loader", f"the learnware cannot be loaded: {type(err).__name__}: {err}")
            for name in names:
                try:
                    result, message = self.learnware_checker[name](pending)
                except Exception as err:
                    result, message = BaseChecker.INVALID_LEARNWARE, f"{type(err).__name__}: {err}"
                self.last_check.append((name, result, message))
                if result == BaseChecker.INVALID_LEARNWARE:
                    logger.warning(f"learnware rejected by {name}: {message}")
                    return result
                status = max(status, result)
        return status

    def _reject(self, name, message):
        self.last_check.append((name, BaseChecker.INVALID_LEARNWARE, message))
        logger.warning(f"learnware rejected: {message}")
        return BaseChecker.INVALID_LEARNWARE

    def fit_know2vec_proxy(self, save: bool = True, **options) -> Know2VecProxy:
        """Train the Know2Vec proxy on every learnware that has a Know2Vec specification.

        Training tasks come from each learnware's LANE specification when it has
        one, else from the market's probe set labelled by the learnware's model.
        The proxy is saved under ``<market>/know2vec/proxy`` and used by the searcher.
        """
        organizer = self.learnware_organizer
        learnwares = [lw for lw in organizer.get_learnwares()
                      if isinstance(lw.get_specification().get_stat_spec().get(KNOW2VEC), Know2VecSpecification)]
        if len(learnwares) < 2:
            raise ValueError(f"the market has {len(learnwares)} learnwares with a Know2Vec specification; "
                             "a proxy needs at least 2 (was the market given a probe set?)")
        specs = [lw.get_specification().get_stat_spec()[KNOW2VEC] for lw in learnwares]
        sources = []
        for lw in learnwares:
            lane = lane_spec_of(lw)
            if lane is None:
                lw.instantiate_model()
            sources.append(lane if lane is not None else lw.get_model())
        proxy = Know2VecProxy(**options).fit(specs, sources, probe_X=organizer.probe_X)
        if save:
            proxy.save(organizer.know2vec_path / "proxy")
        self.know2vec_searcher.proxy = proxy
        return proxy

    @property
    def rejection_message(self) -> str | None:
        """Why the last learnware was rejected, or None if it was not."""
        bad = [f"{name}: {msg}" for name, status, msg in self.last_check if status == BaseChecker.INVALID_LEARNWARE]
        return "; ".join(bad) or None


def instantiate_market(market_id: str = "k2v", rebuild: bool = False, root=None, database_url: str | None = None,
                       weight_threshold: float = 0.05, solver: str = "clarabel", probe_X=None,
                       know2vec_options: dict | None = None) -> K2VMarket:
    """A market of our checker, organizer and searchers beside the stock ones.

    Learnware files live under ``root`` (default: ``learnware``'s
    ``market_root_path``); the index is SQLite under ``root`` unless a
    ``database_url`` (for example ``postgresql://user:pw@host:5432``) is given.
    With ``probe_X`` the market keeps a probe set and builds a Know2Vec
    specification of every learnware added (``know2vec_options`` go to
    :func:`~k2v_learnware.know2vec.generate_know2vec_spec`); a market reopened
    later finds its probe set and its saved proxy again.
    """
    if not isinstance(market_id, str) or not market_id or os.sep in market_id:
        raise ValueError(f"market_id must be a non-empty name without path separators, got {market_id!r}")
    if root is not None:
        root = Path(root).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        C.market_root_path = str(root)
        C.database_url = database_url or f"sqlite:///{root / 'database'}"
    elif database_url is not None:
        C.database_url = database_url

    # The stock organizer logs a spurious ERROR when asked to clear a market that does not exist yet.
    exists = Path(C.market_root_path, market_id, "learnware_pool").exists()
    organizer = K2VOrganizer(market_id=market_id, rebuild=rebuild and exists, probe_X=probe_X,
                             know2vec_options=know2vec_options)
    proxy_dir = organizer.know2vec_path / "proxy"
    know2vec_searcher = Know2VecSearcher(organizer, Know2VecProxy.load(proxy_dir) if proxy_dir.exists() else None)
    searcher = SeqCombinedSearcher(
        organizer=organizer,
        semantic_searcher_list=[EasyFuzzSemanticSearcher(organizer)],
        stat_searcher_list=[know2vec_searcher,
                            LANEStatSearcher(organizer, solver=solver, weight_threshold=weight_threshold),
                            EasyStatSearcher(organizer)],
    )
    market = K2VMarket(organizer=organizer, searcher=searcher,
                       checker_list=[EasySemanticChecker(), K2VStatChecker()])
    market.know2vec_searcher = know2vec_searcher
    return market


def user_info(spec, semantic_spec: dict | None = None, **extra_stat_info) -> BaseUserInfo:
    """A ``BaseUserInfo`` for a user who brings a specification of their data."""
    from learnware.specification import generate_semantic_spec

    if semantic_spec is None:  # the fields pack_learnware's default gives, without a name to match
        image = len(spec.input_shape) == 3
        semantic_spec = generate_semantic_spec(data_type="Image" if image else "Table", task_type="Classification",
                                               library_type="Scikit-learn", scenarios=["Others"], license="MIT")
    return BaseUserInfo(semantic_spec=semantic_spec, stat_info={spec.type: spec, **extra_stat_info})
