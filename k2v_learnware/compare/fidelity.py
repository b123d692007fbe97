"""Comparison: how well one specification represents a data set (:func:`fidelity`).

MMD overall and per class between the specification and the data, accuracy of a
classifier trained only on the specification's points, size on disk, and a
membership-inference signal (:func:`privacy_gap`): whether the points sit closer
to the developer's rows than to held-out rows of the same distribution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from learnware.specification import RKMETableSpecification

from .._checks import as_data_array, as_labels, seed_int
from ..specification.formats import saved_size
from ..specification.lane import LANESpecification
from ..specification.networks import finite_embedding
from .pairs import MAX_KERNEL_ROWS, _as_family_input, _check_same_features, _kind, _rkme_points, _sample_shape


@dataclass(frozen=True)
class Fidelity:
    """How well a specification represents a data set (see :func:`fidelity`).

    ``mmd`` and ``mmd_per_class`` are MMDs (not squared) in the spec's own
    kernel; ``accuracy`` is that of a classifier trained only on the spec's
    points; ``privacy_gap`` is the membership-inference signal of the points,
    ``means_privacy_gap`` that of a LANE spec's data class means; ``notes`` say
    why a field is None or what was subsampled.
    """

    kind: str
    mmd: float
    mmd_per_class: dict | None
    accuracy: float | None
    size_bytes: int
    privacy_gap: float | None
    num_points: int
    kernel: str
    notes: tuple = ()
    means_privacy_gap: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def _data_for(spec_shape, X, name) -> np.ndarray:
    X = as_data_array(X, name)
    _check_same_features(X.shape[1:], spec_shape, name, "the specification")
    return X


def _subsample_rows(X, limit, rng) -> np.ndarray:
    if len(X) <= limit:
        return X
    return X[np.sort(rng.choice(len(X), size=limit, replace=False))]


def _lane_mmds(spec: LANESpecification, X, labels):
    """Overall and per-class MMD in the spec's random family, BatchNorm calibrated on the data."""
    family = spec.embedding_family()
    data = _as_family_input(X, family)
    emb_z, emb_x = family.embed([_as_family_input(spec.get_z(), family), data], reference=data)
    finite_embedding(emb_x, "the embedding of X")
    mmd = float(np.linalg.norm(spec.class_weights @ spec.class_mean_rows(emb_z) - emb_x.mean(axis=0)))
    per_class = None
    if labels is not None and spec.classes != [None]:
        lab = np.empty(len(labels), dtype=object)
        lab[:] = labels
        spec_labels = spec.get_labels()
        per_class = {}
        for c in spec.classes:
            rows = lab == c
            if rows.any():
                per_class[c] = float(np.linalg.norm(emb_z[spec_labels == c].mean(axis=0) - emb_x[rows].mean(axis=0)))
    return mmd, per_class


def _rkme_mmd(spec: RKMETableSpecification, X, rng) -> tuple[float, list[str]]:
    """RBF-kernel MMD with the spec's own gamma, between the weighted reduced set and the data."""
    from sklearn.metrics.pairwise import rbf_kernel

    z, beta = _rkme_points(spec)
    notes = []
    flat = X.reshape(len(X), -1).astype(np.float64)
    if len(flat) > MAX_KERNEL_ROWS:
        flat = _subsample_rows(flat, MAX_KERNEL_ROWS, rng)
        notes.append(f"the RKME MMD used {MAX_KERNEL_ROWS} random rows of X")
    g = float(spec.gamma)
    mmd2 = beta @ rbf_kernel(z, z, gamma=g) @ beta - 2 * np.mean(beta @ rbf_kernel(z, flat, gamma=g)) \
        + np.mean(rbf_kernel(flat, flat, gamma=g))
    return float(np.sqrt(max(mmd2, 0.0))), notes


def _mean_nearest_distance(points, rows) -> float:
    from sklearn.neighbors import NearestNeighbors

    return float(NearestNeighbors(n_neighbors=1).fit(rows).kneighbors(points)[0].mean())


