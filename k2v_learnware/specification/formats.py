"""Reading and writing our specification files: JSON checked against ``specs/``.

Loading never executes code from a file: JSON only, validated against the JSON
Schema shipped in ``specs/`` and against the format version we can read.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

SCHEMA_FILES = {
    "LANESpecification": "lane-specification.schema.json",
    "Know2VecSpecification": "know2vec-specification.schema.json",
    "Know2VecProxy": "know2vec-proxy.schema.json",
    "Know2VecProbeLabels": "know2vec-probe-labels.schema.json",
}


class SpecificationFormatError(ValueError):
    """A specification file that cannot be read: not JSON, wrong schema, or wrong version."""


class SpecificationFileNotFound(SpecificationFormatError, FileNotFoundError):
    """A specification file that is not there (both our format error and a ``FileNotFoundError``)."""


#: The largest specification file we read (a LANE spec of 100 points of 3x32x32 is ~3 MB).
MAX_FILE_BYTES = 64 * 2**20


def _no_constant(name: str):
    raise SpecificationFormatError(f"{name} is not a number a specification may hold (only finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise SpecificationFormatError(f"{text} is beyond the range of a float (only finite numbers)")
    return value


def parse_json_object(path: Path) -> dict:
    """The JSON object a file holds; NaN, infinities, numbers beyond a float, deep nesting and anything but an
    object are a format error naming ``path`` (the file is read whatever its size: callers bound it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except SpecificationFormatError as exc:
        raise SpecificationFormatError(f"{path}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecificationFormatError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SpecificationFormatError(f"{path} nests its JSON too deeply") from exc
    if not isinstance(data, dict):
        raise SpecificationFormatError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


@lru_cache(maxsize=None)
def schema_for(type_name: str) -> dict:
    """The JSON Schema (as a dict) for files of the given specification type."""
    try:
        filename = SCHEMA_FILES[type_name]
    except KeyError:
        raise ValueError(f"no schema is known for specification type {type_name!r}") from None
    text = resources.files("k2v_learnware").joinpath("specs", filename).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator_for(type_name: str):
    """One checked validator per schema: ``jsonschema.validate`` re-checks the schema against its meta-schema
    on every call, which was three quarters of the time to load a requirement (35 -> 12 ms a load)."""
    import jsonschema

    schema = schema_for(type_name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def finite_float32(values):
    """``values`` as a float32 array, or None when one is beyond the float32 range (a JSON integer included)."""
    import numpy as np

    try:
        with np.errstate(over="ignore"):
            array = np.asarray(values, dtype=np.float32)
    except OverflowError:  # an integer beyond any float
        return None
    return array if np.all(np.isfinite(array)) else None


def classes_problem(classes) -> str | None:
    """Why ``classes`` cannot be a specification's class list (JSON types mixed, a class repeated), or None."""
    kinds = {"number" if type(c) in (int, float) else type(c).__name__ for c in classes}  # JSON's types
    if len(kinds) > 1:
        return f"classes mix JSON types {sorted(kinds)}"
    if len(set(classes)) != len(classes):
        return f"classes must be distinct, got {classes[:20]}"
    return None


def read_json(path, type_name: str, supported_versions=(1,)) -> dict:
    """Read a specification file, validate it and return its content.

    Raises :class:`SpecificationFormatError` naming the file and the problem
    (:class:`SpecificationFileNotFound`, also a ``FileNotFoundError``, for a
    missing file). NaN, infinities and numbers beyond a float never load; a
    file over ``MAX_FILE_BYTES`` is refused before it is read.
    """
    import jsonschema

    from .._checks import as_path  # numpy; this module stays light for the CLI

    path = as_path(path)
    if not path.is_file():
        raise SpecificationFileNotFound(f"specification file not found: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SpecificationFormatError(f"{path} is {size} bytes, more than the {MAX_FILE_BYTES} a "
                                       "specification file may have")
    data = parse_json_object(path)
    if data.get("type") != type_name:
        raise SpecificationFormatError(f"{path} holds a {data.get('type')!r} specification, expected {type_name!r}")
    version = data.get("format_version")
    if version not in supported_versions:
        raise SpecificationFormatError(
            f"{path} has format_version {version!r}; this k2v_learnware reads versions {list(supported_versions)}"
        )
    error = jsonschema.exceptions.best_match(validator_for(type_name).iter_errors(data))  # as jsonschema.validate
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise SpecificationFormatError(f"{path} does not match the {type_name} schema at {where}: {error.message}")
    return data


def json_text(data: dict, name) -> str:
    """``data`` as the JSON text of a file that will load again: a non-finite number or a file over
    ``MAX_FILE_BYTES`` (which :func:`read_json` refuses) is a ValueError naming ``name``; nothing is written."""
    try:
        text = json.dumps(data, allow_nan=False)  # ASCII: one byte a character
    except ValueError:
        raise ValueError(f"cannot write {name}: it would hold a NaN or infinite number, which no specification "
                         "file may hold") from None
    if len(text) > MAX_FILE_BYTES:
        raise ValueError(f"cannot write {name}: it would be {len(text)} bytes, more than the {MAX_FILE_BYTES} a "
                         "specification file may have (it would not load again); keep fewer points or features")
    return text


def write_json(path, data: dict) -> None:
    """Write ``data`` as JSON; floats keep their exact value (Python's repr round-trips). What would not load
    again (non-finite numbers, over ``MAX_FILE_BYTES``) is refused before anything is written."""
    from .._checks import as_path  # numpy; this module stays light for the CLI

    path = as_path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give the name of the file to write")
    replace_atomically(path, json_text(data, path).encode("utf-8"))


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` under a fresh name beside ``path``, then move it into place: a reader sees the old file
    or the new one, never half of one, and a failed write leaves the old file as it was."""
    import os
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def file_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created when missing) for the block: writers of files that
    belong together (a proxy's pair, the probe set and its labels) take turns across processes, so one
    never deletes or overwrites what another has just written. The lock goes when its holder dies."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def saved_size(spec) -> int:
    """Bytes of the file ``spec.save`` writes (any specification with a ``save(path)``, ours or RKME)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.json"
        spec.save(str(path))
        return path.stat().st_size
