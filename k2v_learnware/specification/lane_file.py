"""The LANE specification file: what ``LANESpecification.save`` writes and ``load`` checks.

Format 2 (written now) records the embedding family's ``normalization``
(``"none"``: the fixed family whose class-mean embeddings a market stores).
Format 1 files have no such field: their family calibrates BatchNorm
(``"calibrated"``), and they keep loading and searching as before.
"""

from __future__ import annotations

import numpy as np

from .formats import SpecificationFormatError

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def lane_to_dict(spec) -> dict:
    """The JSON content of a (non-empty) LANESpecification, in the current format."""
    embedding = dict(spec.embedding)
    embedding.setdefault("normalization", "calibrated")  # a format-1 spec read earlier
    return {
        "type": spec.type,
        "format_version": FORMAT_VERSION,
        "input_shape": list(spec.input_shape),
        # 9 significant digits give back every float32 exactly, in fewer characters.
        "z": [[float(f"{v:.9g}") for v in row] for row in spec.z.reshape(len(spec.z), -1).tolist()],
        "labels": list(spec.labels),
        "classes": list(spec.classes),
        "class_counts": list(spec.class_counts),
        "embedding": embedding,
        "condensation": dict(spec.condensation),
        "feature_range": list(spec.feature_range),
    }


def lane_fields_from_dict(data: dict, where: str) -> dict:
    """The attributes of a LANESpecification from schema-checked file content; inconsistencies raise.

    ``where`` names the file in the messages.
    """
    shape = tuple(data["input_shape"])
    flat = int(np.prod(shape))
    problems = []
    if any(len(row) != flat for row in data["z"]):
        raise SpecificationFormatError(f"{where} is inconsistent: z rows must have {flat} values "
                                       f"for input_shape {list(shape)}")
    z = np.asarray(data["z"], dtype=np.float32)
    if len(data["labels"]) != len(z):
        problems.append(f"{len(data['labels'])} labels for {len(z)} samples")
    if len(data["class_counts"]) != len(data["classes"]):
        problems.append("class_counts and classes differ in length")
    if not all(v in data["classes"] for v in data["labels"]):
        problems.append("labels hold values that are not in classes")
    if tuple(data["embedding"]["input_shape"]) not in (shape, (flat,)):
        problems.append("embedding input_shape does not match input_shape")
    if data["format_version"] >= 2 and "normalization" not in data["embedding"]:
        problems.append("a format 2 embedding must name its normalization")
    if problems:
        raise SpecificationFormatError(f"{where} is inconsistent: " + "; ".join(problems))
    embedding = dict(data["embedding"])
    embedding.setdefault("normalization", "calibrated")  # format 1
    return {
        "z": z.reshape((len(z),) + shape),
        "labels": list(data["labels"]),
        "classes": list(data["classes"]),
        "class_counts": [int(n) for n in data["class_counts"]],
        "embedding": embedding,
        "condensation": dict(data["condensation"]),
        "feature_range": [float(v) for v in data["feature_range"]],
    }
