"""The class Gaussians LANE draws mimic data from (Eq. 10): mean and Ledoit-Wolf shrunk covariance.

With 10 points per class in hundreds of dimensions the empirical covariance is
singular; Ledoit-Wolf shrinkage towards ``mu I`` makes it positive definite.
It is kept factored (``Sigma = L^T L + s I`` with ``L`` one row per point), so
drawing costs ``O(n (m + D))`` and never forms a ``D x D`` matrix.
:class:`ClassGaussians` gives a LANE specification its per-class points,
Gaussians and mimic samples (from its class mixtures when it carries them).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import positive_int, seed_int

#: Most values one ``sample_class`` call draws (2 GiB of float64): more is a mistaken count, not a sample.
MAX_SAMPLED_VALUES = 1 << 28


def shrunk_covariance_factors(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, low-rank factor ``L`` and isotropic variance ``s`` of ``points`` with ``Sigma = L^T L + s I``."""
    from sklearn.covariance import ledoit_wolf_shrinkage

    mean = points.mean(axis=0)
    centred = points - mean
    if len(points) < 2 or not np.any(centred):
        return mean, np.zeros((1, points.shape[1])), 0.0
    alpha = float(ledoit_wolf_shrinkage(points))
    mu = float((centred**2).sum() / len(points) / points.shape[1])  # trace(S) / D
    return mean, centred * np.sqrt((1.0 - alpha) / len(points)), alpha * mu


class ClassGaussians:
    """Per-class points, Gaussians and mimic samples of a LANE specification; needs ``z``, ``labels``,
    ``classes``, ``class_mixtures``, ``feature_range``, ``input_shape``, ``_class_index``, ``_rows_of``,
    ``_require_content`` and ``class_mean_rows``."""

    def class_samples(self, label) -> np.ndarray:
        """The synthetic samples of one class, flattened to ``(m, D)``."""
        self._class_index(label)
        return self.z[self._rows_of(label)].reshape(-1, int(np.prod(self.input_shape))).astype(np.float64)

    def class_means(self) -> np.ndarray:
        """``(K, D)`` flattened mean of each class's synthetic samples, in ``classes`` order."""
        self._require_content()
        return self.class_mean_rows(self.z.reshape(len(self.z), -1).astype(np.float64))

    def _shrunk_covariance_factors(self, label) -> tuple[np.ndarray, np.ndarray, float]:
        """Mean, low-rank factor L and isotropic variance s with Sigma = L^T L + s I.

        Sigma is the Ledoit-Wolf shrinkage of the class's empirical covariance,
        valid (positive definite) even with fewer points than dimensions.
        Computed once per class: mimic sampling calls this in loops.
        """
        self._class_index(label)  # an unknown label (or an unhashable one, [0]) named before the cache reads it
        cache = self.__dict__.setdefault("_factor_cache", {})
        if label not in cache:
            cache[label] = self._compute_covariance_factors(label)  # raises for an unknown label
        return cache[label]

    def _compute_covariance_factors(self, label):
        return shrunk_covariance_factors(self.class_samples(label))

    def class_covariance(self, label) -> np.ndarray:
        """``(D, D)`` Ledoit-Wolf shrunk covariance of one class's synthetic samples."""
        _, factor, iso = self._shrunk_covariance_factors(label)
        return factor.T @ factor + iso * np.eye(factor.shape[1])

    def sample_class(self, label, n: int, random_state=0) -> np.ndarray:
        """Draw ``n`` mimic samples of one class (Eq. 10).

        From the class's mixture of the developer's rows when the spec carries
        one (:mod:`.class_mixtures`), else from N(mean, shrunk covariance) of its
        condensed points, as the paper does. Samples are clipped to the developer
        data's value range and shaped like it. ``random_state`` is a seed (0 by
        default, like every seed of this API, so that the same call gives the
        same samples) or a ``numpy.random.Generator`` to draw from.
        """
        n = positive_int(n, "n", minimum=0, maximum=MAX_SAMPLED_VALUES // max(1, math.prod(self.input_shape)))
        if not isinstance(random_state, np.random.Generator):
            random_state = seed_int(random_state, "random_state")
        rng = np.random.default_rng(random_state)
        if self.class_mixtures is not None:
            draws = self.class_mixtures[self._class_index(label)].sample(n, rng)
        else:
            mean, factor, iso = self._shrunk_covariance_factors(label)
            draws = mean + rng.standard_normal((n, factor.shape[0])) @ factor
            if iso > 0:
                draws += np.sqrt(iso) * rng.standard_normal((n, factor.shape[1]))
        draws = np.clip(draws, *self.feature_range)
        return draws.reshape((n,) + self.input_shape)

