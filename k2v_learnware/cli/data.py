"""Data files (``.npz``, ``.npy``, ``.csv``) as the arrays the commands work on.

Serves the two ends of the learnware paradigm that start from raw data: a
developer's labelled rows (condensed into a specification, or training the
model that ``pack`` puts in a learnware) and a user's rows (condensed into a
requirement to search the market with, then predicted by ``reuse``). Every
check here names the file and the problem, and runs before torch or
``learnware`` is imported, so bad input costs a user no waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .common import CLIError, existing_file

DATA_SUFFIXES = (".npz", ".npy", ".csv")


@dataclass
class Data:
    """A data file as arrays: ``X`` (float32, ``(n, d)`` or ``(n, c, h, w)``) and ``y`` (list or None)."""

    path: Path
    X: object
    y: list | None


def load_data(path, *, x_key=None, y_key=None, labels=None, label_column=None, images=None,
              need_labels: bool = False) -> Data:
    """Read a data file into ``X`` and optional labels, with messages that name the file and the problem.

    Only numpy (and pandas, for ``.csv``) are used, so a bad file is reported
    before any heavy import.
    """
    import numpy as np

    path = existing_file(path, "data file")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise CLIError(f"{path}: unknown data file type {path.suffix or '(none)'!r}; use .npz, .npy or .csv")
    if label_column is not None and suffix != ".csv":
        raise CLIError("--label-column applies to .csv files only; use --y-key for .npz or --labels")
    if (x_key or y_key) and suffix != ".npz":
        raise CLIError("--x-key / --y-key apply to .npz files only")
    y = None
    if suffix == ".npz":
        X, y = _read_npz(path, x_key, y_key)
    elif suffix == ".npy":
        X = _load_array(path)
    else:
        from .csv_table import read_csv

        X, y = read_csv(path, label_column)

    if labels is not None:
        label_path = existing_file(labels, "labels file")
        if label_path.suffix.lower() != ".npy":
            raise CLIError(f"--labels must be a .npy file, got {label_path}")
        y = _load_array(label_path)
    X = _checked_features(path, np.asarray(X), images)
    if y is not None:
        y = _checked_labels(path, np.asarray(y), len(X))
    elif need_labels:
        raise CLIError(f"{path} has no labels: store them as 'y' in a .npz, pass --labels y.npy, "
                       "or name the CSV column with --label-column")
    return Data(path, X, y)


def data_from_args(args, need_labels=False, path=None) -> Data:
    """:func:`load_data` with the data-file options every data-reading command shares."""
    return load_data(path or args.data, x_key=args.x_key, y_key=args.y_key, labels=args.labels,
                     label_column=args.label_column, images=args.images, need_labels=need_labels)


def _read_npz(path: Path, x_key, y_key):
    """X and y from an archive: the named arrays, else ``X``/``y``, else the first and second array."""
    with _load_array(path) as archive:
        keys = list(archive.files)
        if not keys:
            raise CLIError(f"{path} holds no arrays")
        for key, flag in ((x_key, "--x-key"), (y_key, "--y-key")):
            if key is not None and key not in keys:
                raise CLIError(f"{flag} {key!r}: {path} holds no such array; it holds {keys}")
        x_name = x_key or next((k for k in ("X", "x") if k in keys), keys[0])
        if y_key is not None:
            y_name = y_key
        elif x_name in ("X", "x"):
            y_name = next((k for k in ("y", "Y") if k in keys), None)
        else:  # no named arrays: the first is X, the second (if any) y
            y_name = keys[1] if len(keys) > 1 else None
        try:  # each member is read here, not by np.load: an object array is refused only now
            return archive[x_name], (archive[y_name] if y_name is not None else None)
        except ValueError as exc:
            raise CLIError(f"cannot read {path}: {exc}") from exc


def _load_array(path: Path):
    """``np.load`` without pickles (a data file must not run code), its failures told as bad input."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays, bad headers
        raise CLIError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # a truncated or foreign file (zipfile.BadZipFile, EOFError, ...)
        raise CLIError(f"cannot read {path} as {path.suffix}: {type(exc).__name__}: {exc}") from exc


def _parse_images(text: str | None):
    """``--images C,H,W`` as a shape tuple (None when not given)."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"--images must be C,H,W (three integers), got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise CLIError(f"--images must be C,H,W (three positive integers), got {text!r}")
    return shape


def _checked_features(path: Path, X, images):
    """X as float32 rows or images; real numbers only, finite in float32, reshaped by ``--images`` when given.

    NaN and infinities are refused rather than imputed: condensation and the
    market's kernels would silently turn them into nonsense. Complex numbers and
    values beyond float32 are refused here too, naming the file: the cast to
    float32 would drop the imaginary part, or turn a huge value into an infinity
    that the library then reports as a NaN in ``X`` after the work has begun.
    """
    import numpy as np

    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise CLIError(f"{path}: the data array must hold numbers, it holds dtype {X.dtype}")
    if np.issubdtype(X.dtype, np.complexfloating):
        raise CLIError(f"{path}: the data array must hold real numbers, it holds dtype {X.dtype} "
                       "(the imaginary part would be lost)")
    if X.ndim < 2 or X.shape[0] == 0:
        raise CLIError(f"{path}: the data array has shape {X.shape}; expected rows of features (n, d)")
    image_shape = _parse_images(images)
    if image_shape is not None:
        size = int(np.prod(image_shape))
        if int(np.prod(X.shape[1:])) != size:
            raise CLIError(f"--images {images}: rows of {path} have {int(np.prod(X.shape[1:]))} values, "
                           f"{'x'.join(map(str, image_shape))} needs {size}")
        X = X.reshape((len(X),) + image_shape)
    elif X.ndim not in (2, 4):
        raise CLIError(f"{path}: the data array has shape {X.shape}; expected (n, d) or (n, c, h, w) "
                       "(give --images C,H,W to reshape rows into images)")
    bad = int(np.sum(~np.isfinite(X))) if X.dtype != bool else 0
    if bad:
        raise CLIError(f"{path} contains {bad} NaN or infinite value(s); clean or impute them first")
    with np.errstate(over="ignore"):
        converted = X.astype(np.float32)
    if not np.all(np.isfinite(converted)):  # float64 values beyond float32 become infinities in the cast
        raise CLIError(f"{path} holds values beyond the range of float32 (largest magnitude "
                       f"{float(np.max(np.abs(X))):.3g}); rescale them first")
    return converted


def _checked_labels(path: Path, y, rows: int) -> list:
    """Labels as a list, one per row; whole-number floats become ints so classes compare equal."""
    import numpy as np

    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise CLIError(f"labels of {path} must be one-dimensional, got shape {y.shape}")
    if len(y) != rows:
        raise CLIError(f"{path}: {rows} rows of data but {len(y)} labels; they must match")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)):
            raise CLIError(f"labels of {path} contain NaN or infinite values")
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)
    return y.tolist()
