"""The LANE specification file: what ``LANESpecification.save`` writes and ``load`` checks.

Format 2 records the embedding family's ``normalization``
(``"none"``: the fixed family whose class-mean embeddings a market stores).
Format 1 files have no such field: their family calibrates BatchNorm
(``"calibrated"``), and they keep loading and searching as before. Format 3
(written now) may carry ``class_mixtures``, per class a Gaussian mixture of the
developer's rows that mimic data are drawn from (:mod:`.class_mixtures`);
without it (formats 1-2) mimic data come from the condensed points' Gaussians.
Format 4 (written now) may carry ``data_class_means``: per class the mean
embedding of the developer's rows in the spec's own fixed family, which a
search reads instead of the points' means (:mod:`.kept_class_means`).
"""

from __future__ import annotations

import numpy as np

from .class_mixtures import read_class_mixtures
from .embedding_config import EmbeddingConfig
from .formats import SpecificationFormatError, classes_problem, finite_float32

FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)

#: Bounds on every size a LANE file or ``generate_lane_spec`` may ask for, checked before anything is
#: allocated (the same maxima are in ``specs/lane-specification.schema.json``; a test keeps them equal).
LIMITS = {
    "features": 1_000_000,  # numbers per sample, prod(input_shape)
    "points": 100_000,  # synthetic samples in a spec
    "classes": 10_000,
    "num_nets": 64,
    "width": 4096,
    "depth": 16,
    "num_per_class": 10_000,
    "iterations": 1_000_000,
    "batch_real": 1_000_000,
    # real samples of one class: the largest integer a float64 holds exactly, so that class shares are finite
    "class_count": 2**53 - 1,
    "family_output": 1_000_000,  # numbers in a row of data_class_means (the family's output)
}


def _float_rows(array) -> list[list[float]]:
    """A 2-D float32 array as JSON rows: 9 significant digits give back every float32 exactly, in fewer
    characters."""
    return [[float(f"{v:.9g}") for v in row] for row in array.tolist()]


def lane_to_dict(spec) -> dict:
    """The JSON content of a (non-empty) LANESpecification, in the current format."""
    embedding = dict(spec.embedding)
    embedding.setdefault("normalization", "calibrated")  # a format-1 spec read earlier
    out = {
        "type": spec.type,
        "format_version": FORMAT_VERSION,
        "input_shape": list(spec.input_shape),
        "z": _float_rows(spec.z.reshape(len(spec.z), -1)),
        "labels": list(spec.labels),
        "classes": list(spec.classes),
        "class_counts": list(spec.class_counts),
        "embedding": embedding,
        "condensation": dict(spec.condensation),
        "feature_range": list(spec.feature_range),
    }
    if spec.class_mixtures is not None:
        out["class_mixtures"] = [mixture.to_dict() for mixture in spec.class_mixtures]
    if spec.data_class_means is not None:
        out["data_class_means"] = _float_rows(spec.data_class_means)
    return out


