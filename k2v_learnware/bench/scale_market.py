"""The synthetic markets of the scale benchmark: N learnwares over Fashion-MNIST's real class structure.

Every learnware covers the 10 Fashion-MNIST classes (pooled to 14x14: 196-d) in
a *domain* of its own: its images are shifted by a fixed random offset
``delta_g`` of norm ``DOMAIN_SHIFT`` (random directions in 196-d are nearly
orthogonal, so every domain differs from every other). A learnware's
specifications hold 10 real training images per class, shifted: LANE points
(the market's fixed family) and an RKME table spec of the very same points
(``reduce=False``, uniform weights), so both searchers see the same
information. A user's data mixes 2-3 planted learnwares' domains: test images
(never in any spec) of a few of their classes, shifted by their offsets; the
planted learnwares are the right answer.

Everything is drawn from ``seed``, so each worker process rebuilds the same
market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = 10
POINTS_PER_CLASS = 10
DOMAIN_SHIFT = 2.0
USER_ROWS = 200


@dataclass
class PlantedUser:
    """A user's rows and the learnwares (indices) and shares their data was drawn from."""

    rows: np.ndarray
    planted: list[int]
    shares: list[float]


def fashion_pools(per_class: int, seed: int):
    """Pooled 196-d Fashion-MNIST train and test images, ``per_class`` of each class from each split."""
    from .. import datasets

    pools = []
    for split in ("train", "test"):
        X, y = datasets.load_fashion_mnist(split)
        X, y = datasets.stratified_subset(X, y, per_class, seed)
        X = datasets.pool_images(X).reshape(len(X), -1).astype(np.float32)
        pools.append([X[y == k] for k in range(CLASSES)])
    return pools


class SyntheticMarket:
    """Offsets and spec points of ``n`` learnwares, made on demand (a market of 10,000 is built lazily)."""

    def __init__(self, n: int, seed: int = 0, per_class_pool: int = 1000):
        self.n, self.seed = int(n), int(seed)
        self.train, self.test = fashion_pools(per_class_pool, seed)
        rng = np.random.default_rng(seed)
        directions = rng.standard_normal((self.n, self.train[0].shape[1])).astype(np.float32)
        self.offsets = DOMAIN_SHIFT * directions / np.linalg.norm(directions, axis=1, keepdims=True)

    def points(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Learnware ``g``'s spec points ``(CLASSES * POINTS_PER_CLASS, 196)`` and their labels."""
        rng = np.random.default_rng([self.seed, g])
        z = np.concatenate([pool[rng.choice(len(pool), POINTS_PER_CLASS, replace=False)] for pool in self.train])
        return z + self.offsets[g], np.repeat(np.arange(CLASSES), POINTS_PER_CLASS)

    def user(self, q: int) -> PlantedUser:
        """Query ``q``: 2 or 3 planted learnwares, shares drawn from a Dirichlet (each at least 0.15)."""
        rng = np.random.default_rng([self.seed, 10**6 + q])
        count = 2 + q % 2
        planted = sorted(rng.choice(self.n, size=count, replace=False).tolist())
        shares = 0.15 + (1 - 0.15 * count) * rng.dirichlet(np.ones(count))
        rows = []
        for g, share in zip(planted, shares):
            classes = rng.choice(CLASSES, size=3, replace=False)
            k = rng.choice(classes, size=int(round(share * USER_ROWS)))
            rows += [self.test[c][rng.integers(len(self.test[c]))] + self.offsets[g] for c in k]
        return PlantedUser(np.stack(rows).astype(np.float32), planted, shares.tolist())


def lane_spec_of_points(z: np.ndarray, labels) -> "LANESpecification":  # noqa: F821
    """A LANE spec whose points are given (no condensation), in the market's fixed family for their shape."""
    from ..specification.lane import DEFAULT_NUM_NETS, FAMILY_SEED, LANESpecification
    from ..specification.networks import EmbeddingConfig

    labels = list(labels)
    classes = list(dict.fromkeys(labels))
    spec = LANESpecification()
    spec.z = np.ascontiguousarray(z, dtype=np.float32)
    spec.labels, spec.classes = labels, classes
    spec.class_counts = [labels.count(c) for c in classes]
    spec.embedding = {**EmbeddingConfig.default_for(z.shape[1:]).to_dict(), "seed": FAMILY_SEED,
                      "num_nets": DEFAULT_NUM_NETS}
    spec.condensation = {"num_per_class": 0, "iterations": 0, "batch_real": 1, "lr": 1.0, "optimizer": "adam",
                         "init": "real", "seed": 0}
    spec.feature_range = [float(z.min()), float(z.max())]
    return spec


def rkme_spec_of_points(z: np.ndarray):
    """An RKME table spec of exactly these points with uniform weights (the package's ``reduce=False``)."""
    from learnware.specification import RKMETableSpecification

    spec = RKMETableSpecification()
    spec.generate_stat_spec_from_data(np.asarray(z, dtype=np.float64), reduce=False)
    return spec


def in_memory_learnware(learnware_id: str, stat_specs: dict):
    """A ``learnware.Learnware`` holding only specifications (the searchers read nothing else)."""
    from learnware.learnware import Learnware
    from learnware.specification import Specification

    return Learnware(learnware_id, None, Specification(stat_spec=stat_specs), "")
