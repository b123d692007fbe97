"""The Know2Vec specification file: what ``Know2VecSpecification.save`` writes and ``load`` checks.

Format 2 (written now) adds the model's answer on every probe row
(``probe_predictions``, an index into its classes) and the fingerprint of the
probe set they answer (``settings.probe_sha256``); format 1 files load without
them. Loading checks what the schema cannot (``specs/know2vec-specification.schema.json``):
the grid's size before it is allocated, a ``K x K`` grid of nodes of
``prod(input_shape)`` values, a centroid for at least one class, and answers
that fit the classes; the builder refuses the same sizes, so what it writes loads.
"""

from __future__ import annotations

import numpy as np

from .formats import SpecificationFormatError, classes_problem, finite_float32

FORMAT_VERSION = 2  # 2: + probe_predictions and settings.probe_sha256 (format 1 files still load, without them)
READABLE_VERSIONS = (1, FORMAT_VERSION)
#: The most node values (classes x classes x features) a Know2Vec file may hold, checked before allocating.
MAX_GRID_VALUES = 50_000_000
#: The most classes, and the largest size of one input dimension, a Know2Vec file may hold (its schema's maxima).
MAX_CLASSES = 1000
MAX_DIMENSION = 1_000_000


def know2vec_to_dict(spec) -> dict:
    """The JSON content of a (non-empty) Know2VecSpecification, in the current format; a missing node is null."""
    K = len(spec.classes)
    flat = spec.nodes.reshape(K, K, -1)
    nodes = [[None if np.isnan(flat[i, j]).any() else [float(f"{v:.9g}") for v in flat[i, j].tolist()]
              for j in range(K)] for i in range(K)]
    doc = {"type": spec.type, "format_version": FORMAT_VERSION, "input_shape": list(spec.input_shape),
           "classes": list(spec.classes), "present": list(spec.present), "nodes": nodes,
           "queries": spec.queries, "settings": dict(spec.settings)}
    if spec.probe_predictions is not None:
        doc["probe_predictions"] = spec.probe_predictions.tolist()
    return doc


def know2vec_fields_from_dict(data: dict, filepath: str) -> dict:
    """The attributes of a Know2VecSpecification from schema-checked file content; inconsistencies raise
    :class:`SpecificationFormatError` naming ``filepath``."""
    K, shape = len(data["classes"]), tuple(data["input_shape"])
    D = int(np.prod(shape))
    if K * K * D > MAX_GRID_VALUES:
        raise SpecificationFormatError(f"{filepath}: a {K} x {K} grid of {D}-value nodes is more than the "
                                       f"{MAX_GRID_VALUES} values a Know2Vec file may hold")
    if classes_problem(data["classes"]):
        raise SpecificationFormatError(f"{filepath}: {classes_problem(data['classes'])}")
    if len(data["present"]) != K or len(data["nodes"]) != K or any(len(r) != K for r in data["nodes"]):
        raise SpecificationFormatError(f"{filepath} is inconsistent: nodes must be a {K} x {K} grid")
    nodes = np.full((K, K, D), np.nan, dtype=np.float32)
    for i, row in enumerate(data["nodes"]):
        for j, node in enumerate(row):
            if node is not None:
                if len(node) != D:
                    raise SpecificationFormatError(f"{filepath} is inconsistent: node ({i}, {j}) has "
                                                   f"{len(node)} values, input_shape needs {D}")
                values = finite_float32(node)
                if values is None:
                    raise SpecificationFormatError(f"{filepath}: node ({i}, {j}) holds values beyond the "
                                                   "float32 range")
                nodes[i, j] = values
    if not any(np.isfinite(nodes[k, k]).all() for k in range(K)):
        raise SpecificationFormatError(f"{filepath} is inconsistent: no class has a centroid node (nodes[k][k]): "
                                       "a boundary graph needs at least one class the probe set reached")
    predictions = data.get("probe_predictions")
    if predictions is not None:
        predictions = np.asarray(predictions, dtype=np.int64)
        size = data["settings"]["probe_size"]
        if len(predictions) != size or (predictions >= K).any() or (predictions < -1).any():
            raise SpecificationFormatError(f"{filepath} is inconsistent: probe_predictions needs one class index "
                                           f"below {K} (or -1) per probe row ({size})")
        if "probe_sha256" not in data["settings"]:
            raise SpecificationFormatError(f"{filepath} is inconsistent: probe_predictions without "
                                           "settings.probe_sha256 (which probe set they answer)")
    return {"classes": list(data["classes"]), "present": [bool(p) for p in data["present"]],
            "nodes": nodes.reshape((K, K) + shape), "queries": int(data["queries"]),
            "settings": dict(data["settings"]), "probe_predictions": predictions}
