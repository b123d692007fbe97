"""Retrieval: the query tasks Know2Vec's proxy learns from, and the query a user sends.

A user reveals only :class:`Know2VecQuery` (per-class mean features, Eq. 13).
For training, :class:`TaskSampler` draws tasks a market may build for one model
(the paper's regime: the task's positive is that model) and
:class:`LabelledTaskSampler` cuts tasks from a labelled probe set whose
positives are the models most accurate on them (black-box predictions only).
Both read a model's answers on the probe set from its Know2Vec specification
when it stored them (:func:`labels_on_probe`), so training needs no model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .._checks import as_data_array, as_labels
from ..specification.know2vec import Know2VecSpecification, one_label_per_row, probe_fingerprint
from ..specification.lane import LANESpecification


def labels_on_probe(source, probe_X, fingerprint: str | None = None) -> np.ndarray:
    """A model's label for every probe row, as an object array: read from ``source`` when it is the model's
    Know2Vec specification (which stored them for this very probe set, whose ``probe_fingerprint`` a caller may
    pass; None where the model answered outside its classes), else asked of ``source``, the model (black box)."""
    if isinstance(source, Know2VecSpecification):
        return source.probe_labels(probe_X, fingerprint)
    if not callable(getattr(source, "predict", None)):
        raise TypeError(f"a probe labeller must be a model with predict or a Know2VecSpecification, got "
                        f"{type(source).__name__}")
    labels = np.empty(len(probe_X), dtype=object)
    labels[:] = one_label_per_row(source)(probe_X).tolist()
    return labels


def probe_fingerprint_for(sources, probe_X) -> str | None:
    """The probe set's fingerprint, hashed once, when some of ``sources`` are Know2Vec specifications."""
    if not any(isinstance(s, Know2VecSpecification) for s in sources):
        return None
    return probe_fingerprint(as_data_array(probe_X, "probe_X"))


