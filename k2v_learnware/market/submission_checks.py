"""Market stage, before a submission is unpacked or anything it names is imported: its size and its config.

``learnware``'s loader imports whatever ``module_path`` a ``learnware.yaml`` names
as a statistical specification (a module, or a ``.py`` file in the zip) and
calls its class with the file's ``kwargs`` before any check runs. A market must
not run a stranger's code to read a specification, so:

- a specification is accepted only from an allowlist of classes (ours and the
  ``learnware`` package's RKME types), named by module and class, with no
  ``kwargs``, read from a file inside the learnware's folder;
- the model (which is code by nature, as in ``learnware``'s own templates) must
  be a ``.py`` file inside the learnware's folder;
- an upload is bounded in size, file count and expansion ratio before a byte of
  it is unpacked (a zip that expands 1000x is a bomb, not a learnware).
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import yaml

#: (module_path, class_name) of every statistical specification a market reads.
ALLOWED_STAT_SPECS = frozenset({
    ("k2v_learnware", "LANESpecification"),
    ("k2v_learnware", "Know2VecSpecification"),
    ("k2v_learnware.specification.lane", "LANESpecification"),
    ("k2v_learnware.specification.know2vec", "Know2VecSpecification"),
    ("learnware.specification", "RKMETableSpecification"),
    ("learnware.specification", "RKMEImageSpecification"),
    ("learnware.specification", "RKMETextSpecification"),
})
MAX_ZIP_BYTES = 512 * 2**20
MAX_UNPACKED_BYTES = 2 * 2**30
MAX_FILES = 1000
MAX_EXPANSION = 100.0  # unpacked bytes per zip byte


class _DataLoader(yaml.SafeLoader):
    """YAML as data only, plus the ``!!python/tuple`` tag that ``yaml.dump`` writes for tuples (the stock
    client's learnware.yaml holds one); every other ``python/`` tag, which could build objects, is refused."""


_DataLoader.add_constructor("tag:yaml.org,2002:python/tuple",
                            lambda loader, node: tuple(loader.construct_sequence(node)))


def read_learnware_yaml(path):
    """The content of a ``learnware.yaml``, read as data (``ValueError`` when it is not readable YAML)."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_DataLoader)  # noqa: S506 (data only)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"learnware.yaml is not valid YAML: {err}") from err


def check_archive(zip_path) -> None:
    """Refuse (``ValueError``) a zip over the size, file-count or expansion bounds, before unpacking it."""
    path = Path(zip_path)
    size = path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise ValueError(f"{path.name} is {size} bytes; a learnware zip may have at most {MAX_ZIP_BYTES}")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path.name} is not a zip file: {err}") from err
    if len(members) > MAX_FILES:
        raise ValueError(f"{path.name} holds {len(members)} files; a learnware may have at most {MAX_FILES}")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValueError(f"{path.name} unpacks to {unpacked} bytes; a learnware may have at most {MAX_UNPACKED_BYTES}")
    if unpacked > MAX_EXPANSION * max(size, 1) and unpacked > 2**20:
        raise ValueError(f"{path.name} expands {unpacked / max(size, 1):.0f}x when unpacked; more than "
                         f"{MAX_EXPANSION:.0f}x is refused")


def extract_checked(zip_path, folder) -> None:
    """Unpack a zip that passed :func:`check_archive` into ``folder``, then check its ``learnware.yaml``."""
    check_archive(zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)  # strips absolute paths and '..' from member names
    check_learnware_config(folder)


def check_learnware_config(folder) -> dict:
    """The learnware's ``learnware.yaml``, read as data only and checked against the allowlist (``ValueError``)."""
    path = Path(folder) / "learnware.yaml"
    if not path.is_file():
        raise ValueError("the learnware holds no learnware.yaml")
    config = read_learnware_yaml(path)
    if not isinstance(config, dict):
        raise ValueError("learnware.yaml must be a mapping")
    model = config.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("kwargs", {}), dict):
        raise ValueError("learnware.yaml must describe its model as a mapping with a kwargs mapping")
    check_inside(model.get("module_path", "__init__.py"), "model module_path", suffix=".py")
    entries = config.get("stat_specifications")
    if not isinstance(entries, list) or not entries:
        raise ValueError("learnware.yaml must list at least one statistical specification")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"learnware.yaml: stat_specifications[{i}] must be a mapping")
        named = (entry.get("module_path"), entry.get("class_name"))
        if named not in ALLOWED_STAT_SPECS:
            raise ValueError(f"learnware.yaml: stat_specifications[{i}] names {named[0]!r}.{named[1]!r}, which this "
                             "market does not accept; accepted: "
                             + ", ".join(sorted({c for _, c in ALLOWED_STAT_SPECS})))
        if entry.get("kwargs") not in (None, {}):
            raise ValueError(f"learnware.yaml: stat_specifications[{i}] ({named[1]}) must have no kwargs, got "
                             f"{entry.get('kwargs')!r}")
        check_inside(entry.get("file_name"), f"stat_specifications[{i}] file_name")
    return config


def check_inside(name, what: str, suffix: str | None = None) -> None:
    """``name`` must be a relative path inside the learnware's folder (with ``suffix``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"learnware.yaml: {what} must be a file name, got {name!r}")
    parts = PurePosixPath(name.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or ":" in name:
        raise ValueError(f"learnware.yaml: {what} {name!r} must be a path inside the learnware")
    if suffix is not None and not name.endswith(suffix):
        raise ValueError(f"learnware.yaml: {what} {name!r} must be a {suffix} file")
