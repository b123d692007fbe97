"""The one QP every search stage solves: least squares over the probability simplex, in Gram form.

    min_w  w^T G w - 2 c^T w   s.t.  w >= 0,  sum(w) = 1

(LANE Eq. 9 with ``G = M M^T`` and ``c = M u`` over a set of class means ``M``.)
Solved by a qpsolvers backend or cvxpy; never by hand.
"""

from __future__ import annotations

import numpy as np

#: The default backend: DAQP, a dual active-set solver for small dense QPs (exact active set; on
#: 300 dense variables 10x faster than Clarabel's interior point). Any qpsolvers backend or cvxpy may be named.
DEFAULT_SOLVER = "daqp"
#: Tried when the named backend finds no solution: Clarabel's interior point copes with degenerate QPs.
FALLBACK_SOLVER = "clarabel"


def simplex_qp(gram: np.ndarray, c: np.ndarray, uu: float, solver: str = DEFAULT_SOLVER) -> np.ndarray:
    """argmin_w  w^T G w - 2 c^T w  over the probability simplex (Eq. 9 in Gram form), via qpsolvers.

    The problem is divided by ``max(uu, trace(G) / n)`` (``uu`` is |u|^2) for
    the solver's tolerances only (the optimum does not move): by |u|^2 alone a
    requirement near 0 made the Hessian huge (u = 0: both solvers failed; rows
    scaled by 1e-6: DAQP returned a wrong optimum). With ``G = 0`` (every class
    mean 0, so ``c = 0`` too) every weighting is optimal: the uniform one is
    returned. A ridge of 1e-10 of the mean diagonal makes the Hessian positive
    definite (what dense active-set solvers need) and picks one optimum among
    equal ones (duplicate classes); it moves the objective by less than that.
    """
    n = len(c)
    if n == 1:
        return np.ones(1)
    scale = max(float(uu), float(np.trace(gram)) / n)
    if not scale > 1e-300:
        return np.full(n, 1.0 / n)
    if solver == "cvxpy":
        import cvxpy as cp

        # G = L L^T with an eigen-factor, so cvxpy sees a sum of squares (no PSD check on round-off).
        vals, vecs = np.linalg.eigh(gram / scale)
        factor = vecs * np.sqrt(np.clip(vals, 0.0, None))
        w = cp.Variable(n)
        objective = cp.sum_squares(factor.T @ w) - 2 * (c / scale) @ w
        problem = cp.Problem(cp.Minimize(objective), [w >= 0, cp.sum(w) == 1])
        problem.solve(solver=cp.CLARABEL)
        if w.value is None:
            raise RuntimeError(f"cvxpy could not solve the mixture-weight QP: status {problem.status}")
        x = np.asarray(w.value)
    else:
        P = (gram + gram.T) / scale
        P[np.diag_indices(n)] += 1e-10 * max(float(np.trace(P)) / n, 1e-300)
        x = _solve(P, -2.0 * c / scale, solver)
        if x is None and solver != FALLBACK_SOLVER:
            # An active-set solver can stall on a degenerate QP (many identical class means: learnwares
            # trained on the same rows); the interior-point fallback does not.
            x = _solve(P, -2.0 * c / scale, FALLBACK_SOLVER)
        if x is None:
            raise RuntimeError(f"qpsolvers ({solver}, then {FALLBACK_SOLVER}) could not solve the mixture-weight QP")
    x = np.clip(x, 0.0, None)
    return x / x.sum()


def _solve(P, q, solver):
    """One qpsolvers call over the simplex; None when the backend finds no solution."""
    from qpsolvers import solve_qp, sparse_solvers
    from scipy import sparse

    n = len(q)
    A = np.ones((1, n))
    if solver in sparse_solvers:  # what clarabel takes without a conversion (and its warning)
        P, A = sparse.csc_matrix(P), sparse.csc_matrix(A)
    return solve_qp(P, q, A=A, b=np.ones(1), lb=np.zeros(n), solver=solver)
