"""Transferability scores people use today to rank models for a labelled task (baselines).

- :func:`leep` (Nguyen et al. 2020): log expected empirical prediction, from the
  source model's class probabilities on the target data. Needs forward passes.
- :func:`neuralrank_silhouette` (Desai et al. 2019, neuralRank): silhouette of the
  target labels in the model's feature (or output) space after PCA. Needs features.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_labels


def leep(source_probs, target_labels) -> float:
    """LEEP score: mean over samples of log sum_z P(y | z) theta(x)_z; higher is better.

    ``source_probs`` is ``(n, Z)``, each row the source model's distribution over
    its own classes; ``target_labels`` the ``n`` target labels.
    """
    theta = np.asarray(source_probs, dtype=np.float64)
    if theta.ndim != 2 or len(theta) == 0:
        raise ValueError(f"source_probs must be a non-empty (n, Z) array, got shape {theta.shape}")
    if not np.all(np.isfinite(theta)) or np.any(theta < 0):
        raise ValueError("source_probs must be finite and non-negative")
    labels = np.array(as_labels(target_labels, len(theta), "target_labels"), dtype=object)
    classes = list(dict.fromkeys(labels.tolist()))
    index = np.array([classes.index(v) for v in labels])
    theta = theta / theta.sum(axis=1, keepdims=True)
    joint = np.zeros((len(classes), theta.shape[1]))  # empirical P(y, z)
    np.add.at(joint, index, theta)
    joint /= len(theta)
    conditional = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300)  # P(y | z)
    expected = (theta * conditional[index]).sum(axis=1)
    return float(np.mean(np.log(np.maximum(expected, 1e-300))))


def neuralrank_silhouette(features, target_labels, n_components: float | int = 0.95, random_state: int = 0) -> float:
    """Silhouette coefficient of the target labels in PCA-reduced features; higher is better."""
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2 or len(F) < 3:
        raise ValueError(f"features must be an (n, d) array with n >= 3, got shape {F.shape}")
    if not np.all(np.isfinite(F)):
        raise ValueError("features contain NaN or infinite values")
    labels = as_labels(target_labels, len(F), "target_labels")
    if len(set(labels)) < 2:
        raise ValueError("a silhouette needs at least 2 target classes")
    if F.shape[1] > 1 and np.any(F.std(axis=0) > 0):
        F = PCA(n_components=n_components, random_state=random_state).fit_transform(F)
    return float(silhouette_score(F, np.array([str(v) for v in labels])))
