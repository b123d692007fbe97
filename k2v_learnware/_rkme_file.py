"""What a stock RKME table specification file must hold, checked before ``learnware``'s loader reads it.

``learnware``'s ``RKMETableSpecification.load`` checks nothing: a NaN point
loads and makes every distance NaN, ``z`` as an object fails with a KeyError,
a ``gamma`` of ``"x"`` with a bare ``could not convert string to float``. The
market service (a user's file) and the CLI (``inspect``, ``compare``) both
refuse such files first, each in its own words; this is the check they share.
numpy only, so the CLI's light commands stay light.
"""

from __future__ import annotations

import math

import numpy as np


def _array(doc: dict, key: str, ndim: int) -> tuple[np.ndarray | None, str | None]:
    try:
        value = np.asarray(doc[key], dtype=np.float64)
    except KeyError:
        return None, f"field {key!r} is missing"
    except (TypeError, ValueError, RecursionError, ArithmeticError):
        return None, f"field {key!r} must be a {ndim}-d array of numbers"
    if value.ndim != ndim or value.size == 0 or not np.isfinite(value).all():
        return None, f"field {key!r} must be a non-empty, finite {ndim}-d array, got shape {value.shape}"
    return value, None


def rkme_table_problem(doc) -> str | None:
    """Why ``doc`` (a parsed RKME table file) cannot be loaded and searched with, or None when it can."""
    if not isinstance(doc, dict):
        return f"must be a JSON object, got {type(doc).__name__}"
    z, problem = _array(doc, "z", 2)
    if problem:
        return problem
    beta, problem = _array(doc, "beta", 1)
    if problem:
        return problem
    if len(z) != len(beta):
        return f"has {len(z)} points but {len(beta)} weights"
    gamma = doc.get("gamma", 0.1)
    try:
        good = isinstance(gamma, (int, float)) and not isinstance(gamma, bool) and 0 < float(gamma) < math.inf
    except OverflowError:  # an integer beyond any float
        good = False
    if not good:
        return f"gamma must be a finite positive number, got {str(gamma)[:40]}"
    return None
