"""The Know2Vec specification: a model's boundary graph, found through black-box queries.

The market builds it when a learnware arrives, from the model (called only
through ``predict`` / ``predict_proba``) and a probe set the market owns. For a
model with classes ``c_1..c_K`` it holds the ``K x K`` grid of Eq. 4: the
centroid sample of each class on the diagonal (the probe the model is most sure
of, or the one nearest the class mean when it gives only labels), and off the
diagonal the boundary sample between classes ``i`` and ``j`` found by bisection
from the centroid of ``i`` towards a sample of ``j``. Classes the probe set
never reaches, and pairs whose boundary was not found within the budget, are
recorded as missing rather than invented.

It also keeps the model's answer on every probe row (format 2; an index into
its classes) with a fingerprint of the probe set they answer: the market then
trains its proxy on those stored answers without loading or calling a single
model again (:func:`~k2v_learnware.retrieval.tasks.labels_on_probe`).
"""

from __future__ import annotations

import numpy as np
from learnware.specification.system.base import SystemStatSpecification

from .._checks import as_data_array, canonical_label, positive_float, positive_int, seed_int
from .boundary import bisect_segments, bisection_steps
from .formats import classes_problem, read_json, write_json
from .know2vec_file import (  # noqa: F401  (the format's constants are part of this module's interface)
    FORMAT_VERSION, MAX_CLASSES, MAX_DIMENSION, MAX_GRID_VALUES, READABLE_VERSIONS, know2vec_fields_from_dict,
    know2vec_to_dict,
)

#: Model calls a boundary search may add to the probe set's own: what a market allows each learnware by default.
BOUNDARY_QUERIES = 20000
#: The most halvings one boundary search makes of a segment (a bracket of 2**-64 of it is below any tol).
BISECTION_STEPS = 64


