"""Search stage at market scale: every class-mean embedding in one matrix, searched in two stages.

With a fixed embedding family each learnware's class-mean embeddings are
computed once (when it is added) and a search only reads them: the ``(R, D)``
float32 matrix ``M`` of all ``R`` classes of all learnwares. A search then costs
two passes over ``M`` (``c = M u`` and one optimality check), whatever the number
of learnwares, and never forms an ``R x R`` matrix:

1. **Candidates.** For every learnware, the residual of the requirement ``u``
   against the affine hull of its class means (a closed-form, batched ``K x K``
   solve from the stored Gram matrices) is a lower bound on its simplex residual
   (Eq. 9 with that learnware alone) and equals it when the affine weights are
   non-negative. Single learnwares are ranked exactly by evaluating the simplex
   QP in lower-bound order until the next bound cannot enter the top ``k``
   (branch and bound).
2. **Mixture.** The exact simplex QP (Eq. 9) over a hundred-odd candidate
   classes (those of the best learnwares and the classes closest to ``u``),
   then column generation: the KKT conditions are checked for *every* class with
   one pass ``M v`` and the most violating classes join the candidates. When a
   check finds no violation the answer is the exact optimum of the full QP
   (``exact``); ``max_rounds`` bounds the passes (the market searcher uses 2).
   With no more than ``max_classes`` classes in the market the QP is solved over
   all of them at once, as before.

Measured facts that shaped this (``python -m k2v_learnware.bench scale``): the
optimum over 10,000 classes is degenerate (its support holds 35-65 classes of
20-40 learnwares, some ranked near the bottom by every cheap score, and most
classes sit within 0.1% of ``|u|^2`` of the KKT level), so no screening bound
removes the checking passes; a pass costs ~55 ms at 10,000 x 10 x 2048.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..specification.networks import means_of_rows
from .simplex_qp import DEFAULT_SOLVER, simplex_qp

#: Most classes the exact mixture QP is solved over at once (its Gram matrix is this squared); a market
#: with no more classes than this is solved over all of them in one QP.
MAX_CANDIDATE_CLASSES = 300
#: Classes the first candidate QP starts from (a mixture's support is a few classes of a few learnwares),
#: how many a column-generation round may add, and how many rounds are tried.
INITIAL_CLASSES = 128
ADDED_PER_ROUND = 256
MAX_ROUNDS = 8
#: Relative tolerance (of |u|^2) on the KKT conditions and on bounds (the matrix is float32).
TOLERANCE = 1e-5
_CHUNK = 128  # learnwares per batched Gram / solve step
_SPECS_PER_BATCH = 32  # specs embedded in one pass of the networks when an index computes their means


@dataclass
class StageOne:
    """What a requirement ``u`` costs once: ``c = M u`` and every learnware's affine lower bound."""

    u: np.ndarray
    uu: float
    c: np.ndarray
    bound: np.ndarray
    exact: np.ndarray


@dataclass
class MixtureSolution:
    """Weights of the rows ``rows`` of the index (all others 0), the squared MMD left, and whether it is proven
    exact."""

    rows: np.ndarray
    weights: np.ndarray
    mmd2: float
    exact: bool
    rounds: int


