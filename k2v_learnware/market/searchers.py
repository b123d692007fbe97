"""Search stage inside the market: the searchers for LANE requirements and Know2Vec queries.

``LANEStatSearcher`` answers a user who brings a LANE specification with ranked
single learnwares and a weighted mixture (Eq. 9, :mod:`k2v_learnware.search`);
``Know2VecSearcher`` ranks learnwares by cosine in a fitted proxy's space (Eq. 17).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import positive_int
from .._logging import module_logger
from learnware.market.base import AtomicSearcher, MultipleSearchItem, SearchResults, SingleSearchItem

from ..retrieval.proxy import Know2VecProxy, Know2VecQuery
from ..search.class_mean_index import MAX_CANDIDATE_CLASSES, ClassMeanIndex
from ..search.simplex_qp import DEFAULT_SOLVER
from ..search.mixture_qp import MixtureWeights, _check_solver, embed_requirement_and_classes, weights_from_index
from ..specification.formats import SpecificationFormatError
from ..specification.know2vec import Know2VecSpecification
from ..specification.lane import LANESpecification, lane_spec_of
from .learnware_files import file_stamp
from .market_know2vec import KNOW2VEC, know2vec_spec_of

logger = module_logger("k2v_learnware.market")

#: Column-generation rounds of a market search (each but the last reads the class-mean matrix once).
#: Measured on the scale benchmark's 10,000-learnware market, 12 users
#: (benchmarks/column_generation_rounds.py): the proven optimum takes 2-5 rounds (median 0.24 s);
#: 2 rounds leave a weight L1 of 0.058 to it in 0.12 s with the same planted recall (1.00);
#: 1 round: L1 0.32, recall 0.92; 3 rounds: L1 0.007 in 0.20 s.
SEARCH_ROUNDS = 2

LANE = "LANESpecification"


def _same_input_size(learnware_list, spec_of, size: int, requirement: str):
    """Learnwares whose spec takes ``size`` input values, and those specs; others skipped with a logged reason."""
    kept, specs = [], []
    for lw in learnware_list:
        spec = spec_of(lw)
        if math.prod(spec.input_shape) != size:
            logger.warning(f"learnware {lw.id} filtered: its input shape {spec.input_shape} differs from {requirement}")
            continue
        kept.append(lw)
        specs.append(spec)
    return kept, specs


def same_objects(known: list, current) -> bool:
    """Whether ``current`` holds exactly the objects of ``known``, in order (what the kept answers rest on)."""
    return len(known) == len(current) and all(a is b for a, b in zip(known, current))


class _InputSizeFilter:
    """:func:`_same_input_size`, answered again without a pass over the specs while the list is the same.

    A market search hands the same learnware objects every time until one is
    added, updated or deleted; at 10,000 learnwares the pass costs ~50 ms.
    """

    def __init__(self, spec_of):
        self.spec_of = spec_of
        self._last: tuple | None = None  # (learnware list, size, kept, specs)

    def __call__(self, learnware_list, size: int, requirement: str):
        if self._last is not None:
            known, known_size, kept, specs = self._last
            if known_size == size and same_objects(known, learnware_list):
                return kept, specs
        kept, specs = _same_input_size(learnware_list, self.spec_of, size, requirement)
        self._last = (list(learnware_list), size, kept, specs)
        return kept, specs


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

    For a requirement in a fixed family (format 2) the searcher keeps one
    :class:`ClassMeanIndex` of every learnware's stored class means and reuses
    it until the market's learnwares change; a search then reads the index
    twice (see :mod:`k2v_learnware.search.class_mean_index`). A format-1
    requirement embeds every learnware again, calibrated on the user.
    A market with more than ``max_classes`` classes is searched with at most
    ``max_rounds`` rounds of column generation (``SEARCH_ROUNDS``: one
    optimality check over every class, then the QP over the candidates; the
    mixture's ``exact`` says whether a check proved the optimum).
    """

    def __init__(self, organizer, solver: str = DEFAULT_SOLVER, weight_threshold: float = 0.05,
                 top_k: int | None = None, max_classes: int = MAX_CANDIDATE_CLASSES,
                 max_rounds: int = SEARCH_ROUNDS):
        _check_solver(solver)
        if isinstance(weight_threshold, bool) or not isinstance(weight_threshold, numbers.Real) \
                or not 0 <= weight_threshold < 1:
            raise ValueError(f"weight_threshold must be a number in [0, 1), got {weight_threshold!r}")
        self.solver, self.weight_threshold = solver, float(weight_threshold)
        self.top_k = None if top_k is None else positive_int(top_k, "top_k")
        self.max_classes = positive_int(max_classes, "max_classes")
        self.max_rounds = positive_int(max_rounds, "max_rounds")
        self._index: tuple[str, list, ClassMeanIndex] | None = None  # (family key, specs, index)
        self._applicable = _InputSizeFilter(lane_spec_of)
        super().__init__(organizer)

    def is_applicable_user(self, user_info, **kwargs) -> bool:
        return isinstance(user_info.stat_info.get(LANE), LANESpecification)

    def is_applicable_learnware(self, learnware, **kwargs) -> bool:
        return isinstance(lane_spec_of(learnware), LANESpecification)

    def index_for(self, specs, family) -> ClassMeanIndex:
        """The index of these specs' class means in ``family``: the kept one while the specs are the same.

        A family the specs keep no class means in while they keep another (a market's specs keep their stored
        family; a requirement built with another seed or size asks for a foreign one) gets a one-off index:
        neither it nor the means computed for it are kept, so such searches cannot fill the worker's memory
        with foreign families or throw away the market's own index.
        """
        if self._index is not None:
            key, known, index = self._index
            if key == family.key and same_objects(known, specs):
                return index
        if (not any(spec.has_class_mean_embeddings(family.key) for spec in specs)
                and any(spec.kept_class_mean_families() for spec in specs)):
            return ClassMeanIndex.from_specs(specs, family, keep=False)
        self._index = None  # let the old matrix go first: a market's index is its largest holding
        index = ClassMeanIndex.from_specs(specs, family)
        self._index = (family.key, list(specs), index)
        return index

    def __call__(self, learnware_list, user_info, max_search_num: int = 5, search_method: str = "greedy"):
        max_search_num = positive_int(max_search_num, "max_search_num")  # -1 or 2.5 broke deep in numpy
        user = user_info.stat_info[LANE]
        kept, specs = self._applicable(learnware_list, math.prod(user.input_shape),
                                       f"the requirement's {user.input_shape}")
        if not kept:
            return SearchResults()
        family = user.embedding_family()
        if family.fixed:
            index, u = self.index_for(specs, family), user.mean_embedding(family)
        else:
            u, class_means = embed_requirement_and_classes(user, specs)
            index = ClassMeanIndex.from_blocks(class_means)
        base = float(u @ u) or 1.0
        q = index.stage_one(u)

        order, residuals = index.rank_single(q, max_search_num, self.solver)
        results = SearchResults(single_results=[
            SingleSearchItem(kept[i], score=max(0.0, 1.0 - r / base)) for i, r in zip(order, residuals)
        ])

        mixture = weights_from_index(index, q, [s.classes for s in specs], self.solver, self.top_k,
                                     self.max_classes, self.max_rounds)
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