class Know2VecSpecification(SystemStatSpecification):
    """Boundary graph of one model (Know2Vec, Eq. 3-4). Build with :func:`generate_know2vec_spec`."""

    def __init__(self):
        self.classes: list = []  # the model's label space, sorted
        self.present: list[bool] = []  # whether the probe set reached each class
        self.nodes = None  # (K, K, *input_shape) float32, NaN where missing
        self.queries = 0  # samples sent to the model, probe set included
        self.settings: dict = {}
        self.probe_predictions = None  # (probe rows,) int: index into classes of the model's answer, -1 outside
        super().__init__(type=self.__class__.__name__)

    # ------------------------------------------------------------------ build
    def generate_stat_spec_from_system(self, model, probe_X, *, classes=None, tol: float | None = None,
                                       max_retries: int = 3, max_queries: int = 20000, seed: int = 0):
        """Query ``model`` on ``probe_X`` and bisect every ordered class pair.

        ``classes`` is the model's label space (default: ``model.classes_`` if it
        has one, else the labels it gives the probes). ``tol`` is the bracket
        length in input units (default: 1e-3 of the median distance between
        centroids). Each pair tries up to ``max_retries`` endpoints;
        ``max_queries`` caps all model calls together.
        """
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"model must have a predict method, got {type(model).__name__}")
        X = as_data_array(probe_X, "probe_X")
        if len(X) < 2:
            raise ValueError("probe_X needs at least 2 samples")
        max_retries = positive_int(max_retries, "max_retries")
        max_queries = positive_int(max_queries, "max_queries")
        seed = seed_int(seed, "seed")
        if max(X.shape[1:]) > MAX_DIMENSION:
            raise ValueError(f"probe_X has samples of shape {X.shape[1:]}; a Know2Vec file holds no dimension over "
                             f"{MAX_DIMENSION}")
        if tol is not None:
            tol = positive_float(tol, "tol")
        if len(X) > max_queries:
            raise ValueError(f"the probe set ({len(X)} samples) alone exceeds max_queries={max_queries}")

        predict = one_label_per_row(model)
        predicted = predict(X)
        queries = len(X)
        proba = None
        if callable(getattr(model, "predict_proba", None)) and hasattr(model, "classes_"):
            proba = np.asarray(model.predict_proba(X))
        if classes is None:
            classes = getattr(model, "classes_", None)
        if classes is None:
            classes = np.unique(predicted)
        classes = sorted(dict.fromkeys(canonical_label(c, "classes") for c in np.asarray(classes).tolist()))
        K = len(classes)
        if K < 2:
            raise ValueError(f"the model knows one class only ({classes}); a boundary graph needs two")
        problem = classes_problem(classes)  # what the loader would refuse, e.g. [True, 2]
        if problem:
            raise ValueError(f"the model's {problem}")
        if K > MAX_CLASSES or K * K * int(np.prod(X.shape[1:])) > MAX_GRID_VALUES:
            raise ValueError(f"a boundary graph of {K} classes x {K} of {int(np.prod(X.shape[1:]))}-value nodes is "
                             f"more than a Know2Vec file holds (at most {MAX_CLASSES} classes and "
                             f"{MAX_GRID_VALUES} node values)")

        members = [np.flatnonzero(predicted == c) for c in classes]
        present = [len(m) > 0 for m in members]
        centroids = {}
        for k, (c, m) in enumerate(zip(classes, members)):
            if not len(m):
                continue
            if proba is not None:
                column = list(np.asarray(model.classes_).tolist()).index(c)
                centroids[k] = m[np.argmax(proba[m, column])]
            else:
                rows = X[m].astype(np.float64)  # squares of rows near 1e19 overflow float32
                centroids[k] = m[np.argmin(((rows - rows.mean(axis=0)) ** 2).reshape(len(m), -1).sum(axis=1))]

        if not centroids:
            raise ValueError(f"the model labels no probe row with any of its classes {classes[:10]}: a boundary "
                             "graph needs at least one class the probe set reaches (check classes, or the probe set)")
        nodes = np.full((K, K) + X.shape[1:], np.nan, dtype=np.float32)
        for k, row in centroids.items():
            nodes[k, k] = X[row]
        # distances in float64: rows near 1e19 square beyond float32 (an infinite tol, then NaN step counts)
        if tol is None:
            pts = np.stack([X[r].ravel() for r in centroids.values()]).astype(np.float64)
            dists = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))[np.triu_indices(len(pts), 1)]
            tol = 1e-3 * float(np.median(dists)) if dists.size and np.median(dists) > 0 else 1e-3

        # Candidate end points for pair (i, j): the centroid of j, then j-labelled probes nearest the centroid of i.
        rng = np.random.default_rng(seed)
        pairs = [(i, j) for i in centroids for j in centroids if i != j]
        candidates = {}
        for i, j in pairs:
            others = members[j][members[j] != centroids[j]]
            # summed over the sample axes, not reshape(len(others), -1): a class of one probe row has no others,
            # and numpy cannot infer -1 for an empty array
            d = ((X[others].astype(np.float64) - X[centroids[i]]) ** 2).sum(axis=tuple(range(1, X.ndim)))
            order = others[np.argsort(d + 1e-12 * rng.random(len(d)), kind="stable")]
            candidates[(i, j)] = [centroids[j]] + order[: max_retries - 1].tolist()

        pending = list(pairs)
        third_class_retries = 0
        for attempt in range(max_retries):
            # Bisection halves the bracket each query: admit only the segments whose calls the budget covers.
            batch, cost = [], 0
            for i, j in pending:
                if attempt >= len(candidates[(i, j)]):
                    continue
                steps = bisection_steps(X[centroids[i]], X[candidates[(i, j)][attempt]], tol=tol,
                                        max_steps=BISECTION_STEPS)
                if queries + cost + steps > max_queries:
                    break
                batch.append((i, j))
                cost += steps
            if not batch:
                break
            starts = np.stack([X[centroids[i]] for i, _ in batch])
            ends = np.stack([X[candidates[(i, j)][attempt]] for i, j in batch])
            result = bisect_segments(
                predict, starts, ends, [classes[i] for i, _ in batch], [classes[j] for _, j in batch],
                tol=tol, max_steps=BISECTION_STEPS,
            )
            queries += result.queries
            third_class_retries += int(result.third_class.sum())
            for (i, j), ok, point in zip(batch, result.found, result.points):
                if ok:
                    nodes[i, j] = point
            pending = [(i, j) for i, j in pending if np.isnan(nodes[i, j]).any()]

        self.classes = classes
        self.present = present
        self.nodes = nodes
        self.queries = int(queries)
        index = {c: k for k, c in enumerate(classes)}
        self.probe_predictions = np.array([index.get(p, -1) for p in predicted.tolist()], dtype=np.int64)
        self.settings = {"tol": float(tol), "max_retries": max_retries, "max_queries": max_queries, "seed": int(seed),
                         "probe_size": int(len(X)), "probe_sha256": probe_fingerprint(X),
                         "used_predict_proba": proba is not None, "missing_pairs": len(pending),
                         "third_class_retries": third_class_retries}
        return self

    # ------------------------------------------------------------- accessors
    def _require_content(self):
        if self.nodes is None:
            raise ValueError("this Know2VecSpecification is empty: generate it from a model or load it")

    @property
    def input_shape(self) -> tuple[int, ...]:
        self._require_content()
        return tuple(self.nodes.shape[2:])

    def graph(self) -> tuple[np.ndarray, np.ndarray]:
        """``(nodes, mask)``: nodes ``(K, K, D)`` flattened, mask ``(K, K)`` True where a node exists."""
        self._require_content()
        K = len(self.classes)
        flat = self.nodes.reshape(K, K, -1)
        return flat, ~np.isnan(flat).any(axis=2)

    def probe_labels(self, probe_X, fingerprint: str | None = None) -> np.ndarray:
        """The model's label for every row of ``probe_X``, as stored when the specification was built: an object
        array (None where the model answered outside its classes). Refuses a probe set other than the one the
        answers belong to and a format 1 file, which stored none. ``fingerprint`` is ``probe_fingerprint(probe_X)``
        when a caller checks many specifications against one probe set (it is then hashed once)."""
        if fingerprint is None:  # checked and hashed here once, not again in holds_probe_labels
            probe_X = as_data_array(probe_X, "probe_X")
            fingerprint = probe_fingerprint(probe_X)
        if not self.holds_probe_labels(probe_X, fingerprint):
            raise ValueError("this Know2Vec specification stores no probe predictions (format 1): query the model"
                             if self.probe_predictions is None else
                             f"this Know2Vec specification's probe predictions answer another probe set "
                             f"({len(self.probe_predictions)} rows, sha256 {self.settings.get('probe_sha256')}) "
                             f"than the {len(probe_X)} rows given")
        return np.array([self.classes[i] if i >= 0 else None for i in self.probe_predictions.tolist()], dtype=object)

    def holds_probe_labels(self, probe_X, fingerprint: str | None = None) -> bool:
        """Whether :meth:`probe_labels` can answer for ``probe_X``: predictions stored for these very rows."""
        self._require_content()
        if fingerprint is None:
            probe_X = as_data_array(probe_X, "probe_X")
        if self.probe_predictions is None or len(probe_X) != len(self.probe_predictions):
            return False
        if fingerprint is None:
            fingerprint = probe_fingerprint(probe_X)
        return fingerprint == self.settings.get("probe_sha256")

    def dist(self, other, omit_term1: bool = False):
        raise NotImplementedError("Know2Vec specifications are compared through a fitted Know2VecProxy")

    # ------------------------------------------------------------------- I/O
    def to_dict(self) -> dict:
        self._require_content()
        return know2vec_to_dict(self)

    def save(self, filepath) -> None:
        write_json(filepath, self.to_dict())

    def load(self, filepath) -> bool:
        """Read a file written by :meth:`save` (format 1 or 2), checking schema, version and consistency."""
        data = read_json(filepath, self.type, supported_versions=READABLE_VERSIONS)
        for name, value in know2vec_fields_from_dict(data, str(filepath)).items():
            setattr(self, name, value)
        return True


def one_label_per_row(model):
    """``model.predict`` giving one label per row: a column of labels ``(n, 1)`` (what learnware models often
    return) is flattened, any other shape refused (comparing it with labels would broadcast silently)."""
    def predict(X):
        labels = np.asarray(model.predict(X))
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.shape != (len(X),):
            raise ValueError(f"model.predict must give one label per row: {len(X)} rows gave shape {labels.shape}")
        return labels

    return predict


def probe_fingerprint(probe_X) -> str:
    """SHA-256 of a probe set's rows as flat float32 values (and their shape): the same rows give the same
    fingerprint whatever shape a model was asked them in."""
    import hashlib

    X = np.ascontiguousarray(np.asarray(probe_X, dtype=np.float32).reshape(len(probe_X), -1))
    return hashlib.sha256(repr(X.shape).encode() + X.tobytes()).hexdigest()


def generate_know2vec_spec(model, probe_X, **options) -> Know2VecSpecification:
    """Build a :class:`Know2VecSpecification` of ``model`` on the market's probe set."""
    return Know2VecSpecification().generate_stat_spec_from_system(model, probe_X, **options)
