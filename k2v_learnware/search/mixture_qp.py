"""Finding learnwares for a requirement: the mixture-weight QP (LANE Eq. 8-9).

The market searcher that uses it is ``k2v_learnware.market.LANEStatSearcher``.

Eq. 8 asks for weights over every class of every learnware so that the weighted
class-mean embeddings reproduce the user's mean embedding. With ``M`` the
``(N_w, D)`` matrix of class-mean embeddings and ``u`` the user's mean embedding
it is the simplex-constrained least squares

    min_w  || M^T w - u ||^2   s.t.  w >= 0,  sum(w) = 1,

i.e. Eq. 9 with ``H = M M^T`` and ``C = M u`` (the paper prints ``+ C^T W``; the
expansion of Eq. 8 gives ``- C^T W``). It is solved in two stages over a
:class:`~.class_mean_index.ClassMeanIndex` (candidates in closed form, then the
exact QP over a few hundred classes with column generation), so no matrix
quadratic in the number of classes in the market is ever formed; with few
classes the QP is solved over all of them at once.

With a fixed embedding family (format-2 specifications) every class mean is
computed once per specification and kept (``class_mean_embeddings``); a
format-1 requirement calibrates BatchNorm on the user's points and embeds every
specification again, as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..specification.lane import LANESpecification
from ..specification.networks import RandomEmbedding, checked_family, finite_embedding
from .class_mean_index import MAX_CANDIDATE_CLASSES, MAX_ROUNDS, ClassMeanIndex
from .simplex_qp import DEFAULT_SOLVER, simplex_qp

SOLVERS = ("daqp", "clarabel", "cvxpy")


@dataclass
class MixtureWeights:
    """Weights found by :func:`mixture_weights`.

    ``class_weights[i][j]`` is the weight of class ``classes[i][j]`` of learnware
    ``i``; ``learnware_weights[i]`` is their sum (the learnware's share of the
    requirement). ``mmd2`` is the squared MMD left between the requirement and
    the weighted mixture, in the shared embedding. ``exact`` is False only
    when column generation stopped before proving the optimum (see
    :mod:`.class_mean_index`).
    """

    learnware_weights: np.ndarray
    class_weight_vector: np.ndarray  # every class's weight, learnware after learnware
    classes: list[list]
    mmd2: float
    solver: str
    seconds: float = 0.0
    candidates: list[int] = field(default_factory=list)
    exact: bool = True

    @cached_property
    def class_weights(self) -> list[np.ndarray]:
        """Per learnware, the weights of its classes (views into ``class_weight_vector``)."""
        return np.split(self.class_weight_vector, np.cumsum([len(k) for k in self.classes])[:-1])


def _simplex_least_squares(R: np.ndarray, s: np.ndarray, solver: str) -> np.ndarray:
    """argmin ||R w - s||^2 over the probability simplex (small dense problems)."""
    R, s = np.asarray(R, dtype=np.float64), np.asarray(s, dtype=np.float64)
    return simplex_qp(R.T @ R, R.T @ s, float(s @ s), solver)


def embed_requirement_and_classes(user, specs, family: RandomEmbedding | None = None):
    """Mean embedding of the requirement and class-mean embeddings of every spec.

    ``user`` is a LANESpecification of the user's data or the raw data array.
    The family is the user spec's (else the first learnware's). A fixed family
    reads each spec's stored class means; a format-1 family calibrates
    BatchNorm on the user's points, so the one embedding serves every learnware.
    """
    user, specs = _check_inputs(user, specs)
    return _embed(user, specs, family)


def _embed(user, specs, family):
    """:func:`embed_requirement_and_classes` of checked inputs."""
    shape = user.input_shape if isinstance(user, LANESpecification) else user.shape[1:]
    if family is None:
        family = user.embedding_family() if isinstance(user, LANESpecification) else specs[0].embedding_family()
    family = checked_family(family, shape)
    if family.fixed:
        if isinstance(user, LANESpecification):
            u = user.mean_embedding(family)
        else:
            (rows,) = family.embed([_as_family_input(user, family)])
            u = finite_embedding(rows.mean(axis=0), "the user data's mean embedding")
        return u, [spec.class_mean_embeddings(family) for spec in specs]
    if isinstance(user, LANESpecification):
        reference = user._family_input(family)
    else:
        reference = _as_family_input(user, family)
    arrays = [reference] + [s._family_input(family) for s in specs]
    embedded = family.embed(arrays, reference=reference)
    if isinstance(user, LANESpecification):
        u = user.class_weights @ user.class_mean_rows(embedded[0])
    else:
        u = embedded[0].mean(axis=0)
    return finite_embedding(u, "the requirement's mean embedding"), [
        finite_embedding(spec.class_mean_rows(emb), f"learnware_specs[{i}]'s class-mean embedding")
        for i, (spec, emb) in enumerate(zip(specs, embedded[1:]))]


def _as_family_input(rows, family: RandomEmbedding) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows.reshape((len(rows),) + family.config.input_shape)


def lane_spec_list(specs, name: str) -> list:
    """``specs`` as a non-empty list of LANESpecifications, else a TypeError / ValueError naming ``name``."""
    if isinstance(specs, LANESpecification) or not hasattr(specs, "__iter__"):
        raise TypeError(f"{name} must be a list of LANESpecifications, got {type(specs).__name__}")
    specs = list(specs)
    if not specs:
        raise ValueError(f"{name} is empty: there is nothing to weigh")
    for i, spec in enumerate(specs):
        if not isinstance(spec, LANESpecification):
            raise TypeError(f"{name}[{i}] is a {type(spec).__name__}, not a LANESpecification")
    return specs


def _check_inputs(user, learnware_specs):
    if not isinstance(user, LANESpecification):
        from .._checks import as_data_array

        user = as_data_array(user, "user data")
    specs = lane_spec_list(learnware_specs, "learnware_specs")
    shape = user.input_shape if isinstance(user, LANESpecification) else tuple(user.shape[1:])
    for i, s in enumerate(specs):
        if s.input_shape != shape and int(np.prod(s.input_shape)) != int(np.prod(shape)):
            raise ValueError(
                f"feature dimensions differ: learnware_specs[{i}] has samples of shape {s.input_shape}, "
                f"the requirement {shape}"
            )
    return user, specs


def mixture_weights(user, learnware_specs, *, solver: str = DEFAULT_SOLVER, top_k: int | None = None,
                    family: RandomEmbedding | None = None) -> MixtureWeights:
    """Solve Eq. 9: weights over every class of every learnware that best explain ``user``.

    ``user`` is the user's LANESpecification (or their raw data). ``solver`` is
    a qpsolvers backend (``"daqp"`` by default, ``"clarabel"``, ...) or ``"cvxpy"``. With
    ``top_k``, only the ``top_k`` learnwares whose best class lies closest to
    the requirement enter the QP (the others get weight 0).
    """
    start = time.perf_counter()
    _check_solver(solver)
    user, specs = _check_inputs(user, learnware_specs)
    u, class_means = _embed(user, specs, family)
    result = _weights_from_embeddings(u, class_means, specs, solver, top_k)
    result.seconds = time.perf_counter() - start
    return result


def single_residuals(user, learnware_specs, *, solver: str = DEFAULT_SOLVER,
                     family: RandomEmbedding | None = None) -> np.ndarray:
    """Squared MMD each learnware leaves when it alone explains ``user`` (lower is a better match).

    This is how the market ranks single learnwares; ``user`` is a
    LANESpecification of the user's data or the raw rows.
    """
    _check_solver(solver)
    user, specs = _check_inputs(user, learnware_specs)
    u, class_means = _embed(user, specs, family)
    return ClassMeanIndex.from_blocks(class_means).all_single_residuals(u, solver)


def _check_solver(solver):
    if solver not in SOLVERS:
        from qpsolvers import available_solvers

        if solver not in available_solvers:
            raise ValueError(f"solver must be 'cvxpy' or a qpsolvers backend {sorted(available_solvers)}, "
                             f"got {solver!r}")


def weights_from_index(index: ClassMeanIndex, u, classes: list[list], solver: str, top_k: int | None = None,
                       max_classes: int = MAX_CANDIDATE_CLASSES, max_rounds: int = MAX_ROUNDS) -> MixtureWeights:
    """Eq. 9 over an index's learnwares; with ``top_k``, only the learnwares whose best class lies closest to ``u``.

    ``u`` is the requirement's mean embedding or the index's ``stage_one`` of it.
    """
    from .._checks import positive_int

    candidates = None
    q = index.stage_one(u)
    if top_k is not None and positive_int(top_k, "top_k") < index.num_learnwares:
        alone = index.sq_norms - 2 * q.c  # |m - u|^2 - |u|^2
        closest = np.full(index.num_learnwares, np.inf)
        np.minimum.at(closest, index.owner, alone)
        candidates = sorted(np.argsort(closest, kind="stable")[:top_k].tolist())
    solution = index.mixture(q, solver, max_classes=max_classes, learnwares=candidates, max_rounds=max_rounds)
    dense = np.zeros(len(index.matrix))
    dense[solution.rows] = solution.weights
    return MixtureWeights(
        learnware_weights=index.learnware_weights(solution),
        class_weight_vector=dense,
        classes=list(classes),
        mmd2=solution.mmd2,
        solver=solver,
        candidates=list(range(index.num_learnwares)) if candidates is None else candidates,
        exact=solution.exact,
    )


def _weights_from_embeddings(u, class_means, specs, solver, top_k) -> MixtureWeights:
    return weights_from_index(ClassMeanIndex.from_blocks(class_means), u, [s.classes for s in specs], solver, top_k)
