"""The class Gaussians LANE draws mimic data from (Eq. 10): mean and Ledoit-Wolf shrunk covariance.

With 10 points per class in hundreds of dimensions the empirical covariance is
singular; Ledoit-Wolf shrinkage towards ``mu I`` makes it positive definite.
It is kept factored (``Sigma = L^T L + s I`` with ``L`` one row per point), so
drawing costs ``O(n (m + D))`` and never forms a ``D x D`` matrix.
"""

from __future__ import annotations

import numpy as np


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
