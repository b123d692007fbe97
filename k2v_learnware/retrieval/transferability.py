"""Transferability scores people use today to rank models for a labelled task (baselines).

Every score is "higher is better": a model whose score is higher on the target
data is predicted to transfer better to the target task.

- :func:`leep` (Nguyen et al. 2020): log expected empirical prediction, from the
  source model's class probabilities on the target data. Needs forward passes.
- :func:`nce` (Tran et al. 2019): negative conditional entropy -H(Y|Z) of the
  target labels given the source model's hard predictions. Needs forward passes
  (argmax labels only).
- :func:`logme` (You et al. 2021): per-sample log maximum evidence of a Bayesian
  linear model from the features to the one-hot target labels. Needs features.
- :func:`h_score` (Bao et al. 2019): tr(cov(f)^+ cov(E[f|y])), how much of the
  feature covariance the class means explain. Needs features.
- :func:`nleep` (Li et al. 2021): LEEP on the posteriors of a Gaussian mixture
  fitted to PCA-reduced features. Needs features.
- :func:`neuralrank_silhouette` (Desai et al. 2019, neuralRank): silhouette of the
  target labels in the model's feature (or output) space after PCA to 10
  dimensions, cosine distances and separation to the nearest class centroid, as
  the paper defines it. Needs features.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_data_array, as_labels, positive_float, positive_int, real_in, seed_int

_EPS = 1e-5  # LogME's guard in the alpha / beta updates (thuml/LogME)


def _features(features, name: str = "features") -> np.ndarray:
    """Return ``features`` as a finite float64 ``(n, d)`` array or raise naming the problem."""
    return as_data_array(features, name, allowed_ndim=(2,), dtype=np.float64)


def _unit_scaled(F: np.ndarray) -> np.ndarray:
    """``F`` divided by its largest magnitude, for the scale-free scores: features near 1e160 overflowed their
    covariances (numpy's 'Eigenvalues did not converge', or a silent 0) and near 1e-300 underflowed them."""
    largest = float(np.max(np.abs(F)))
    return F / largest if largest > 0 else F


def _class_index(target_labels, n: int, against: str, min_classes: int = 2):
    """Validate ``target_labels`` against ``n`` rows; return (class index per sample, number of classes)."""
    if hasattr(target_labels, "__len__") and not isinstance(target_labels, (str, bytes)):
        if len(target_labels) != n:
            raise ValueError(
                f"target_labels has {len(target_labels)} labels but {against} has {n} rows; they must match"
            )
    labels = as_labels(target_labels, n, "target_labels")
    classes = {v: i for i, v in enumerate(dict.fromkeys(labels))}
    if len(classes) < min_classes:
        raise ValueError(f"this score needs at least {min_classes} target classes, got {len(classes)}")
    return np.array([classes[v] for v in labels], dtype=np.int64), len(classes)


def leep(source_probs, target_labels) -> float:
    """LEEP score: mean over samples of log sum_z P(y | z) theta(x)_z; higher is better.

    ``source_probs`` is ``(n, Z)``, each row the source model's distribution over
    its own classes; ``target_labels`` the ``n`` target labels.
    """
    theta = np.asarray(source_probs)
    if theta.ndim != 2 or len(theta) == 0:
        raise ValueError(f"source_probs must be a non-empty (n, Z) array, got shape {theta.shape}")
    if not (np.issubdtype(theta.dtype, np.floating) or np.issubdtype(theta.dtype, np.integer) or theta.dtype == bool):
        raise TypeError(f"source_probs must hold real numbers, got dtype {theta.dtype}")
    theta = theta.astype(np.float64)
    if not np.all(np.isfinite(theta)) or np.any(theta < 0):
        raise ValueError("source_probs must be finite and non-negative")
    if np.any(theta.max(axis=1) <= 0):
        raise ValueError("source_probs has a row summing to 0; each row must be a distribution over source classes")
    labels = np.array(as_labels(target_labels, len(theta), "target_labels"), dtype=object)
    classes = list(dict.fromkeys(labels.tolist()))
    index = np.array([classes.index(v) for v in labels])
    theta = theta / theta.max(axis=1, keepdims=True)  # first, so that rows of 1e308 do not sum to inf
    theta = theta / theta.sum(axis=1, keepdims=True)
    joint = np.zeros((len(classes), theta.shape[1]))  # empirical P(y, z)
    np.add.at(joint, index, theta)
    joint /= len(theta)
    conditional = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300)  # P(y | z)
    expected = (theta * conditional[index]).sum(axis=1)
    return float(np.mean(np.log(np.maximum(expected, 1e-300))))