def privacy_gap(points, X_train, X_holdout, random_state=0) -> tuple[float, str | None]:
    """Membership-inference signal of a point set: ``(d_holdout - d_train) / max(d_holdout, d_train)``.

    ``d_*`` is the mean distance from each point to its nearest row of that set.
    About 0: the points are no closer to the training rows than to fresh rows of
    the same distribution (nothing leaks); 1: the points are copies of training
    rows. In the leaking direction this is ``(d_holdout - d_train) / d_holdout``;
    dividing by the larger keeps it in [-1, 1]. A larger set has nearer
    neighbours by chance alone, so the larger of the two is first subsampled to
    the size of the smaller: pass sets of equal size (say a 50/50 split) to keep
    every training row in play. Returns the gap and a note if it subsampled.
    """
    rng = np.random.default_rng(seed_int(random_state, "random_state"))
    points, train, hold = (as_data_array(a, name).astype(np.float64).reshape(len(a), -1) for a, name in
                           ((points, "points"), (X_train, "X_train"), (X_holdout, "X_holdout")))
    if not (points.shape[1] == train.shape[1] == hold.shape[1]):
        raise ValueError(f"feature dimensions differ: points have {points.shape[1]}, X_train {train.shape[1]}, "
                         f"X_holdout {hold.shape[1]}")
    note = None
    m = min(len(train), len(hold))
    if len(train) != len(hold):
        note = (f"privacy_gap compared {m} rows of X with {m} of X_holdout (the larger set was subsampled); "
                "pass sets of equal size for the full signal")
        train, hold = _subsample_rows(train, m, rng), _subsample_rows(hold, m, rng)
    d_train, d_hold = _mean_nearest_distance(points, train), _mean_nearest_distance(points, hold)
    scale = max(d_train, d_hold)
    return (0.0 if scale == 0 else (d_hold - d_train) / scale), note


def class_means_privacy_gap(spec, X_train, y_train, X_holdout, y_holdout, random_state=0) -> tuple[float, str | None]:
    """Membership-inference signal of a LANE spec's ``data_class_means``: ``(d_holdout - d_train) / max(...)``.

    ``d_*`` is the mean distance, in the spec's family, from each row's
    embedding to its class's stored mean. A training row pulls its own class
    mean towards it by ``1 / n_class`` of the way, so an attacker holding a
    candidate row and the spec can test membership by that distance; about 0:
    the means tell training rows apart from fresh rows no better than chance
    distance does. Rows of classes the spec does not know are left out; the
    larger set is subsampled per class to the size of the smaller.
    """
    if not isinstance(spec, LANESpecification) or spec.data_class_means is None:
        raise ValueError("class_means_privacy_gap needs a LANE specification that carries data_class_means "
                         "(format 4, a fixed family)")
    rng = np.random.default_rng(seed_int(random_state, "random_state"))
    family = spec.embedding_family()
    sets = []
    for X, y, name in ((X_train, y_train, "X_train"), (X_holdout, y_holdout, "X_holdout")):
        X = _data_for(spec.input_shape, X, name)
        sets.append((X, np.array(as_labels(y, len(X)), dtype=object)))
    distances, subsampled = ([], []), False
    for k, c in enumerate(spec.classes):
        rows = [np.flatnonzero(labels == c) for _, labels in sets]
        m = min(len(r) for r in rows)
        subsampled |= any(len(r) != m for r in rows)
        if not m:
            continue
        for side, ((X, _), r) in enumerate(zip(sets, rows)):
            picked = np.sort(rng.choice(r, size=m, replace=False))
            embedded = family.embed_fixed(_as_family_input(X[picked], family))
            distances[side].append(np.linalg.norm(embedded - spec.data_class_means[k], axis=1))
    if not distances[0]:
        raise ValueError(f"X_train and X_holdout share no rows of the specification's classes {spec.classes}")
    d_train, d_hold = (np.concatenate(d) for d in distances)
    note = "the larger set was subsampled per class to the size of the smaller" if subsampled else None
    scale = max(d_train.mean(), d_hold.mean())
    return (0.0 if scale == 0 else float((d_hold.mean() - d_train.mean()) / scale)), note