@dataclass
class Know2VecQuery:
    """What a user reveals: the classes of their task and the mean feature vector of each (Eq. 13)."""

    classes: list
    means: np.ndarray  # (C, D)

    type = "Know2VecQuery"

    def __post_init__(self):
        """Checked where it is made (by :meth:`from_data`, :meth:`from_dict` or by hand): the means reach the
        proxy as float32, so a NaN or a mean beyond float32 (1e300) would score every model NaN."""
        n = len(self.classes) if hasattr(self.classes, "__len__") else 0
        self.classes = as_labels(self.classes, n, "Know2VecQuery classes")
        self.means = as_data_array(self.means, "Know2VecQuery means", allowed_ndim=(2,))
        if len(self.means) != len(self.classes) or len(self.classes) < 2 or \
                len(set(map(repr, self.classes))) != len(self.classes):
            raise ValueError(f"Know2VecQuery needs >= 2 distinct classes and one finite mean row per class; got "
                             f"{len(self.classes)} classes and means of shape {self.means.shape}")

    @classmethod
    def from_data(cls, X, y) -> "Know2VecQuery":
        X = as_data_array(X)
        labels = as_labels(y, len(X))
        classes = sorted(dict.fromkeys(labels))
        if len(classes) < 2:
            raise ValueError(f"a query task needs at least 2 classes, got {classes}")
        flat = X.reshape(len(X), -1)
        lab = np.array(labels, dtype=object)
        return cls(classes, np.stack([flat[lab == c].mean(axis=0) for c in classes]))

    def to_dict(self) -> dict:
        return {"type": self.type, "classes": list(self.classes), "means": np.asarray(self.means).tolist()}

    @classmethod
    def from_dict(cls, doc) -> "Know2VecQuery":
        """The query a JSON document describes; refuses anything malformed or non-finite."""
        if not isinstance(doc, dict) or doc.get("type") != cls.type:
            raise ValueError(f"a Know2VecQuery document needs type {cls.type!r}")
        classes = as_labels(doc.get("classes"), len(doc.get("classes") or []), "classes")
        try:
            means = np.asarray(doc.get("means"), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("Know2VecQuery means must be a list of equally long lists of numbers") from None
        return cls(classes, means)  # checked, finite in float32 too, by __post_init__

    def save(self, path) -> None:
        """JSON, as the stock ``LearnwareClient`` saves a user's specification before a search."""
        from ..specification.formats import write_json

        write_json(path, self.to_dict())


class TaskSampler:
    """Draws labelled query tasks a market may build for one model, as per-class mean features.

    From the model's LANE specification when it has one (samples from its class
    Gaussians), else from the probe set labelled by the model (by its Know2Vec
    specification's stored answers or by the model itself, see
    :func:`labels_on_probe`; :meth:`with_rows` keeps a share of it). Every draw
    is fresh, so the proxy never sees the same training task twice.
    """

    def __init__(self, source, probe_X=None, fingerprint: str | None = None):
        if isinstance(source, LANESpecification):
            self.lane, self.classes = source, sorted(source.classes)
        else:
            self.lane = None
            self._flat = np.asarray(probe_X, dtype=np.float32).reshape(len(probe_X), -1)
            self._labels = labels_on_probe(source, probe_X, fingerprint)
            self._use(np.arange(len(probe_X)))

    def _use(self, rows):
        labels = self._labels[rows]
        self.classes = sorted({c for c in labels.tolist() if c is not None})
        self.rows = [self._flat[rows[labels == c]] for c in self.classes]

    def with_rows(self, rows) -> "TaskSampler":
        """The same sampler drawing from probe ``rows`` only (the labels are not asked again)."""
        if self.lane is not None:
            return self
        restricted = copy.copy(self)
        restricted._use(np.asarray(rows, dtype=int))
        return restricted

    def draw(self, rng, samples_per_class) -> np.ndarray:
        n = int(rng.integers(samples_per_class[0], samples_per_class[1] + 1))
        if self.lane is not None:
            return np.stack([self.lane.sample_class(c, n, random_state=rng).reshape(n, -1).mean(axis=0)
                             for c in self.classes])
        return np.stack([r[rng.choice(len(r), size=min(n, len(r)), replace=False)].mean(axis=0) for r in self.rows])


class LabelledTaskSampler:
    """Tasks cut from the market's labelled probe set; positives are the models most accurate on them.

    ``groups`` lists the class groups a task's classes are drawn from (e.g. one
    group per data domain); by default one group of every probe class.
    ``class_sets`` instead lists the exact class sets tasks take (e.g. the
    label spaces of the market's models). :meth:`with_rows` restricts the rows
    whose means make a task (a held-out share serves validation). Each model
    predicts the probe set once, up front (black-box access only), or not at all
    when ``models`` are their Know2Vec specifications holding those answers.

    A task's positives are the models with the best class-balanced accuracy on
    *every* labelled probe row of its classes, not only on the few rows whose
    means make the task: a user asks for the model that is best on their
    classes, and a handful of rows would make that label a coin toss between
    models within a point of each other.
    """

    def __init__(self, models, probe_X, probe_y, groups=None, classes_per_task=(2, 5), *, class_sets=None):
        X = as_data_array(probe_X, "probe_X")
        labels = np.array(as_labels(probe_y, len(X), "probe_y"), dtype=object)
        self.flat = X.reshape(len(X), -1)
        fingerprint = probe_fingerprint_for(models, X)
        correct = np.stack([labels_on_probe(m, X, fingerprint) == labels for m in models])
        if not correct.any():
            raise ValueError("no model answers any probe row with its label in probe_y: the labels must be in the "
                             "models' label space")
        known = list(dict.fromkeys(labels.tolist()))
        if class_sets is not None:
            if groups is not None:
                raise ValueError("give groups or class_sets, not both")
            sets = [sorted(dict.fromkeys(s)) for s in class_sets]
            for s in sets:
                missing = [c for c in s if c not in known]
                if missing or len(s) < 2:
                    raise ValueError(f"a class set needs >= 2 classes with probe rows; {s} lacks {missing}"
                                     if missing else f"a class set needs at least 2 classes, got {s}")
            if not sets:
                raise ValueError("class_sets is empty")
            self.class_sets = sets
        else:
            self.class_sets = None
        groups = [known] if groups is None else [list(g) for g in groups]
        for g in groups:
            missing = [c for c in g if c not in known]
            if missing:
                raise ValueError(f"task group classes {missing} have no rows in the labelled probe set")
            if len(g) < 2:
                raise ValueError(f"a task group needs at least 2 classes, got {g}")
        low, high = (int(v) for v in classes_per_task)
        if not 2 <= low <= high:
            raise ValueError(f"classes_per_task must be (low, high) with 2 <= low <= high, got {classes_per_task}")
        self.groups = groups
        self._labels = labels
        self.rows = {c: np.flatnonzero(labels == c) for c in known}
        # every labelled row of a class (held-out ones too, see with_rows): the market's best estimate
        self.class_accuracy = {c: correct[:, labels == c].mean(axis=1) for c in known}
        self.classes_per_task = (low, high)

    def with_rows(self, rows) -> "LabelledTaskSampler":
        """The same sampler (same predictions, same positives) cutting tasks from ``rows`` only;
        every class must keep a row there."""
        rows = np.asarray(rows, dtype=int)
        restricted = copy.copy(self)
        restricted.rows = {c: rows[self._labels[rows] == c] for c in self.rows}
        empty = [c for c, r in restricted.rows.items() if not len(r)]
        if empty:
            raise ValueError(f"classes {empty[:10]} have no rows among the given ones")
        return restricted

    def draw(self, rng, samples_per_class) -> tuple[np.ndarray, np.ndarray]:
        """``(C, D)`` class means of a fresh task and the boolean mask of its best models."""
        if self.class_sets is not None:
            classes = self.class_sets[int(rng.integers(len(self.class_sets)))]
        else:
            group = self.groups[int(rng.integers(len(self.groups)))]
            k = int(rng.integers(self.classes_per_task[0], min(self.classes_per_task[1], len(group)) + 1))
            # the order Know2VecQuery.from_data gives a user's classes: the encoder reads them in sequence
            classes = sorted(group[i] for i in rng.choice(len(group), size=k, replace=False))
        n = int(rng.integers(samples_per_class[0], samples_per_class[1] + 1))
        picks = [rng.choice(self.rows[c], size=min(n, len(self.rows[c])), replace=False) for c in classes]
        accuracy = np.mean([self.class_accuracy[c] for c in classes], axis=0)
        return np.stack([self.flat[p].mean(axis=0) for p in picks]), accuracy >= accuracy.max() - 1e-12
