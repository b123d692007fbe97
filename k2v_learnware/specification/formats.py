"""Reading and writing our specification files: JSON checked against ``specs/``.

Loading never executes code from a file: JSON only, validated against the JSON
Schema shipped in ``specs/`` and against the format version we can read.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

SCHEMA_FILES = {
    "LANESpecification": "lane-specification.schema.json",
    "Know2VecSpecification": "know2vec-specification.schema.json",
    "Know2VecProxy": "know2vec-proxy.schema.json",
}


class SpecificationFormatError(ValueError):
    """A specification file that cannot be read: not JSON, wrong schema, or wrong version."""


@lru_cache(maxsize=None)
def schema_for(type_name: str) -> dict:
    """The JSON Schema (as a dict) for files of the given specification type."""
    try:
        filename = SCHEMA_FILES[type_name]
    except KeyError:
        raise ValueError(f"no schema is known for specification type {type_name!r}") from None
    text = resources.files("k2v_learnware").joinpath("specs", filename).read_text(encoding="utf-8")
    return json.loads(text)


def read_json(path, type_name: str, supported_versions=(1,)) -> dict:
    """Read a specification file, validate it and return its content.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`SpecificationFormatError` naming the file and the problem otherwise.
    """
    import jsonschema

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"specification file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecificationFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecificationFormatError(f"{path} must hold a JSON object, got {type(data).__name__}")
    if data.get("type") != type_name:
        raise SpecificationFormatError(f"{path} holds a {data.get('type')!r} specification, expected {type_name!r}")
    version = data.get("format_version")
    if version not in supported_versions:
        raise SpecificationFormatError(
            f"{path} has format_version {version!r}; this k2v_learnware reads versions {list(supported_versions)}"
        )
    try:
        jsonschema.validate(data, schema_for(type_name))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise SpecificationFormatError(f"{path} does not match the {type_name} schema at {where}: {exc.message}") from exc
    return data


def write_json(path, data: dict) -> None:
    """Write ``data`` as JSON; floats keep their exact value (Python's repr round-trips)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    tmp.replace(path)


def saved_size(spec) -> int:
    """Bytes of the file ``spec.save`` writes (any specification with a ``save(path)``, ours or RKME)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.json"
        spec.save(str(path))
        return path.stat().st_size
