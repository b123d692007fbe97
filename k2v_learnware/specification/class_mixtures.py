"""Per-class Gaussian mixtures of the developer's rows: where mimic data come from (beyond the paper).

LANE's Eq. 10 draws mimic data from one Gaussian per class fitted to that
class's ~10 condensed points; with so few points in hundreds of dimensions the
Ledoit-Wolf estimate is mostly its isotropic shrinkage target, and a selector
trained on those samples misroutes rows (issue 15). A specification built now
also carries, per class, a small mixture fitted to *all* of the developer's rows
of that class: k-means into a few components, each kept as its share, its
mean, a few principal axes (scaled by their standard deviations) and the
variance left over, spread evenly over the features. These are aggregates
(the statistics an RKME or a class-conditional Gaussian also reveals); a
component must cover at least :data:`MIN_COMPONENT_ROWS` rows (clusters k-means
leaves smaller, an outlier's, are merged into their nearest), so none describes a
handful of people; a spec with a class of fewer rows carries no mixtures at all. Measured on the reuse benchmark
(``benchmarks/lane_label_shift.py``): weight L1 0.058 on Fashion-MNIST against
0.107 with the condensed points' Gaussians.

Each component's covariance is ``A^T A + s I`` (``A`` the scaled axes), so
drawing costs ``O(n (r + D))`` and no ``D x D`` matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import SpecificationFormatError, finite_float32

DEFAULT_COMPONENTS = 4
DEFAULT_RANK = 5
#: No component stands for fewer rows than this (smaller k-means clusters are merged; a class of fewer rows
#: gets no mixture, and then neither does any class of its spec: a file holds one per class or none).
MIN_COMPONENT_ROWS = 20
MAX_COMPONENTS = 64
MAX_RANK = 64


@dataclass(frozen=True)
class ClassMixture:
    """A Gaussian mixture of one class: ``weights (K,)``, ``means (K, D)``, ``axes (K, r, D)``, ``residual (K,)``."""

    weights: np.ndarray
    means: np.ndarray
    axes: np.ndarray
    residual: np.ndarray

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, D)`` draws: a component by its share, then its Gaussian."""
        component = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        k, rank, dim = self.axes.shape
        out = self.means[component] + np.einsum("nr,nrd->nd", rng.standard_normal((n, rank)), self.axes[component])
        out += np.sqrt(self.residual[component])[:, None] * rng.standard_normal((n, dim))
        return out

    def to_dict(self) -> dict:
        def rounded(a):
            return [float(f"{v:.9g}") for v in np.asarray(a).reshape(-1)]

        return {"weights": rounded(self.weights), "means": [rounded(m) for m in self.means],
                "axes": [[rounded(a) for a in comp] for comp in self.axes], "residual": rounded(self.residual)}

    @classmethod
    def from_dict(cls, data: dict, dim: int, where: str) -> "ClassMixture":
        """Read a mixture written by :meth:`to_dict` (schema-checked); every inconsistency is a format error."""
        try:
            weights, means, axes, residual = (finite_float32(data[key]) for key in ("weights", "means", "axes",
                                                                                     "residual"))
        except ValueError as err:  # rows of different lengths
            raise SpecificationFormatError(f"{where}: inconsistent class mixture: ragged arrays ({err})") from None
        if any(a is None for a in (weights, means, axes, residual)):
            raise SpecificationFormatError(f"{where}: a class mixture holds values beyond the float32 range")
        k = len(weights)
        problems = []
        if means.shape != (k, dim):
            problems.append(f"means must be {k} rows of {dim} values")
        if axes.ndim != 3 or axes.shape[0] != k or axes.shape[2] != dim:
            problems.append(f"axes must be {k} lists of rows of {dim} values")
        if residual.shape != (k,):
            problems.append(f"residual must hold {k} values")
        if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > 1e-4:
            problems.append("weights must be non-negative and sum to 1")
        if np.any(residual < 0):
            problems.append("residual variances must be non-negative")
        if problems:
            raise SpecificationFormatError(f"{where}: inconsistent class mixture: " + "; ".join(problems))
        return cls(*(a.astype(np.float64) for a in (weights, means, axes, residual)))


def _merge_small_clusters(rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cluster labels ``0..k'-1`` in which every cluster holds at least :data:`MIN_COMPONENT_ROWS` rows.

    k-means bounds no cluster's size: an outlier row becomes a cluster of its own, whose mean would be
    that row verbatim. The smallest cluster under the minimum is merged into the cluster whose mean is
    nearest to its own, until none is under it (the caller gives at least the minimum rows in all).
    """
    labels = labels.copy()
    while True:
        ids, sizes = np.unique(labels, return_counts=True)
        if len(ids) == 1 or sizes.min() >= MIN_COMPONENT_ROWS:
            return np.unique(labels, return_inverse=True)[1].reshape(-1)
        small = ids[np.argmin(sizes)]
        others = ids[ids != small]
        centres = np.stack([rows[labels == j].mean(axis=0) for j in others])
        gaps = ((centres - rows[labels == small].mean(axis=0)) ** 2).sum(axis=1)
        labels[labels == small] = others[np.argmin(gaps)]


def fit_class_mixture(rows: np.ndarray, components: int = DEFAULT_COMPONENTS, rank: int = DEFAULT_RANK,
                      seed: int = 0) -> ClassMixture:
    """The mixture of one class's ``(n, D)`` rows: at most ``components`` components, each of at least
    :data:`MIN_COMPONENT_ROWS` rows (so ``n`` must be at least that: a mixture of fewer rows would
    describe those few rows, a one-row class its row verbatim)."""
    from sklearn.cluster import KMeans

    rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    n, dim = rows.shape
    if n < MIN_COMPONENT_ROWS:
        raise ValueError(f"a class mixture needs at least MIN_COMPONENT_ROWS={MIN_COMPONENT_ROWS} rows, got {n}")
    k = max(1, min(int(components), n // MIN_COMPONENT_ROWS))
    labels = np.zeros(n, dtype=int) if k == 1 else KMeans(k, n_init=3, random_state=seed).fit(rows).labels_
    labels = _merge_small_clusters(rows, labels)
    k = int(labels.max()) + 1
    rank = max(1, min(int(rank), dim))
    weights, means, axes, residual = [], [], [], []
    for j in range(k):
        part = rows[labels == j]
        mean = part.mean(axis=0)
        _, singular, vt = np.linalg.svd(part - mean, full_matrices=False)
        variances = singular**2 / len(part)
        kept = min(rank, len(variances))
        scaled = np.zeros((rank, dim))
        scaled[:kept] = np.sqrt(variances[:kept])[:, None] * vt[:kept]
        weights.append(len(part) / n)
        means.append(mean)
        axes.append(scaled)
        residual.append(float(variances[kept:].sum()) / dim)
    # float32 values, as a file keeps them: a spec saved and loaded again is the same spec
    return ClassMixture(*(np.asarray(a, dtype=np.float32).astype(np.float64)
                          for a in (weights, np.stack(means), np.stack(axes), residual)))


def read_class_mixtures(data, num_classes: int, dim: int, where: str) -> list[ClassMixture] | None:
    """The ``class_mixtures`` field of a LANE file (``None`` when absent): one mixture per class."""
    if data is None:
        return None
    if len(data) != num_classes:
        raise SpecificationFormatError(f"{where}: {len(data)} class mixtures for {num_classes} classes")
    return [ClassMixture.from_dict(item, dim, f"{where} (class mixture {i})") for i, item in enumerate(data)]