def nce(source_labels, target_labels) -> float:
    """Negative conditional entropy -H(Y | Z) in nats; higher is better, 0 is the maximum.

    ``source_labels`` are the source model's hard predictions (argmax) on the
    ``n`` target samples, any hashable values; ``target_labels`` the ``n`` target
    labels. Needs only forward passes. The score is 0 when the target label is a
    function of the source prediction (e.g. identical or relabelled classes) and
    -H(Y) when the two are independent.
    """
    if hasattr(source_labels, "detach") and hasattr(source_labels, "cpu"):
        source_labels = source_labels.detach().cpu().numpy()
    if isinstance(source_labels, (str, bytes)) or not hasattr(source_labels, "__len__"):
        raise TypeError(f"source_labels must be a sequence of labels, got {type(source_labels).__name__}")
    if isinstance(source_labels, np.ndarray):
        if source_labels.ndim != 1:
            raise ValueError(
                "source_labels must be one-dimensional hard labels (argmax of the source model), "
                f"got shape {source_labels.shape}"
            )
        z = source_labels.tolist()
    else:
        z = list(source_labels)
    if len(z) == 0:
        raise ValueError("source_labels is empty: it has no samples")
    for v in z:
        try:
            hash(v)
        except TypeError:
            raise TypeError(f"source_labels holds an unhashable label {v!r} of type {type(v).__name__}") from None
        if isinstance(v, (float, np.floating)) and not np.isfinite(v):
            raise ValueError(f"source_labels contains a non-finite label {v!r}")
    y, n_classes = _class_index(target_labels, len(z), "source_labels")
    source_index = {v: i for i, v in enumerate(dict.fromkeys(z))}
    zi = np.array([source_index[v] for v in z], dtype=np.int64)
    joint = np.zeros((len(source_index), n_classes))  # counts of (z, y)
    np.add.at(joint, (zi, y), 1.0)
    joint /= len(z)
    p_z = joint.sum(axis=1, keepdims=True)
    nonzero = joint > 0
    # -H(Y|Z) = sum_{z,y} P(z, y) log P(y | z), with 0 log 0 = 0
    return float(np.sum(joint[nonzero] * np.log((joint / p_z)[nonzero])))


