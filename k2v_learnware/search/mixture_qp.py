"""Finding learnwares for a requirement: the mixture-weight QP (LANE Eq. 8-9).

The market searcher that uses it is ``k2v_learnware.market.LANEStatSearcher``.

Eq. 8 asks for weights over every class of every learnware so that the weighted
class-mean embeddings reproduce the user's mean embedding. With ``M`` the
``(N_w, D)`` matrix of class-mean embeddings and ``u`` the user's mean embedding
it is the simplex-constrained least squares

    min_w  || M^T w - u ||^2   s.t.  w >= 0,  sum(w) = 1,

i.e. Eq. 9 with ``H = M M^T`` and ``C = M u`` (the paper prints ``+ C^T W``; the
expansion of Eq. 8 gives ``- C^T W``). We hand qpsolvers the factored form
(``solve_ls`` with ``R = M^T``), so ``H`` - quadratic in the number of classes
in the market - is never formed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..specification.lane import LANESpecification
from ..specification.networks import RandomEmbedding

SOLVERS = ("clarabel", "cvxpy")


@dataclass
class MixtureWeights:
    """Weights found by :func:`mixture_weights`.

    ``class_weights[i][j]`` is the weight of class ``classes[i][j]`` of learnware
    ``i``; ``learnware_weights[i]`` is their sum (the learnware's share of the
    requirement). ``mmd2`` is the squared MMD left between the requirement and
    the weighted mixture, in the shared embedding.
    """

    learnware_weights: np.ndarray
    class_weights: list[np.ndarray]
    classes: list[list]
    mmd2: float
    solver: str
    seconds: float = 0.0
    candidates: list[int] = field(default_factory=list)


def _simplex_least_squares(R: np.ndarray, s: np.ndarray, solver: str) -> np.ndarray:
    """argmin ||R w - s||^2 over the probability simplex."""
    n = R.shape[1]
    if n == 1:
        return np.ones(1)
    if solver == "cvxpy":
        import cvxpy as cp

        w = cp.Variable(n)
        problem = cp.Problem(cp.Minimize(cp.sum_squares(R @ w - s)), [w >= 0, cp.sum(w) == 1])
        problem.solve(solver=cp.CLARABEL)
        if w.value is None:
            raise RuntimeError(f"cvxpy could not solve the mixture-weight QP: status {problem.status}")
        x = np.asarray(w.value)
    else:
        from qpsolvers import solve_ls

        x = solve_ls(R, s, A=np.ones((1, n)), b=np.ones(1), lb=np.zeros(n), solver=solver)
        if x is None:
            raise RuntimeError(f"qpsolvers ({solver}) could not solve the mixture-weight QP")
    x = np.clip(x, 0.0, None)
    return x / x.sum()


def embed_requirement_and_classes(user, specs, family: RandomEmbedding | None = None):
    """Mean embedding of the requirement and class-mean embeddings of every spec.

    ``user`` is a LANESpecification of the user's data or the raw data array;
    BatchNorm is calibrated on the user's points, so the one embedding serves
    every learnware.
    """
    if isinstance(user, LANESpecification):
        family = family or user.embedding_family()
        reference = user.get_z()
    else:
        reference = np.asarray(user, dtype=np.float32)
        if family is None:
            family = specs[0].embedding_family()
    arrays = [reference] + [s.get_z() for s in specs]
    embedded = family.embed(arrays, reference=reference)
    if isinstance(user, LANESpecification):
        u = user.class_weights @ user.class_mean_rows(embedded[0])
    else:
        u = embedded[0].mean(axis=0)
    return u, [spec.class_mean_rows(emb) for spec, emb in zip(specs, embedded[1:])]


def _check_inputs(user, learnware_specs):
    if not isinstance(user, LANESpecification):
        from .._checks import as_data_array

        user = as_data_array(user, "user data")
    specs = list(learnware_specs)
    if not specs:
        raise ValueError("learnware_specs is empty: there is nothing to weigh")
    for i, s in enumerate(specs):
        if not isinstance(s, LANESpecification):
            raise TypeError(f"learnware_specs[{i}] is a {type(s).__name__}, not a LANESpecification")
    shape = user.input_shape if isinstance(user, LANESpecification) else tuple(user.shape[1:])
    for i, s in enumerate(specs):
        if s.input_shape != shape and int(np.prod(s.input_shape)) != int(np.prod(shape)):
            raise ValueError(
                f"feature dimensions differ: learnware_specs[{i}] has samples of shape {s.input_shape}, "
                f"the requirement {shape}"
            )
    return user, specs


def mixture_weights(user, learnware_specs, *, solver: str = "clarabel", top_k: int | None = None,
                    family: RandomEmbedding | None = None) -> MixtureWeights:
    """Solve Eq. 9: weights over every class of every learnware that best explain ``user``.

    ``user`` is the user's LANESpecification (or their raw data). ``solver`` is
    a qpsolvers backend (``"clarabel"`` by default) or ``"cvxpy"``. With
    ``top_k``, only the ``top_k`` learnwares whose best class lies closest to
    the requirement enter the QP (the others get weight 0).
    """
    start = time.perf_counter()
    _check_solver(solver)
    user, specs = _check_inputs(user, learnware_specs)
    u, class_means = embed_requirement_and_classes(user, specs, family)
    result = _weights_from_embeddings(u, class_means, specs, solver, top_k)
    result.seconds = time.perf_counter() - start
    return result


def single_residuals(user, learnware_specs, *, solver: str = "clarabel",
                     family: RandomEmbedding | None = None) -> np.ndarray:
    """Squared MMD each learnware leaves when it alone explains ``user`` (lower is a better match).

    This is how the market ranks single learnwares; ``user`` is a
    LANESpecification of the user's data or the raw rows.
    """
    _check_solver(solver)
    user, specs = _check_inputs(user, learnware_specs)
    u, class_means = embed_requirement_and_classes(user, specs, family)
    return np.array(_single_residuals(u, class_means, solver))


def _check_solver(solver):
    if solver not in SOLVERS:
        from qpsolvers import available_solvers

        if solver not in available_solvers:
            raise ValueError(f"solver must be 'cvxpy' or a qpsolvers backend {sorted(available_solvers)}, "
                             f"got {solver!r}")


def _weights_from_embeddings(u, class_means, specs, solver, top_k) -> MixtureWeights:
    from .._checks import positive_int

    candidates = list(range(len(specs)))
    if top_k is not None and positive_int(top_k, "top_k") < len(specs):
        closest = [np.min(((m - u) ** 2).sum(axis=1)) for m in class_means]
        candidates = sorted(np.argsort(closest, kind="stable")[:top_k].tolist())

    M = np.concatenate([class_means[i] for i in candidates])
    scale = max(float(np.linalg.norm(u)), 1e-12)  # conditioning only: the argmin is unchanged
    w = _simplex_least_squares(M.T / scale, u / scale, solver)
    mmd2 = float(np.sum((M.T @ w - u) ** 2))

    class_weights = [np.zeros(len(s.classes)) for s in specs]
    offset = 0
    for i in candidates:
        k = len(specs[i].classes)
        class_weights[i] = w[offset: offset + k]
        offset += k
    return MixtureWeights(
        learnware_weights=np.array([cw.sum() for cw in class_weights]),
        class_weights=class_weights,
        classes=[list(s.classes) for s in specs],
        mmd2=mmd2,
        solver=solver,
        candidates=candidates,
    )


def _single_residuals(u, class_means, solver) -> list[float]:
    """Squared MMD left when each learnware alone explains the requirement (its classes weighted freely)."""
    scale = max(float(np.linalg.norm(u)), 1e-12)
    residuals = []
    for M in class_means:
        w = _simplex_least_squares(M.T / scale, u / scale, solver)
        residuals.append(float(np.sum((M.T @ w - u) ** 2)))
    return residuals