class ClassMeanIndex:
    """The class-mean embeddings of a list of learnwares, one block of rows each, searched in two stages.

    ``blocks[i]`` is learnware ``i``'s ``(K_i, D)`` class means; they are
    copied into one float32 matrix (use :meth:`block` for views into it).
    """

    def __init__(self, matrix: np.ndarray, sizes):
        sizes = np.asarray(sizes, dtype=np.int64)
        if not len(sizes):
            raise ValueError("an index needs at least one learnware")
        if matrix.dtype != np.float32 or matrix.ndim != 2 or len(matrix) != int(sizes.sum()):
            raise ValueError(f"the index matrix must be float32 with {int(sizes.sum())} rows, got "
                             f"{matrix.dtype} {matrix.shape}")
        self.matrix = matrix
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.owner = np.repeat(np.arange(len(sizes)), sizes)
        self.sq_norms = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)
        self._groups = self._gram_groups(sizes)

    @classmethod
    def from_blocks(cls, blocks) -> "ClassMeanIndex":
        """An index of ``blocks[i]``, learnware ``i``'s ``(K_i, D)`` class means (copied into one matrix)."""
        blocks = [np.asarray(b) for b in blocks]
        if not blocks:
            raise ValueError("an index needs at least one learnware")
        dim = blocks[0].shape[1] if blocks[0].ndim == 2 else -1
        for i, block in enumerate(blocks):
            if block.ndim != 2 or block.shape[1] != dim:
                raise ValueError(f"learnware {i}'s class means have shape {block.shape}, expected (K, {dim})")
        return cls(np.concatenate(blocks).astype(np.float32, copy=False), [len(b) for b in blocks])

    @classmethod
    def from_specs(cls, specs, family, keep: bool = True) -> "ClassMeanIndex":
        """An index of LANE specs' class means under a fixed ``family`` (missing ones computed in batches of specs).

        With ``keep``, each spec's class means become a view into the index's
        matrix, so the market holds every mean embedding once, not twice; means a
        market reads from its files on demand are read straight into the matrix.
        Without it the specs keep nothing of this family (a one-off index for a
        family the market stores nothing in).
        """
        sizes = [len(s.classes) for s in specs]
        matrix = np.empty((sum(sizes), family.out_features), dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        missing = [i for i, spec in enumerate(specs) if not spec.has_class_mean_embeddings(family.key)]
        for start in range(0, len(missing), _SPECS_PER_BATCH):  # one pass of the networks per batch of specs
            batch = [specs[i] for i in missing[start: start + _SPECS_PER_BATCH]]
            embedded = family.embed_fixed(np.concatenate([s._family_input(family) for s in batch]))
            first = 0
            for i, spec in zip(missing[start: start + _SPECS_PER_BATCH], batch):
                rows = embedded[first: first + len(spec.z)]
                first += len(spec.z)
                class_rows = [spec._rows_of(c) for c in spec.classes]
                matrix[offsets[i]: offsets[i + 1]] = means_of_rows(rows, class_rows)
        done = set(missing)
        for i, spec in enumerate(specs):
            if i not in done:
                matrix[offsets[i]: offsets[i + 1]] = spec.class_mean_embeddings(family)
            if keep and not spec.class_means_read_on_demand(family.key):
                spec.set_class_mean_embeddings(family.key, matrix[offsets[i]: offsets[i + 1]])
        return cls(matrix, sizes)

    @property
    def num_learnwares(self) -> int:
        return len(self.offsets) - 1

    def block(self, i: int) -> np.ndarray:
        """Learnware ``i``'s rows (a view)."""
        return self.matrix[self.offsets[i]: self.offsets[i + 1]]

    def _gram_groups(self, sizes):
        """Learnwares grouped by class count, with their ``K x K`` Gram matrices (float64)."""
        groups = {}
        for k in np.unique(sizes):
            members = np.flatnonzero(sizes == k)
            rows = self.offsets[members][:, None] + np.arange(k)
            grams = np.empty((len(members), k, k))
            for s in range(0, len(members), _CHUNK):
                blocks = self.matrix[rows[s: s + _CHUNK]].astype(np.float64)
                grams[s: s + _CHUNK] = blocks @ blocks.transpose(0, 2, 1)
            groups[int(k)] = (members, rows, grams)
        return groups

    # ----------------------------------------------------------- stage 1
    def projections(self, u: np.ndarray) -> np.ndarray:
        """``c = M u`` (float64): one pass over the matrix."""
        return (self.matrix @ np.asarray(u, dtype=np.float32)).astype(np.float64)

    def affine_residuals(self, c: np.ndarray, uu: float) -> tuple[np.ndarray, np.ndarray]:
        """Per learnware: the residual against the affine hull of its class means, and whether it is exact.

        The affine residual (weights summing to 1, of any sign) never exceeds
        the simplex residual, and equals it when the weights are non-negative.
        """
        bound = np.empty(self.num_learnwares)
        exact = np.zeros(self.num_learnwares, dtype=bool)
        for k, (members, rows, grams) in self._groups.items():
            ck = c[rows]
            if k == 1:
                bound[members] = uu - 2 * ck[:, 0] + grams[:, 0, 0]
                exact[members] = True
                continue
            ridge = 1e-10 * np.trace(grams, axis1=1, axis2=2)[:, None, None] * np.eye(k) + 1e-300
            rhs = np.stack([ck, np.ones_like(ck)], axis=2)
            sol = np.linalg.solve(grams + ridge, rhs)
            a, b = sol[..., 0], sol[..., 1]
            mu = (a.sum(1) - 1.0) / np.where(np.abs(b.sum(1)) > 1e-300, b.sum(1), 1e-300)
            w = a - mu[:, None] * b
            quad = np.einsum("ni,nij,nj->n", w, grams, w)
            bound[members] = np.maximum(uu - 2 * np.einsum("ni,ni->n", ck, w) + quad, 0.0)
            exact[members] = (w >= -1e-9).all(axis=1)
        return bound, exact

    def stage_one(self, u) -> StageOne:
        """One pass over the matrix and one batched ``K x K`` solve: what both stages start from."""
        if isinstance(u, StageOne):
            return u
        u = np.asarray(u, dtype=np.float64)
        uu = max(float(u @ u), 1e-300)
        c = self.projections(u)
        return StageOne(u, uu, c, *self.affine_residuals(c, uu))

    def single_residual(self, i: int, c: np.ndarray, uu: float, solver: str = DEFAULT_SOLVER) -> float:
        """The exact simplex residual of learnware ``i`` alone (a ``K``-variable QP)."""
        block = self.block(i).astype(np.float64)
        ci = c[self.offsets[i]: self.offsets[i + 1]]
        gram = block @ block.T
        w = simplex_qp(gram, ci, uu, solver)
        return max(float(uu - 2 * ci @ w + w @ gram @ w), 0.0)

    def rank_single(self, u, k: int, solver: str = DEFAULT_SOLVER):
        """The ``k`` learnwares that best explain ``u`` alone, best first, with their exact residuals.

        ``u`` is the requirement's mean embedding or its :meth:`stage_one`.
        Branch and bound over the affine lower bounds: a QP is solved only for
        learnwares whose bound could still enter the top ``k``.
        """
        q = self.stage_one(u)
        slack = TOLERANCE * q.uu
        best: dict[int, float] = {}
        kth = np.inf
        for i in np.argsort(q.bound, kind="stable"):
            if len(best) >= k and q.bound[i] - slack > kth:
                break
            best[int(i)] = float(q.bound[i]) if q.exact[i] else self.single_residual(int(i), q.c, q.uu, solver)
            if len(best) >= k:
                kth = sorted(best.values())[k - 1]
        order = sorted(best, key=lambda i: (best[i], i))[:k]
        return np.array(order, dtype=np.int64), np.array([best[i] for i in order])

    def all_single_residuals(self, u, solver: str = DEFAULT_SOLVER) -> np.ndarray:
        """Every learnware's exact simplex residual (small markets and the public API)."""
        q = self.stage_one(u)
        return np.array([q.bound[i] if q.exact[i] else self.single_residual(i, q.c, q.uu, solver)
                         for i in range(self.num_learnwares)])

    # ----------------------------------------------------------- stage 2
    def mixture(self, u, solver: str = DEFAULT_SOLVER, max_classes: int = MAX_CANDIDATE_CLASSES,
                learnwares=None, max_rounds: int = MAX_ROUNDS) -> MixtureSolution:
        """Eq. 9 over every class (or over the classes of ``learnwares`` only), by column generation.

        ``u`` is the requirement's mean embedding or its :meth:`stage_one`.
        Each round but the last solves the QP over the candidates and checks
        the optimality conditions of every class (one pass over the matrix);
        the answer is ``exact`` once a check finds no violation. With
        ``max_rounds=1`` it is the QP over the first candidates alone.
        """
        max_rounds = int(max_rounds)
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
        q = self.stage_one(u)
        c, uu = q.c, q.uu
        allowed = (np.arange(len(self.matrix)) if learnwares is None else
                   np.sort(np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in learnwares])))
        if len(allowed) <= max_classes:
            w = self._solve_on(allowed, c, uu, solver)
            return MixtureSolution(allowed, w, self._mmd2(allowed, w, c, uu), True, 1)

        candidates = self._first_candidates(allowed, q, min(INITIAL_CLASSES, max_classes))
        tol = TOLERANCE * uu
        for round_ in range(1, max_rounds + 1):
            w = self._solve_on(candidates, c, uu, solver)
            if round_ == max_rounds:
                break  # the answer over the candidates, without the proof of optimality a check would give
            v = self.matrix[candidates].astype(np.float64).T @ w
            support = w > 1e-9 * w.max()
            g_support = self.matrix[candidates[support]].astype(np.float64) @ v - c[candidates[support]]
            level = float(w[support] @ g_support) / float(w[support].sum())
            # KKT: every class's gradient g_j = m_j.v - c_j must reach the support's level (one pass).
            g = (self.matrix[allowed] if learnwares is not None else self.matrix) @ v.astype(np.float32)
            g = g.astype(np.float64) - c[allowed]
            outside = np.setdiff1d(np.flatnonzero(g < level - tol), np.searchsorted(allowed, candidates))
            if not len(outside):
                return MixtureSolution(candidates, w, self._mmd2(candidates, w, c, uu), True, round_)
            added = allowed[outside[np.argsort(g[outside], kind="stable")[:ADDED_PER_ROUND]]]
            keep = candidates[support]
            rest = candidates[~support][: max(0, max_classes - len(keep) - len(added))]
            candidates = np.unique(np.concatenate([keep, rest, added]))
        return MixtureSolution(candidates, w, self._mmd2(candidates, w, c, uu), False, max_rounds)

    def _first_candidates(self, allowed, q: StageOne, budget: int):
        """Half the budget: the classes of the learnwares with the lowest bounds; the rest: the classes closest to u."""
        owners = np.unique(self.owner[allowed])
        chosen: list[np.ndarray] = []
        left = budget // 2
        for i in owners[np.argsort(q.bound[owners], kind="stable")]:
            rows = np.arange(self.offsets[i], self.offsets[i + 1])
            if left < len(rows):
                break
            chosen.append(rows)
            left -= len(rows)
        taken = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        alone = self.sq_norms[allowed] - 2 * q.c[allowed]  # |m_j - u|^2 - |u|^2: the class alone
        near = allowed[np.argpartition(alone, min(budget, len(alone) - 1))[:budget]]
        near = near[np.argsort(alone[np.searchsorted(allowed, near)], kind="stable")]
        near = near[~np.isin(near, taken)][: budget - len(taken)]
        return np.unique(np.concatenate([taken, near]))

    def _solve_on(self, rows, c, uu, solver):
        block = self.matrix[rows].astype(np.float64)
        return simplex_qp(block @ block.T, c[rows], uu, solver)

    def _mmd2(self, rows, w, c, uu) -> float:
        v = self.matrix[rows].astype(np.float64).T @ w
        return max(float(uu - 2 * c[rows] @ w + v @ v), 0.0)

    def learnware_weights(self, solution: MixtureSolution) -> np.ndarray:
        """Each learnware's share of the mixture (the sum of its classes' weights)."""
        return np.bincount(self.owner[solution.rows], weights=solution.weights, minlength=self.num_learnwares)
