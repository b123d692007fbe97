"""Market service: the user's specification a search brings, read without trusting it.

The stock client saves the user's statistical specification as JSON and sends
the file; its ``type`` field says which class it is. We read LANE
specifications through their schema, RKME table specifications and Know2Vec
queries with explicit checks, and refuse non-finite numbers in any of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .replies import BAD_REQUEST, ServiceError
from .request_checks import strict_json

SUPPORTED = ("LANESpecification", "RKMETableSpecification", "Know2VecQuery")


def _finite_array(doc: dict, key: str, ndim: int) -> np.ndarray:
    try:
        value = np.asarray(doc[key], dtype=np.float64)
    except (KeyError, TypeError, ValueError, RecursionError):
        raise ServiceError(BAD_REQUEST, f"RKMETableSpecification field {key!r} must be a {ndim}-d array of "
                                        "numbers") from None
    if value.ndim != ndim or value.size == 0 or not np.isfinite(value).all():
        raise ServiceError(BAD_REQUEST, f"RKMETableSpecification field {key!r} must be a non-empty, finite "
                                        f"{ndim}-d array, got shape {value.shape}")
    return value


def read_user_spec(data: bytes):
    """``(type, specification)`` from the bytes of an uploaded specification file."""
    doc = strict_json(data, "statistical_specification")
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in SUPPORTED:
        raise ServiceError(BAD_REQUEST, f"statistical_specification type must be one of {', '.join(SUPPORTED)}; "
                                        f"got {str(kind)[:80]!r}")
    if kind == "Know2VecQuery":
        from ..retrieval.tasks import Know2VecQuery

        try:
            return kind, Know2VecQuery.from_dict(doc)
        except (TypeError, ValueError, RecursionError) as err:
            raise ServiceError(BAD_REQUEST, f"statistical_specification: {err}") from None
    if kind == "RKMETableSpecification":
        z, beta = _finite_array(doc, "z", 2), _finite_array(doc, "beta", 1)
        if len(z) != len(beta):
            raise ServiceError(BAD_REQUEST, f"RKMETableSpecification has {len(z)} points but {len(beta)} weights")
        gamma = doc.get("gamma", 0.1)
        if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or not 0 < gamma < float("inf"):
            raise ServiceError(BAD_REQUEST, f"RKMETableSpecification gamma must be a positive number, got {gamma!r}")
    with tempfile.TemporaryDirectory(prefix="k2v_user_spec_") as folder:
        path = Path(folder) / "spec.json"
        path.write_bytes(data)
        try:
            if kind == "LANESpecification":
                from ..specification.lane import LANESpecification

                spec = LANESpecification()
            else:
                from learnware.specification import RKMETableSpecification

                spec = RKMETableSpecification()
            spec.load(str(path))
        except Exception as err:  # an untrusted file: whatever the loader trips on, the file is at fault
            raise ServiceError(BAD_REQUEST, f"statistical_specification: {type(err).__name__}: {err}") from None
    return kind, spec
