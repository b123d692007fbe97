"""Input validation shared by every public entry point.

Each helper either returns a clean, canonical value or raises a ``ValueError`` /
``TypeError`` whose message names the argument and what is wrong with it, so
that a user sees the problem at the call they made rather than deep inside
torch or a QP solver.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

#: Label types that survive a JSON round trip unchanged.
JSON_LABEL_TYPES = (str, bool, int, float)


def as_data_array(X, name: str = "X", allowed_ndim=(2, 4), dtype=np.float32) -> np.ndarray:
    """Return ``X`` as a finite numpy array (float32 unless ``dtype`` says otherwise) of an allowed rank.

    Accepts numpy arrays, torch tensors and nested sequences. Feature vectors
    are ``(n, d)``; images are ``(n, c, h, w)``.
    """
    if X is None:
        raise TypeError(f"{name} must be an array of shape (n, d) or (n, c, h, w), got None")
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor, without importing torch
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} could not be read as an array: {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} (the imaginary part would be lost)")
    if arr.ndim not in allowed_ndim:
        shapes = " or ".join({2: "2-D (n, d)", 4: "4-D (n, c, h, w)", 1: "1-D (n,)"}.get(k, f"{k}-D")
                             for k in allowed_ndim)
        raise ValueError(f"{name} must have shape {shapes}, got {arr.ndim} dimensions {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no samples")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: it has no features, shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them first")
    with np.errstate(over="ignore"):
        converted = arr.astype(dtype, copy=False)
    if not np.all(np.isfinite(converted)):
        raise ValueError(f"{name} holds values beyond the range of {np.dtype(dtype).name} "
                         f"(largest magnitude {float(np.max(np.abs(arr))):.3g}); rescale it first")
    return converted


def canonical_label(value, name: str = "y"):
    """Turn a label into the plain Python value that JSON stores unchanged."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"{name} contains a non-finite label {value!r}")
    if not isinstance(value, JSON_LABEL_TYPES):
        raise TypeError(
            f"{name} holds a label of type {type(value).__name__} ({value!r}); labels must be "
            "strings, integers, floats or booleans so that they are stored exactly"
        )
    return value


def as_labels(y, n: int, name: str = "y") -> list:
    """Return ``y`` as a list of canonical labels of length ``n``."""
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise TypeError(f"{name} must be a sequence of labels, got {type(y).__name__}")
    if isinstance(y, np.ndarray):
        arr = y
    else:  # keep each element whole: a list of tuples must not become a 2-D array
        items = list(y)
        arr = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            arr[i] = v
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} labels but X has {n} samples; they must match")
    labels = [canonical_label(v, name) for v in arr.tolist()]
    kinds = {type(v) for v in labels}
    if len(kinds) > 1 and not kinds <= {int, float}:
        raise TypeError(f"{name} mixes label types {sorted(k.__name__ for k in kinds)}; use one type")
    return labels


def positive_int(value, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int, raising if it is not an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


#: Seeds are what numpy and torch both take: 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1


def seed_int(value, name: str = "seed") -> int:
    """Return ``value`` as a seed, raising (naming ``name``) unless it is an integer in ``[0, 2**32 - 1]``."""
    return positive_int(value, name, minimum=0, maximum=MAX_SEED)


def positive_float(value, name: str) -> float:
    """Return ``value`` as a float, raising if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def real_in(value, name: str, low: float, high: float) -> float:
    """Return ``value`` as a float, raising (naming ``name``) unless it is a finite number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not (np.isfinite(value) and low <= float(value) <= high):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def count_range(value, name: str) -> tuple[int, int]:
    """Return ``value`` as ``(low, high)`` integers with ``1 <= low <= high``, raising (naming ``name``) otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a (low, high) pair of counts, got {value!r}")
    low, high = (positive_int(v, name) for v in value)
    if low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    return low, high


def one_of(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def as_path(value, name: str = "path") -> Path:
    """Return ``value`` as a Path, raising (naming ``name``) unless it is a str or an ``os.PathLike`` of one."""
    if not isinstance(value, (str, os.PathLike)) or isinstance(os.fspath(value), bytes):
        raise TypeError(f"{name} must be a file path (str or pathlib.Path), got {type(value).__name__} ({value!r:.60})")
    if not os.fspath(value):
        raise ValueError(f"{name} is empty; give a file path")
    return Path(value)

