"""Market stage: the market itself, composed of our parts beside the stock ones.

We do not edit ``learnware``; ``instantiate_market`` composes its
``LearnwareMarket`` from ``K2VOrganizer`` (storage), ``EasySemanticChecker`` +
``K2VStatChecker`` (submission checks) and a ``SeqCombinedSearcher`` that asks
``Know2VecSearcher``, ``LANEStatSearcher`` and the stock ``EasyStatSearcher`` in
turn. ``K2VMarket`` keeps the message of every check, so a rejection says why.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from learnware.config import C
from learnware.learnware import get_learnware_from_dirpath
from .._logging import module_logger
from learnware.market import EasySemanticChecker, LearnwareMarket
from learnware.market.base import BaseChecker, BaseUserInfo
from learnware.market.easy import EasyFuzzSemanticSearcher, EasyStatSearcher, SeqCombinedSearcher

from ..retrieval.proxy import Know2VecProxy
from ..search.simplex_qp import DEFAULT_SOLVER
from ..specification.formats import SpecificationFormatError
from ..specification.lane import lane_spec_of
from .checker import K2VStatChecker
from .organizer import K2VOrganizer
from .market_know2vec import know2vec_spec_of
from .searchers import Know2VecSearcher, LANEStatSearcher
from .database import normalise_url
from .market_checks import check_flag, check_know2vec_options
from .store import check_market_id
from .submission_checks import extract_checked

logger = module_logger("k2v_learnware.market")

#: What :meth:`K2VMarket.fit_know2vec_proxy` trains the proxy on.
REGIMES = ("auto", "labelled", "identity")
#: Most times one search is asked: again only while other processes keep removing files it was reading.
SEARCH_ATTEMPTS = 5


class K2VMarket(LearnwareMarket):
    """``LearnwareMarket`` that records why a learnware was rejected (``last_check``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_check: list[tuple[str, int, str]] = []

    def search_learnware(self, user_info, check_status=None, **kwargs):
        """Search; asked again on the market as it is now when another process removed files it was reading.

        A search reads the files of the learnwares this process loaded at its
        refresh (their stored class means when an index is built, their points
        for a requirement in another family); another process's update or
        delete removes the old version's files right after switching the row.
        One landing between the refresh and those reads (an index is rebuilt
        after every change, 5 s at 10,000 learnwares) made the search fail with
        FileNotFoundError (the service answered 500). When the market changed
        meanwhile the search is asked again, which refreshes first.
        """
        organizer = self.learnware_organizer
        for attempt in range(1, SEARCH_ATTEMPTS + 1):
            try:
                return super().search_learnware(user_info, check_status, **kwargs)
            except (OSError, SpecificationFormatError):  # points read back: a format error naming the OSError
                if attempt == SEARCH_ATTEMPTS or not organizer.changed_since_refresh():
                    raise
                logger.info(f"market {self.market_id!r} changed while a search read its files: searched again")

    def check_learnware(self, zip_path, semantic_spec, checker_names=None, **kwargs):
        self.last_check = []
        names = list(self.learnware_checker) if checker_names is None else checker_names
        status = BaseChecker.NONUSABLE_LEARNWARE
        with tempfile.TemporaryDirectory(prefix="pending_learnware_") as tempdir:
            try:
                extract_checked(zip_path, tempdir)  # bounded, and its learnware.yaml names only allowed classes
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

    def add_learnware(self, zip_path, semantic_spec, checker_names=None, **kwargs):
        """Check, then store; when the organizer refuses, ``rejection_message`` says why."""
        learnware_id, status = super().add_learnware(zip_path, semantic_spec, checker_names, **kwargs)
        self._note_organizer_refusal(status)
        return learnware_id, status

    def update_learnware(self, id, zip_path=None, semantic_spec=None, checker_names=None, check_status=None,
                         **kwargs):
        """Check the new version, then switch the learnware to it; ``rejection_message`` says why not."""
        self.last_check = []
        organizer = self.learnware_organizer
        # The revision, semantic spec and zip all come from one read of the row: the update is refused when
        # anyone changed the learnware since, so it never reverts a change that landed between two reads.
        stored = organizer.stored_version(id)
        if stored is None:
            return self._reject("organizer", f"market {self.market_id!r} has no learnware {id!r}")
        row, stored_zip = stored
        zip_for_check = stored_zip if zip_path is None else zip_path
        if semantic_spec is None:
            semantic_spec = row.semantic_spec
        names = list(self.learnware_checker) if checker_names is None else checker_names
        checked = self.check_learnware(zip_for_check, semantic_spec, names)
        if check_status is None or checked == BaseChecker.INVALID_LEARNWARE:
            check_status = checked
        status = organizer.update_learnware(id, zip_path=zip_path, semantic_spec=semantic_spec,
                                            check_status=check_status, expected_revision=row.row_revision, **kwargs)
        self._note_organizer_refusal(status)
        return status

    def _note_organizer_refusal(self, status) -> None:
        reason = getattr(self.learnware_organizer, "last_error", None)
        if status == BaseChecker.INVALID_LEARNWARE and reason and self.rejection_message is None:
            self.last_check.append(("organizer", BaseChecker.INVALID_LEARNWARE, reason))

    def _reject(self, name, message):
        self.last_check.append((name, BaseChecker.INVALID_LEARNWARE, message))
        logger.warning(f"learnware rejected: {message}")
        return BaseChecker.INVALID_LEARNWARE

    def fit_know2vec_proxy(self, save: bool = True, regime: str = "auto", task_groups=None,
                           **options) -> Know2VecProxy:
        """Train the Know2Vec proxy on every learnware that has a Know2Vec specification.

        ``regime`` says what the proxy learns from. ``"labelled"`` (what
        ``"auto"`` picks when the market holds labels of its probe set, see
        :func:`instantiate_market`): tasks cut from the labelled probe set, whose
        positives are the learnwares most accurate on them, so a proxy tells
        apart several learnwares of one class subset; ``task_groups`` (lists of
        classes, e.g. one per data domain) bound the classes one task draws.
        ``"identity"`` (the paper's, ``"auto"`` without labels): each task comes
        from one learnware, positive that learnware: from its LANE specification
        when it has one, else from the probe set labelled by its model.
        Either way a model's answers come from its Know2Vec specification
        (format 2) or, for a format 1 specification, from the model, loaded for it.
        ``options`` go to :class:`Know2VecProxy`. The proxy is saved under
        ``<market>/know2vec/proxy`` and used by the searcher.
        """
        if regime not in REGIMES:
            raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
        organizer = self.learnware_organizer
        organizer.refresh_probe()
        labelled = regime == "labelled" or (regime == "auto" and organizer.probe_y is not None)
        if labelled and organizer.probe_y is None:
            raise ValueError("the labelled regime needs labels of the market's probe set: reopen the market with "
                             "instantiate_market(probe_y=...)")
        if task_groups is not None and not labelled:
            raise ValueError("task_groups only apply to the labelled regime")
        learnwares = [lw for lw in organizer.get_learnwares() if know2vec_spec_of(lw) is not None]
        if len(learnwares) < 2:
            raise ValueError(f"the market has {len(learnwares)} learnwares with a Know2Vec specification; "
                             "a proxy needs at least 2 (was the market given a probe set?)")
        specs = [know2vec_spec_of(lw) for lw in learnwares]
        sources = []
        for lw, spec in zip(learnwares, specs):
            lane = None if labelled else lane_spec_of(lw)
            if lane is None and not spec.holds_probe_labels(organizer.probe_X, organizer.probe_sha256):
                lw.instantiate_model()  # a format 1 specification: the model answers the probe set itself
                sources.append(lw.get_model())
            else:
                sources.append(spec if lane is None else lane)
        labels = {"probe_y": organizer.probe_y, "task_groups": task_groups} if labelled else {}
        proxy = Know2VecProxy(**options).fit(specs, sources, probe_X=organizer.probe_X, **labels)
        if save:
            proxy.save(organizer.know2vec_path / "proxy")
        self.know2vec_searcher.adopt(proxy, saved=bool(save))
        self.know2vec_searcher.model_embeddings(specs)  # computed once now, not on the first query
        return proxy

    def build_know2vec_specs(self, verbose: bool = False) -> dict:
        """Give learnwares added before the market's probe set (or on another one) a Know2Vec specification on
        it, each as a new version of the learnware; ``{"built": [ids], "failed": {id: reason}}``."""
        from .market_know2vec import build_missing_know2vec_specs

        return build_missing_know2vec_specs(self.learnware_organizer, verbose=verbose)

    @property
    def rejection_message(self) -> str | None:
        """Why the last learnware was rejected, or None if it was not."""
        bad = [f"{name}: {msg}" for name, status, msg in self.last_check if status == BaseChecker.INVALID_LEARNWARE]
        return "; ".join(bad) or None


def instantiate_market(market_id: str = "k2v", rebuild: bool = False, root=None, database_url: str | None = None,
                       weight_threshold: float = 0.05, solver: str = DEFAULT_SOLVER, probe_X=None,
                       know2vec_options: dict | None = None, strict: bool = True, probe_y=None) -> K2VMarket:
    """A market of our checker, organizer and searchers beside the stock ones.

    Learnware files live under ``root`` (default: ``learnware``'s
    ``market_root_path``). The index is the SQLite file
    ``<root>/database/market_<market_id>.db`` unless ``database_url`` names
    another database: ``postgresql://user:pw@host:5432/db`` (psycopg 3; the
    database is created when the server lets us) or ``sqlite:///path.db``. One
    database may hold many markets. Several processes may open the same market
    at once: each sees the others' additions, updates and deletions.
    ``rebuild=True`` removes every learnware of this market (rows and files).
    A stored learnware that cannot be loaded makes opening fail
    (:class:`MarketReloadError`) unless ``strict=False``, which leaves it out
    (``market.learnware_organizer.unloadable`` says why) so it can be deleted.

    With ``probe_X`` the market keeps a probe set and builds a Know2Vec
    specification of every learnware added (``know2vec_options`` go to
    :func:`~k2v_learnware.specification.know2vec.generate_know2vec_spec`); a
    market reopened later finds its probe set and its saved proxy again.
    ``probe_y`` labels the probe set (given with ``probe_X``, or for the one
    the market holds), in the label space of the learnwares' models: the
    proxy then learns which learnware is most accurate on a task
    (:meth:`K2VMarket.fit_know2vec_proxy`). Labels are kept with the probe
    set's fingerprint, and a probe set given anew without labels drops them.
    """
    market_id = check_market_id(market_id)
    rebuild, strict = check_flag(rebuild, "rebuild"), check_flag(strict, "strict")
    know2vec_options = check_know2vec_options(know2vec_options)
    if database_url is not None:
        normalise_url(database_url)  # a clear ValueError before anything is created
    if root is not None:
        root = Path(root).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        C.market_root_path = str(root)
    root = Path(C.market_root_path)
    organizer = K2VOrganizer(market_id=market_id, rebuild=rebuild, root=root, database_url=database_url,
                             probe_X=probe_X, know2vec_options=know2vec_options, strict=strict,
                             probe_y=probe_y)
    know2vec_searcher = Know2VecSearcher(organizer, proxy_dir=organizer.know2vec_path / "proxy")
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
    from learnware.specification import BaseStatSpecification

    if not isinstance(spec, BaseStatSpecification):
        raise TypeError(f"spec must be a statistical specification (e.g. a LANESpecification), got "
                        f"{type(spec).__name__}")

    if semantic_spec is None:  # RKME table specs have no input_shape: tables
        semantic_spec = user_semantic_spec(getattr(spec, "input_shape", ()))
    return BaseUserInfo(semantic_spec=semantic_spec, stat_info={spec.type: spec, **extra_stat_info})


def user_semantic_spec(input_shape=()) -> dict:
    """A user's semantic specification that asks for what the user's data says and nothing else: a classifier
    of this kind of input (images for a (c, h, w) shape). Library, license, scenario, model and name are left
    empty, which the stock semantic searchers read as "any": a user who filled them with pack_learnware's
    defaults (Scikit-learn, MIT, Others) would never find a PyTorch, Apache-2.0 or Business learnware."""
    from learnware.specification import generate_semantic_spec

    spec = generate_semantic_spec(data_type="Image" if len(tuple(input_shape)) == 3 else "Table",
                                  task_type="Classification")
    spec["Model"]["Values"] = []  # generate_semantic_spec's ["Others"] keeps only models of no named kind
    return spec
