"""A ``learnware`` market where LANE learnwares and stock RKME learnwares live together.

We do not edit ``learnware``; we compose its ``LearnwareMarket`` from our parts
beside the stock ones:

- ``K2VOrganizer``: the stock SQL-backed organizer, except that a reload that
  cannot rebuild a stored learnware fails loudly naming it (the stock one drops
  it silently).
- ``K2VStatChecker``: checks LANE learnwares (schema, finite distance, the model
  runs on samples drawn from the spec) and hands others to the stock checker.
- ``LANEStatSearcher``: answers users who bring a LANE specification, with
  ranked single results and a weighted mixture.
- ``K2VMarket``: keeps the message of every check, so a rejection says why.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from learnware.config import C
from learnware.learnware import get_learnware_from_dirpath
from learnware.logger import get_module_logger
from learnware.market import EasyOrganizer, EasySemanticChecker, EasyStatChecker, LearnwareMarket
from learnware.market.base import (
    AtomicSearcher,
    BaseChecker,
    BaseUserInfo,
    MultipleSearchItem,
    SearchResults,
    SingleSearchItem,
)
from learnware.market.easy import EasyFuzzSemanticSearcher, EasyStatSearcher, SeqCombinedSearcher

from .lane import LANESpecification, lane_spec_of
from .search import (
    MixtureWeights,
    _check_solver,
    _single_residuals,
    _weights_from_embeddings,
    embed_requirement_and_classes,
)

logger = get_module_logger("k2v_learnware.market")

LANE = "LANESpecification"


class MarketReloadError(RuntimeError):
    """A stored learnware could not be rebuilt when the market reloaded."""


# ------------------------------------------------------------------- organizer
class K2VOrganizer(EasyOrganizer):
    """``EasyOrganizer`` that never loses a stored learnware without saying so."""

    def reload_market(self, rebuild: bool = False) -> bool:
        super().reload_market(rebuild=rebuild)
        from sqlalchemy import text

        with self.dbops.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, semantic_spec, folder_path FROM tb_learnware")).fetchall()
        missing = [(i.strip(), sem, folder) for i, sem, folder in rows if i.strip() not in self.learnware_list]
        if missing:
            import json

            reasons = []
            for learnware_id, semantic_spec, folder in missing:
                try:
                    get_learnware_from_dirpath(learnware_id, json.loads(semantic_spec), folder, ignore_error=False)
                    reasons.append(f"{learnware_id}: loaded on retry but not by the market")
                except Exception as err:  # the loader's own error names the class or file
                    reasons.append(f"{learnware_id}: {type(err).__name__}: {err}")
            raise MarketReloadError(
                f"market {self.market_id!r} holds {len(rows)} learnwares but {len(missing)} could not be "
                "reloaded (is the package that defines their specification installed?): " + "; ".join(reasons)
            )
        return True


# --------------------------------------------------------------------- checker
class K2VStatChecker(BaseChecker):
    """Checks LANE learnwares itself; any other learnware goes to the stock ``EasyStatChecker``.

    A LANE learnware is USABLE when its spec validates (it was loaded through
    the schema), its self-distance is finite (0), its input shape matches the
    model's, and the model predicts one output per sample on a few samples
    drawn from the spec's class Gaussians. A learnware that also carries a
    stock specification must pass the stock checker as well.
    """

    SAMPLES_PER_CLASS = 2

    def __init__(self):
        self._stock = EasyStatChecker()

    def reset(self, **kwargs):
        self._stock.reset(**kwargs)

    def __call__(self, learnware):
        spec = lane_spec_of(learnware)
        if spec is None:
            return self._stock(learnware)
        try:
            learnware.instantiate_model()
            model = learnware.get_model()
            model_shape = tuple(getattr(model, "input_shape", ()) or ())
            if model_shape and int(np.prod(model_shape)) != int(np.prod(spec.input_shape)):
                return self.INVALID_LEARNWARE, (f"model input shape {model_shape} does not match the "
                                                f"LANE specification's {spec.input_shape}")
            distance = spec.dist(spec)
            if not np.isfinite(distance):
                return self.INVALID_LEARNWARE, f"LANE specification self-distance is not finite ({distance})"
            probe = np.concatenate([spec.sample_class(c, self.SAMPLES_PER_CLASS, random_state=0)
                                    for c in spec.classes])
            outputs = np.asarray(learnware.predict(probe))
            if len(outputs) != len(probe):
                return self.INVALID_LEARNWARE, (f"model returned {len(outputs)} outputs for {len(probe)} "
                                                "samples drawn from its LANE specification")
        except Exception as err:
            return self.INVALID_LEARNWARE, f"LANE check failed: {type(err).__name__}: {err}"
        others = set(learnware.get_specification().get_stat_spec()) - {LANE}
        if others:
            status, message = self._stock(learnware)
            if status == self.INVALID_LEARNWARE:
                return status, f"stock check of {sorted(others)} failed: {message}"
        return self.USABLE_LEARNWARE, "K2VStatChecker success"


# -------------------------------------------------------------------- searcher
@dataclass
class LANEMultipleSearchItem(MultipleSearchItem):
    """A mixture result that keeps its weights (the stock item drops them)."""

    weights: list = field(default_factory=list)
    mixture: MixtureWeights | None = None


class LANEStatSearcher(AtomicSearcher):
    """Answers ``BaseUserInfo(stat_info={"LANESpecification": user_spec})``.

    Single results are ranked by the squared MMD left when a learnware alone
    explains the requirement (score ``1 - residual / |u|^2``); the mixture
    result holds the learnwares whose Eq. 9 weight reaches
    ``weight_threshold``, with their renormalised weights. Learnwares whose
    feature dimension differs from the requirement's are skipped with a logged
    reason.
    """

    def __init__(self, organizer, solver: str = "clarabel", weight_threshold: float = 0.05,
                 top_k: int | None = None):
        _check_solver(solver)
        self.solver, self.weight_threshold, self.top_k = solver, float(weight_threshold), top_k
        super().__init__(organizer)

    def is_applicable_user(self, user_info, **kwargs) -> bool:
        return isinstance(user_info.stat_info.get(LANE), LANESpecification)

    def is_applicable_learnware(self, learnware, **kwargs) -> bool:
        return isinstance(lane_spec_of(learnware), LANESpecification)

    def __call__(self, learnware_list, user_info, max_search_num: int = 5, search_method: str = "greedy"):
        user = user_info.stat_info[LANE]
        kept = []
        for lw in learnware_list:
            shape = lane_spec_of(lw).input_shape
            if int(np.prod(shape)) != int(np.prod(user.input_shape)):
                logger.warning(f"learnware {lw.id} filtered: its feature dimension {shape} differs from "
                               f"the requirement's {user.input_shape}")
                continue
            kept.append(lw)
        if not kept:
            return SearchResults()
        specs = [lane_spec_of(lw) for lw in kept]
        u, class_means = embed_requirement_and_classes(user, specs)
        base = float(u @ u) or 1.0

        residuals = _single_residuals(u, class_means, self.solver)
        order = np.argsort(residuals, kind="stable")[:max_search_num]
        results = SearchResults(single_results=[
            SingleSearchItem(kept[i], score=max(0.0, 1.0 - residuals[i] / base)) for i in order
        ])

        mixture = _weights_from_embeddings(u, class_means, specs, self.solver, self.top_k)
        by_weight = np.argsort(-mixture.learnware_weights, kind="stable")
        chosen = [i for i in by_weight if mixture.learnware_weights[i] >= self.weight_threshold][:max_search_num]
        if chosen:
            w = mixture.learnware_weights[chosen]
            results.update_multiple_results([LANEMultipleSearchItem(
                learnwares=[kept[i] for i in chosen],
                score=max(0.0, 1.0 - mixture.mmd2 / base),
                weights=(w / w.sum()).tolist(),
                mixture=mixture,
            )])
        return results


# ---------------------------------------------------------------------- market
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

    @property
    def rejection_message(self) -> str | None:
        """Why the last learnware was rejected, or None if it was not."""
        bad = [f"{name}: {msg}" for name, status, msg in self.last_check if status == BaseChecker.INVALID_LEARNWARE]
        return "; ".join(bad) or None


def instantiate_market(market_id: str = "k2v", rebuild: bool = False, root=None, database_url: str | None = None,
                       weight_threshold: float = 0.05, solver: str = "clarabel") -> K2VMarket:
    """A market of our checker, organizer and searchers beside the stock ones.

    Learnware files live under ``root`` (default: ``learnware``'s
    ``market_root_path``); the index is SQLite under ``root`` unless a
    ``database_url`` (for example ``postgresql://user:pw@host:5432``) is given.
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
    organizer = K2VOrganizer(market_id=market_id, rebuild=rebuild and exists)
    searcher = SeqCombinedSearcher(
        organizer=organizer,
        semantic_searcher_list=[EasyFuzzSemanticSearcher(organizer)],
        stat_searcher_list=[LANEStatSearcher(organizer, solver=solver, weight_threshold=weight_threshold),
                            EasyStatSearcher(organizer)],
    )
    return K2VMarket(organizer=organizer, searcher=searcher,
                     checker_list=[EasySemanticChecker(), K2VStatChecker()])


def user_info(spec, semantic_spec: dict | None = None, **extra_stat_info) -> BaseUserInfo:
    """A ``BaseUserInfo`` for a user who brings a specification of their data."""
    from learnware.specification import generate_semantic_spec

    if semantic_spec is None:  # the fields pack_learnware's default gives, without a name to match
        image = len(spec.input_shape) == 3
        semantic_spec = generate_semantic_spec(data_type="Image" if image else "Table", task_type="Classification",
                                               library_type="Scikit-learn", scenarios=["Others"], license="MIT")
    return BaseUserInfo(semantic_spec=semantic_spec, stat_info={spec.type: spec, **extra_stat_info})
