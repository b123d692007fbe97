"""Specification files on disk: which type each holds, checked against its schema, then loaded.

Serves the specification stage of the learnware paradigm, where a
developer's (or a user's) data is summarised without being shared: ``pack``
bundles these files into a learnware, ``compare`` and ``inspect`` read them.
The checks use JSON and jsonschema only, so a missing or malformed file is
reported before torch or ``learnware`` is imported to load it.
"""

from __future__ import annotations

from pathlib import Path

from .common import existing_file, init_learnware

#: Specification types the CLI can load, by the ``type`` field of their JSON: (module, class).
SPEC_CLASSES = {
    "LANESpecification": ("k2v_learnware.specification.lane", "LANESpecification"),
    "RKMETableSpecification": ("learnware.specification", "RKMETableSpecification"),
    "Know2VecSpecification": ("k2v_learnware.specification.know2vec", "Know2VecSpecification"),
}


def read_spec_json(path) -> dict:
    """A specification file's JSON; NaN, infinities, numbers beyond a float and deep nesting refused, naming it."""
    from ..specification.formats import parse_json_object

    return parse_json_object(existing_file(path, "specification file"))


def peek_type(path) -> tuple[Path, str]:
    """The ``type`` field of a specification file, read without importing the class that loads it."""
    from ..specification.formats import SpecificationFormatError

    path = existing_file(path, "specification file")
    data = read_spec_json(path)
    if not isinstance(data.get("type"), str):
        raise SpecificationFormatError(f"{path} has no 'type' field naming its specification type")
    return path, data["type"]


def check_rkme_file(path) -> dict:
    """A stock RKME table file's content, checked (shapes, finite numbers, gamma) before any loader reads it."""
    from .._rkme_file import rkme_table_problem
    from ..specification.formats import SpecificationFormatError

    data = read_spec_json(path)
    problem = rkme_table_problem(data)
    if problem:
        raise SpecificationFormatError(f"{path}: RKMETableSpecification {problem}")
    return data


def check_spec_file(path) -> tuple[Path, str]:
    """Check a specification file a command will load: it exists, has a known type, and (for our formats)
    matches its schema and format version. JSON and jsonschema only, so bad files fail fast."""
    from ..specification.formats import SCHEMA_FILES, SpecificationFormatError, read_json

    path, type_name = peek_type(path)
    if type_name not in SPEC_CLASSES:
        raise SpecificationFormatError(f"{path} holds a {type_name!r} specification; this command reads "
                                       f"{sorted(SPEC_CLASSES)}")
    if type_name in SCHEMA_FILES:
        read_json(path, type_name, supported_versions=schema_versions(type_name))
    elif type_name == "RKMETableSpecification":
        check_rkme_file(path)
    return path, type_name


def load_spec(path, quiet: bool = True):
    """Load a specification file with the class its ``type`` names (LANE, RKME table or Know2Vec)."""
    from importlib import import_module

    from ..specification.formats import SpecificationFormatError

    path, type_name = check_spec_file(path)
    init_learnware(quiet)
    module, class_name = SPEC_CLASSES[type_name]
    spec = getattr(import_module(module), class_name)()
    try:
        spec.load(str(path))
    except (SpecificationFormatError, FileNotFoundError):
        raise
    except Exception as exc:  # the stock RKME loader checks nothing itself
        raise SpecificationFormatError(f"{path} cannot be read as a {type_name}: {type(exc).__name__}: {exc}") from exc
    return spec


def schema_versions(type_name: str) -> tuple[int, ...]:
    """The format versions our schema for ``type_name`` accepts (its ``format_version`` const or enum).

    Files of any other version are refused: a reader must not guess at a
    format it was not written for.
    """
    from ..specification.formats import schema_for

    field = schema_for(type_name)["properties"]["format_version"]
    return tuple(field["enum"]) if "enum" in field else (field["const"],)