def _know2vec_spec_of(learnware):
    return learnware.get_specification().get_stat_spec()[KNOW2VEC]


class Know2VecSearcher(AtomicSearcher):
    """Answers ``BaseUserInfo(stat_info={"Know2VecQuery": query})`` by cosine in a fitted proxy's space (Eq. 17).

    The user reveals only per-class mean features. Single results are every
    learnware with a Know2Vec specification, best first, scored by cosine.
    Each model's embedding is computed once per proxy and kept with the
    searcher (one row of a matrix reused while the learnwares stay the same),
    so a query costs one query-encoder pass and one matrix product. With
    ``proxy_dir`` the searcher reads the market's saved proxy and, before each
    query, picks up one another process saved since (``fit-proxy`` beside a
    running service); a proxy whose files do not load is reported and skipped.
    """

    def __init__(self, organizer, proxy: Know2VecProxy | None = None, proxy_dir=None):
        self.proxy = proxy
        self.proxy_dir = None if proxy_dir is None else Path(proxy_dir)
        self._proxy_stamp = None  # (mtime, size, inode) of the proxy.json self.proxy was read from
        self._embedded: dict[int, tuple[Know2VecSpecification, np.ndarray]] = {}  # id(spec) -> (spec, vector)
        self._matrix: tuple[object, list, np.ndarray] | None = None  # (proxy, specs, stacked vectors)
        self._applicable = _InputSizeFilter(_know2vec_spec_of)
        super().__init__(organizer)
        if proxy is None:
            self.reload_proxy()

    def _stamp(self):
        return file_stamp(self.proxy_dir / "proxy.json")

    def reload_proxy(self) -> None:
        """Read the saved proxy again if its ``proxy.json`` changed since it was read (a removed one is dropped)."""
        if self.proxy_dir is None:
            return
        stamp = self._stamp()
        if stamp == self._proxy_stamp:
            return
        if stamp is None:  # removed (the market was rebuilt): no proxy until one is trained again
            self.proxy, self._proxy_stamp = None, None
            return
        self._proxy_stamp = stamp  # tried once: a save that replaces it changes the stamp again
        try:
            self.proxy = Know2VecProxy.load(self.proxy_dir)
        except (SpecificationFormatError, OSError) as err:  # OSError: removed while it was being read
            logger.warning(f"the Know2Vec proxy in {self.proxy_dir} is not used: {err}")

    def adopt(self, proxy: Know2VecProxy, saved: bool) -> None:
        """Use a proxy this process just trained (``saved``: the one now in ``proxy_dir``, not read again)."""
        self.proxy = proxy
        if saved and self.proxy_dir is not None:
            self._proxy_stamp = self._stamp()

    def is_applicable_user(self, user_info, **kwargs) -> bool:
        if not isinstance(user_info.stat_info.get(Know2VecQuery.type), Know2VecQuery):
            return False
        self.reload_proxy()
        return self.proxy is not None

    def is_applicable_learnware(self, learnware, **kwargs) -> bool:
        return know2vec_spec_of(learnware) is not None

    def model_embeddings(self, specs) -> np.ndarray:
        """``(M, d)`` embeddings of these models under the current proxy, computed only for models not seen."""
        if self._matrix is not None:
            proxy, known, matrix = self._matrix
            if proxy is self.proxy and same_objects(known, specs):
                return matrix
            if proxy is not self.proxy:
                self._embedded = {}
        missing = [s for s in specs if self._embedded.get(id(s), (None,))[0] is not s]
        if missing:
            for spec, vector in zip(missing, self.proxy.embed_models(missing)):
                self._embedded[id(spec)] = (spec, vector)
        self._embedded = {id(s): self._embedded[id(s)] for s in specs}  # forget models no longer asked about
        matrix = np.stack([self._embedded[id(s)][1] for s in specs]) if specs else np.zeros((0, 0))
        self._matrix = (self.proxy, list(specs), matrix)
        return matrix

    def __call__(self, learnware_list, user_info, max_search_num: int = 5, search_method: str = "greedy"):
        max_search_num = positive_int(max_search_num, "max_search_num")
        query = user_info.stat_info[Know2VecQuery.type]
        kept, specs = self._applicable(learnware_list, query.means.shape[1],
                                       f"the query's {query.means.shape[1]} features")
        if not kept:
            return SearchResults()
        scores = self.proxy.scores(query, model_embeddings=self.model_embeddings(specs))
        top = np.argpartition(-scores, max_search_num)[:max_search_num] if len(scores) > max_search_num else \
            np.arange(len(scores))
        order = top[np.argsort(-scores[top], kind="stable")]
        return SearchResults(single_results=[SingleSearchItem(kept[i], score=float(scores[i])) for i in order])