def logme(features, target_labels) -> float:
    """LogME: per-sample log maximum evidence of a Bayesian linear model; higher is better.

    ``features`` is the ``(n, d)`` output of the model's feature extractor on the
    target data (needs features, no training). For each target class the one-hot
    indicator y is modelled as y = F w + noise with w ~ N(0, I/alpha) and noise
    ~ N(0, I/beta); alpha and beta are fitted by the fixed-point iteration of
    You et al. (at most 11 steps, relative tolerance 1e-3 on alpha/beta) and the
    log evidence log p(y | F, alpha, beta) / n is averaged over the classes.
    Uses the SVD of F (eigen-decomposition of F^T F when n > d), so n < d costs
    only min(n, d)-sized work; the (d - rank) zero singular values still enter
    the log-determinant exactly.
    """
    F = _features(features)
    y, n_classes = _class_index(target_labels, len(F), "features")
    N, D = F.shape
    largest = float(np.max(np.abs(F)))
    if largest > np.sqrt(np.finfo(np.float64).max / (16 * N * D)):  # LogME depends on the scale: no rescaling
        raise ValueError(f"features of magnitude up to {largest:.3g} overflow LogME's float64 Gram matrix; "
                         "rescale them first")
    if N > D:  # eigen-decomposition of the small d x d Gram matrix
        sigma, V = np.linalg.eigh(F.T @ F)
        keep = sigma > max(sigma.max(), 0.0) * max(N, D) * np.finfo(np.float64).eps
        sigma, V = sigma[keep], V[:, keep]
        U = (F @ V) / np.sqrt(sigma)
    else:
        U, s, _ = np.linalg.svd(F, full_matrices=False)
        keep = s > s.max() * max(N, D) * np.finfo(np.float64).eps
        U, sigma = U[:, keep], s[keep] ** 2  # sigma: the nonzero eigenvalues of F^T F
    evidences = []
    for c in range(n_classes):
        target = (y == c).astype(np.float64)
        x2 = (U.T @ target) ** 2  # squared coordinates of y in the column space of F
        outside = max(float(target @ target - x2.sum()), 0.0)  # part of y no weight can fit
        if sigma.size == 0:  # all-zero features: only the noise model is left
            beta = N / (outside + _EPS)
            evidences.append((N / 2 * np.log(beta) - beta / 2 * outside - N / 2 * np.log(2 * np.pi)) / N)
            continue
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = float(np.sum(sigma / (sigma + t)))  # effective number of parameters
            m2 = float(np.sum(sigma * x2 / (sigma + t) ** 2))  # |m|^2
            res2 = float(np.sum(x2 * (t / (sigma + t)) ** 2)) + outside  # |y - F m|^2
            alpha = gamma / (m2 + _EPS)
            beta = (N - gamma) / (res2 + _EPS)
            if abs(alpha / beta - t) / t <= 1e-3:
                break
        t = alpha / beta  # evaluate the evidence consistently at the final alpha, beta
        m2 = float(np.sum(sigma * x2 / (sigma + t) ** 2))
        res2 = float(np.sum(x2 * (t / (sigma + t)) ** 2)) + outside
        # d/2 log alpha - 1/2 log|alpha I + beta F^T F| = -1/2 sum_k log(1 + sigma_k / t): the
        # d - rank zero eigenvalues contribute log(alpha) each and cancel against d/2 log(alpha).
        evidence = (
            N / 2 * np.log(beta)
            - 0.5 * np.sum(np.log1p(sigma / t))
            - beta / 2 * res2
            - alpha / 2 * m2
            - N / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / N)
    return float(np.mean(evidences))


def h_score(features, target_labels) -> float:
    """H-score: tr(pinv(cov(f)) cov(E[f | y])); higher is better.

    ``features`` is the ``(n, d)`` feature matrix of the model on the target data
    (needs features, no training). It is the share of the feature covariance
    explained by the class-conditional means, summed over directions, so it lies
    in [0, min(d, classes - 1)] and is invariant to invertible affine maps of the
    features. Directions of zero feature variance are dropped by the
    pseudo-inverse.
    """
    F = _unit_scaled(_features(features))  # the score is scale-free
    y, n_classes = _class_index(target_labels, len(F), "features")
    means = np.zeros((n_classes, F.shape[1]))
    np.add.at(means, y, F)
    means /= np.bincount(y, minlength=n_classes)[:, None]
    cov_f = np.atleast_2d(np.cov(F, rowvar=False))
    cov_g = np.atleast_2d(np.cov(means[y], rowvar=False))
    rcond = max(F.shape) * np.finfo(np.float64).eps
    return float(np.trace(np.linalg.pinv(cov_f, rcond=rcond, hermitian=True) @ cov_g))


