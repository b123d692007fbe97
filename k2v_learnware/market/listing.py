"""Market stage, read side: what a market holds, read from its index and files without opening it.

``k2v-learnware list`` shows ids, names, specification types, input shapes and
classes. Opening the market for that (``instantiate_market``) imports
``learnware`` and with it torch (3-4 s on 2 cores), then rebuilds every learnware
object. This module reads the same facts from where the market stores them: the
``ready`` rows of the database (:mod:`.store`), each learnware's
``learnware.yaml`` (read as data only) and its LANE specification
file (JSON, checked against the schema in ``specs/``). Nothing a learnware
ships is imported or run, and neither ``learnware`` nor torch is imported.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from .learnware_files import LearnwareFiles
from .database import MissingDatabase, open_engine
from .store import MarketStore, check_market_id
from .submission_checks import check_inside, read_learnware_yaml

#: ``learnware.config``'s market root (``C.market_root_path``), without importing ``learnware`` (and torch):
#: ``~/Library/Learnware`` on macOS, ``~/.learnware`` elsewhere (a test checks it against the package's).
_MAC_ROOT = ("Library", "Learnware")
_ROOT = (".learnware",)
_LANE = "LANESpecification"
_KNOW2VEC = "Know2VecSpecification"


def default_market_root() -> Path:
    """Where ``learnware`` keeps markets by default (its ``C.market_root_path``)."""
    parts = _MAC_ROOT if platform.system() == "Darwin" else _ROOT
    return Path.home().joinpath(*parts)


def default_database_file(root: Path, market_id: str) -> Path:
    """The SQLite index a market under ``root`` uses unless it was given a database URL."""
    return Path(root) / "database" / f"market_{market_id}.db"


def default_database_url(root: Path, market_id: str) -> str:
    return f"sqlite:///{default_database_file(root, market_id)}"


@dataclass(frozen=True)
class ListedLearnware:
    """One stored learnware as :func:`list_market` reads it."""

    id: str
    name: str
    specifications: list[str]
    input_shape: list[int] | None
    classes: list | None


def list_market(market_id: str, root, database_url: str | None = None) -> list[ListedLearnware]:
    """The ``ready`` learnwares of the market ``market_id`` under ``root``, by id.

    A learnware whose stored files cannot be read is an error naming it (a
    ``ValueError``), as opening the market would be. Listing writes nothing: a
    market that is not there (no database, or none of that name in it) is a
    ``ValueError`` saying so, not a new empty market.
    """
    market_id = check_market_id(market_id)
    root = Path(root)
    files = LearnwareFiles(root / market_id, create=False)
    default_file = default_database_file(root, market_id)
    if database_url is None and not default_file.is_file():
        raise ValueError(f"market {market_id!r} does not exist under {root}: there is no {default_file}")
    try:
        engine = open_engine(database_url or default_database_url(root, market_id), create=False)
    except MissingDatabase as err:
        raise ValueError(f"market {market_id!r} does not exist: {err}") from None
    try:
        rows = MarketStore(engine, market_id, create=False).ready_rows()
    finally:
        engine.dispose()
    listed = []
    for row in sorted(rows, key=lambda r: r.learnware_id):
        paths = files.paths(row.learnware_id, row.folder, row.zip_path)
        types, lane_file = _stat_specifications(paths.files, row.learnware_id)
        if paths.know2vec.is_file():
            types.add(_KNOW2VEC)
        shape = classes = None
        if lane_file is not None:
            shape, classes = _lane_summary(paths.files / lane_file)
        listed.append(ListedLearnware(row.learnware_id, _name(row.semantic_spec), sorted(types), shape, classes))
    return listed


def _name(semantic_spec) -> str:
    try:
        return str(semantic_spec["Name"]["Values"])
    except (KeyError, TypeError):
        return ""


def _stat_specifications(folder: Path, learnware_id: str) -> tuple[set[str], str | None]:
    """The statistical specification types ``learnware.yaml`` names, and the LANE spec's file name."""
    path = folder / "learnware.yaml"
    try:
        config = read_learnware_yaml(path)
        entries = config["stat_specifications"]
        types = {str(e["class_name"]) for e in entries}
        lane = [str(e["file_name"]) for e in entries if e["class_name"] == _LANE]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"learnware {learnware_id}: {path} cannot be read ({type(err).__name__}: {err})") from err
    if lane:
        try:
            check_inside(lane[0], "the LANE specification's file_name")  # the rule the market applied on add
        except ValueError as err:
            raise ValueError(f"learnware {learnware_id}: {err}") from None
    return types, (lane[0] if lane else None)


def _lane_summary(path: Path) -> tuple[list[int], list]:
    """Input shape and classes of a LANE specification file, read and checked as ``load`` reads it."""
    from ..specification.formats import read_json
    from ..specification.lane_file import READABLE_VERSIONS, lane_fields_from_dict

    data = read_json(path, _LANE, supported_versions=READABLE_VERSIONS)
    fields = lane_fields_from_dict(data, str(path))
    return [int(v) for v in data["input_shape"]], list(fields["classes"])