def lane_fields_from_dict(data: dict, where: str) -> dict:
    """The attributes of a LANESpecification from schema-checked file content; inconsistencies raise.

    ``where`` names the file in the messages.
    """
    shape = tuple(data["input_shape"])
    flat = int(np.prod(shape))
    if flat > LIMITS["features"]:
        raise SpecificationFormatError(f"{where}: input_shape {list(shape)} has {flat} features per sample, more "
                                       f"than the {LIMITS['features']} a LANE file may hold")
    problems = []
    if any(len(row) != flat for row in data["z"]):
        raise SpecificationFormatError(f"{where} is inconsistent: z rows must have {flat} values "
                                       f"for input_shape {list(shape)}")
    z = finite_float32(data["z"])
    if z is None:
        raise SpecificationFormatError(f"{where}: z holds values beyond the float32 range")
    if classes_problem(data["classes"]):
        problems.append(classes_problem(data["classes"]))
    if len(data["labels"]) != len(z):
        problems.append(f"{len(data['labels'])} labels for {len(z)} samples")
    if len(data["class_counts"]) != len(data["classes"]):
        problems.append("class_counts and classes differ in length")
    labelled, known = set(data["labels"]), set(data["classes"])  # JSON scalars: hashable
    if not labelled <= known:
        problems.append("labels hold values that are not in classes")
    pointless = [c for c in data["classes"] if c not in labelled]
    if pointless:  # a class without points has no class mean: NaN would reach the search
        problems.append(f"classes {pointless[:10]} have no points (every class needs a label among z's)")
    if tuple(data["embedding"]["input_shape"]) not in (shape, (flat,)):
        problems.append("embedding input_shape does not match input_shape")
    if data["format_version"] >= 2 and "normalization" not in data["embedding"]:
        problems.append("a format 2 embedding must name its normalization")
    if data["format_version"] < 3 and "class_mixtures" in data:
        problems.append("class_mixtures need format 3")
    if "data_class_means" in data:
        problems += _data_means_problems(data)
    if problems:
        raise SpecificationFormatError(f"{where} is inconsistent: " + "; ".join(problems))
    embedding = dict(data["embedding"])
    embedding.setdefault("normalization", "calibrated")  # format 1
    try:  # a family that cannot be built (a convnet over vectors) is refused now, not at its first use
        EmbeddingConfig.from_dict(embedding)
    except ValueError as err:
        raise SpecificationFormatError(f"{where}: its embedding family cannot be built: {err}") from None
    if not all(np.isfinite(float(v)) for v in data["feature_range"]) or data["feature_range"][0] > \
            data["feature_range"][1]:
        raise SpecificationFormatError(f"{where}: feature_range must be finite [min, max], got {data['feature_range']}")
    return {
        "z": z.reshape((len(z),) + shape),
        "labels": list(data["labels"]),
        "classes": list(data["classes"]),
        "class_counts": [int(n) for n in data["class_counts"]],
        "embedding": embedding,
        "condensation": dict(data["condensation"]),
        "feature_range": [float(v) for v in data["feature_range"]],
        "class_mixtures": read_class_mixtures(data.get("class_mixtures"), len(data["classes"]), flat, where),
        "data_class_means": _read_data_means(data.get("data_class_means"), where),
    }


def family_output_width(embedding: dict) -> int:
    """Length of a schema-checked family's embedding, known without building it (or importing torch):
    ``num_nets`` networks of ``width`` outputs (MLP) or ``width * (h >> depth) * (w >> depth)`` (ConvNetBN)."""
    per_net = embedding["width"]
    if embedding["kind"] == "convnet":
        _, h, w = embedding["input_shape"]
        per_net *= (h >> embedding["depth"]) * (w >> embedding["depth"])
    return per_net * embedding["num_nets"]


def _data_means_problems(data: dict) -> list[str]:
    """Why a file's ``data_class_means`` cannot stand for its classes in its family (empty: they can)."""
    means, embedding = data["data_class_means"], data["embedding"]
    if data["format_version"] < 4:
        return ["data_class_means need format 4"]
    if embedding.get("normalization") != "none":
        return ["data_class_means need a fixed embedding family (normalization 'none')"]
    if embedding["kind"] == "convnet" and len(embedding["input_shape"]) != 3:
        return ["a convnet embedding needs an input_shape [c, h, w]"]
    width = family_output_width(embedding)
    if len(means) != len(data["classes"]) or any(len(row) != width for row in means):
        return [f"data_class_means must be {len(data['classes'])} rows (one per class) of {width} numbers "
                f"(the family's output)"]
    return []


def _read_data_means(means, where: str):
    if means is None:
        return None
    array = finite_float32(means)
    if array is None:
        raise SpecificationFormatError(f"{where}: data_class_means hold values beyond the float32 range")
    return array