def nleep(features, target_labels, component_ratio: int = 5, variance_kept: float = 0.8, random_state=0) -> float:
    """NLEEP: LEEP of the target labels on Gaussian-mixture posteriors of the features; higher is better.

    ``features`` is the ``(n, d)`` feature matrix of the model on the target data
    (needs features, no training). The features are reduced by PCA to the
    components keeping ``variance_kept`` of the variance and rescaled to unit
    average variance (so the score does not depend on the overall feature scale);
    a diagonal-covariance Gaussian mixture with ``component_ratio`` x classes
    components is fitted and its posteriors play the role of the source model's
    class probabilities in :func:`leep`. The number of components is capped at
    n // 5 (at least 1) and at the number of distinct samples. Diagonal
    covariances (the reference uses full ones) keep each component's parameters
    at 2d, so the mixture stays well-posed with few samples per component and
    the cost grows linearly with d; absolute values therefore differ from
    published numbers, rankings are what it is for.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    F = _unit_scaled(_features(features))  # the score rescales the features anyway
    _, n_classes = _class_index(target_labels, len(F), "features")
    random_state = seed_int(random_state, "random_state")
    ratio = positive_int(component_ratio, "component_ratio")
    kept = positive_float(variance_kept, "variance_kept")
    if kept > 1:
        raise ValueError(f"variance_kept must be in (0, 1], got {variance_kept}")
    if not np.any(F.std(axis=0) > 0):  # constant features: one component, LEEP of the label prior
        return leep(np.ones((len(F), 1)), target_labels)
    pca = PCA(n_components=kept if kept < 1 else None, svd_solver="full", random_state=random_state)
    reduced = pca.fit_transform(F)
    reduced /= np.sqrt(np.mean(reduced.var(axis=0)))
    distinct = len(np.unique(reduced, axis=0))
    k = max(1, min(ratio * n_classes, len(F) // 5, distinct))
    gmm = GaussianMixture(n_components=k, covariance_type="diag", random_state=random_state).fit(reduced)
    return leep(gmm.predict_proba(reduced), target_labels)


#: What :func:`neuralrank_silhouette` measures distances with: the paper's cosine, or the plain distance.
SILHOUETTE_METRICS = ("cosine", "euclidean")


def neuralrank_silhouette(features, target_labels, n_components: float | int = 10, random_state: int = 0,
                          metric: str = "cosine") -> float:
    """neuralRank's silhouette coefficient of the target classes in PCA-reduced features; higher is better.

    As the paper defines it (Eqs. 2-4, Algorithm 1): the features are reduced
    by PCA to ``n_components`` dimensions (its default D = 10, fewer when the
    features have fewer; a share in (0, 1) keeps that share of the variance);
    a point's cohesion ``a`` is its mean distance to the other points of its
    class and its separation ``b`` its distance to the nearest other class's
    centroid (Rousseeuw's silhouette takes the mean distance to that class's
    points); distances are cosine, which the paper chose for its robustness in
    high dimensions. A point alone in its class scores 0, as in Rousseeuw's.
    """
    from sklearn.decomposition import PCA
    from sklearn.metrics import pairwise_distances

    F = _unit_scaled(_features(features))  # real numbers, finite; a silhouette is scale-free
    if len(F) < 3:
        raise ValueError(f"features must be an (n, d) array with n >= 3, got shape {F.shape}")
    y, n_classes = _class_index(target_labels, len(F), "features", min_classes=1)
    random_state = seed_int(random_state, "random_state")
    if metric not in SILHOUETTE_METRICS:
        raise ValueError(f"metric must be one of {SILHOUETTE_METRICS}, got {metric!r}")
    if isinstance(n_components, numbers.Integral) and not isinstance(n_components, bool):
        n_components = min(positive_int(n_components, "n_components"), *F.shape)
    elif not 0 < real_in(n_components, "n_components", 0.0, 1.0) < 1:
        raise ValueError(f"n_components must be a share of the variance in (0, 1) or a number of components, "
                         f"got {n_components}")
    if not 2 <= n_classes <= len(F) - 1:
        raise ValueError(f"a silhouette needs between 2 and n - 1 = {len(F) - 1} target classes, got {n_classes}")
    if np.any(F.std(axis=0) > 0):
        F = PCA(n_components=n_components, random_state=random_state).fit_transform(F)
    counts = np.bincount(y, minlength=n_classes)
    centroids = np.zeros((n_classes, F.shape[1]))
    np.add.at(centroids, y, F)
    centroids /= counts[:, None]
    distances = pairwise_distances(F, metric=metric)
    same = y[:, None] == y[None, :]
    a = (distances * same).sum(axis=1) / np.maximum(counts[y] - 1, 1)
    to_centroids = pairwise_distances(F, centroids, metric=metric)
    to_centroids[np.arange(len(F)), y] = np.inf
    b = to_centroids.min(axis=1)
    spread = np.maximum(a, b)
    s = np.divide(b - a, spread, out=np.zeros_like(a), where=spread > 0)
    s[counts[y] == 1] = 0.0
    return float(s.mean())
