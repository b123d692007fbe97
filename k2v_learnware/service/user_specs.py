"""Market service: the user's specification a search brings, read without trusting it.

The stock client saves the user's statistical specification as JSON and sends
the file; its ``type`` field says which class it is. We read LANE
specifications through their schema, RKME table specifications and Know2Vec
queries with explicit checks, and refuse non-finite numbers in any of them.
Numbers a LANE search embeds (the points ``z`` and the rows' class means
``data_class_means``) must also keep a finite square in float32: the random
networks and the QP square them, and an overflow there would fail the search
instead of the request. Messages name the request's field, never a path of
the server's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .._rkme_file import rkme_table_problem
from .replies import BAD_REQUEST, ServiceError
from .request_checks import strict_json

SUPPORTED = ("LANESpecification", "RKMETableSpecification", "Know2VecQuery")
#: Largest magnitude whose square a float32 holds (sqrt of its largest value, ~1.8e19).
MAX_EMBEDDED_MAGNITUDE = float(np.sqrt(np.finfo(np.float32).max))
FIELD = "statistical_specification"


def _embedded_magnitudes(doc: dict) -> None:
    """The LANE fields a search embeds: beyond ~1.8e19 their squares overflow float32 in the networks."""
    for key in ("z", "data_class_means"):
        try:
            value = np.abs(np.asarray(doc.get(key), dtype=np.float64))
        except (TypeError, ValueError, RecursionError, ArithmeticError):
            continue  # not an array of numbers: the loader's schema says what is wrong with it
        if value.size == 0 or not np.isfinite(value).all():
            continue  # the loader refuses these
        largest = float(value.max())
        if largest > MAX_EMBEDDED_MAGNITUDE:
            raise ServiceError(BAD_REQUEST, f"LANESpecification field {key!r} holds {largest:.3g}; a search "
                                            f"squares these values in float32, so they must stay within "
                                            f"{MAX_EMBEDDED_MAGNITUDE:.3g} in magnitude")


def read_user_spec(data: bytes):
    """``(type, specification)`` from the bytes of an uploaded specification file."""
    doc = strict_json(data, FIELD)
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in SUPPORTED:
        raise ServiceError(BAD_REQUEST, f"{FIELD} type must be one of {', '.join(SUPPORTED)}; "
                                        f"got {str(kind)[:80]!r}")
    if kind == "Know2VecQuery":
        from ..retrieval.tasks import Know2VecQuery

        try:
            return kind, Know2VecQuery.from_dict(doc)
        except (TypeError, ValueError, RecursionError, ArithmeticError) as err:
            raise ServiceError(BAD_REQUEST, f"{FIELD}: {str(err)[:500]}") from None
    if kind == "RKMETableSpecification":
        problem = rkme_table_problem(doc)
        if problem:
            raise ServiceError(BAD_REQUEST, f"RKMETableSpecification {problem}")
    else:
        _embedded_magnitudes(doc)
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
            message = str(err).replace(str(path), FIELD).replace(folder, FIELD)[:500]
            raise ServiceError(BAD_REQUEST, f"{FIELD}: {type(err).__name__}: {message}") from None
    return kind, spec