def fidelity(spec, X, y=None, *, X_holdout=None, y_holdout=None, classifier=None, random_state=0) -> Fidelity:
    """Measure how well ``spec`` (LANE or RKME) represents the data set ``X`` (labels ``y``).

    - ``mmd``: MMD between the spec and ``X`` in the spec's own kernel (a LANE
      spec's random family with BatchNorm calibrated on ``X``; an RKME spec's
      RBF kernel). ``mmd_per_class``: the same per label of ``y`` (LANE only).
    - ``accuracy`` on ``(X, y)`` of ``classifier`` (default ``SVC()``, cloned)
      trained only on the spec's points and labels; None for RKME (no labels)
      or without ``y``.
    - ``size_bytes``: size of the JSON file the spec writes.
    - ``privacy_gap`` (needs ``X_holdout``, rows of the same distribution the
      spec never saw): see :func:`privacy_gap`.
    - ``means_privacy_gap`` (a LANE spec with ``data_class_means``, with ``y``,
      ``X_holdout`` and ``y_holdout``): see :func:`class_means_privacy_gap`.
    """
    kind = _kind(spec)
    if kind == "Know2Vec":
        raise TypeError("fidelity measures a data specification (LANE or RKME); a Know2Vec specification "
                        "describes a model's decision boundaries, not a data set")
    shape = _sample_shape(spec)
    X = _data_for(shape, X, "X")
    labels = None if y is None else as_labels(y, len(X))
    if X_holdout is not None:
        X_holdout = _data_for(shape, X_holdout, "X_holdout")
    rng = np.random.default_rng(seed_int(random_state, "random_state"))
    notes: list[str] = []

    if kind == "LANE":
        z = spec.get_z()
        points = z.reshape(len(z), -1)
        mmd, per_class = _lane_mmds(spec, X, labels)
        fam = spec.embedding
        kernel = f"LANE random {fam['kind']} family (seed {fam['seed']}, {fam['num_nets']} networks), BatchNorm on X"
        labelled = spec.classes != [None]
        if labels is not None and not labelled:
            notes.append("the specification is unlabelled (built with y=None): no per-class MMD or accuracy")
        elif labels is not None and per_class is not None and len(per_class) < len(spec.classes):
            missing = [c for c in spec.classes if c not in per_class]
            notes.append(f"classes {missing} of the specification do not occur in y")
    else:
        points, _ = _rkme_points(spec)
        mmd, extra = _rkme_mmd(spec, X, rng)
        notes += extra
        per_class, labelled = None, False
        kernel = f"RBF, gamma {float(spec.gamma):g}"
        if labels is not None:
            notes.append("RKME specifications carry no labels: no per-class MMD or accuracy")

    accuracy = None
    if labels is not None and labelled:
        if len(spec.classes) < 2:
            notes.append("the specification has a single class: no classifier can be trained on it")
        else:
            accuracy = _accuracy(spec, points, X, labels, classifier)

    gap = means_gap = None
    if X_holdout is not None:
        gap, note = privacy_gap(points, X, X_holdout, random_state)
        if note:
            notes.append(note)
        if kind == "LANE" and spec.data_class_means is not None and labels is not None and y_holdout is not None:
            means_gap, note = class_means_privacy_gap(spec, X, labels, X_holdout, y_holdout, random_state)
            if note:
                notes.append(f"means_privacy_gap: {note}")

    return Fidelity(kind=kind, mmd=mmd, mmd_per_class=per_class, accuracy=accuracy,
                    size_bytes=saved_size(spec), privacy_gap=gap, num_points=len(points), kernel=kernel,
                    notes=tuple(notes), means_privacy_gap=means_gap)


def _accuracy(spec: LANESpecification, points, X, labels, classifier) -> float:
    from sklearn.base import clone
    from sklearn.svm import SVC

    if classifier is None:
        model = SVC()
    elif callable(getattr(classifier, "fit", None)) and callable(getattr(classifier, "predict", None)):
        model = clone(classifier)
    else:
        raise TypeError(f"classifier must have fit and predict methods, got {type(classifier).__name__}")
    model.fit(points, spec.get_labels())
    predicted = np.asarray(model.predict(X.reshape(len(X), -1))).tolist()
    return float(np.mean([p == t for p, t in zip(predicted, labels)]))
