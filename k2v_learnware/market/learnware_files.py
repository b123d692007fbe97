"""Market stage: where a stored learnware's files live, and how they get there without clobbering anything.

Every stored version of a learnware has a folder of its own,
``learnware_pool/learnwares/<id>/<token>/`` (``token`` a fresh random name), holding
the submitted ``learnware.zip``, its unzipped ``files/``, the market-side
``know2vec.json`` when the market built one, and ``lane_class_means-<family>.npy``
(the LANE class-mean embeddings a search reads) for a learnware with a LANE spec. A submission is first unpacked under
``learnware_pool/staging/<token>/`` and moved into place with one ``rename`` only
after the database has given it an id, so no write ever lands on another
learnware's files, and a failed add removes exactly the folder it made.

Markets written by earlier versions keep their absolute ``unzipped_learnwares/<id>``
folders; :meth:`LearnwareFiles.paths` reads both layouts.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .submission_checks import extract_checked

ZIP_NAME = "learnware.zip"
FILES_DIR = "files"
KNOW2VEC_FILE = "know2vec.json"


@dataclass(frozen=True)
class StoredPaths:
    """The folder ``learnware``'s loader reads, the zip, the Know2Vec spec file and the version folder that
    holds the stored LANE class means (None for an earlier version's layout: computed in memory on each load)."""

    files: Path
    zip: Path
    know2vec: Path
    version: Path | None = None


class LearnwareFiles:
    """The files of one market under ``<root>/<market_id>``."""

    def __init__(self, market_path: Path, create: bool = True):
        self.market_path = Path(market_path)
        self.pool = self.market_path / "learnware_pool"
        self.staging = self.pool / "staging"
        self.learnwares = self.pool / "learnwares"
        self.know2vec = self.market_path / "know2vec"
        for folder in (self.staging, self.learnwares, self.know2vec) if create else ():
            folder.mkdir(parents=True, exist_ok=True)

    def stage(self, zip_path) -> Path:
        """Copy and unzip a submission into a fresh staging folder; returns that folder."""
        folder = self.staging / uuid.uuid4().hex
        (folder / FILES_DIR).mkdir(parents=True)
        try:
            shutil.copyfile(zip_path, folder / ZIP_NAME)
            extract_checked(folder / ZIP_NAME, folder / FILES_DIR)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def place(self, staged: Path, learnware_id: str) -> str:
        """Move a staged folder to its final, never-used name; returns it relative to the market folder."""
        target = self.learnwares / learnware_id / staged.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)  # atomic; the token is fresh, so nothing is there to replace
        return target.relative_to(self.market_path).as_posix()

    def paths(self, learnware_id: str, folder: str, zip_path: str) -> StoredPaths:
        """Paths of a stored row: our layout (relative folder) or an earlier version's (absolute)."""
        if Path(folder).is_absolute():
            return StoredPaths(Path(folder), Path(zip_path), self.know2vec / f"{learnware_id}.json")
        version = self.market_path / folder
        return StoredPaths(version / FILES_DIR, version / ZIP_NAME, version / KNOW2VEC_FILE, version)

    def remove_version(self, learnware_id: str, folder: str, zip_path: str) -> None:
        """Delete one stored version's files (and its learnware folder once it is empty)."""
        paths = self.paths(learnware_id, folder, zip_path)
        if Path(folder).is_absolute():
            shutil.rmtree(paths.files, ignore_errors=True)
            for leftover in (paths.zip, paths.know2vec):
                leftover.unlink(missing_ok=True)
            return
        shutil.rmtree(self.market_path / folder, ignore_errors=True)
        try:
            (self.learnwares / learnware_id).rmdir()
        except OSError:
            pass  # not empty (another version) or already gone

    def remove_staged(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def remove_all_of(self, learnware_id: str) -> None:
        """Every version of a learnware (ids are never reused, so the whole folder is its own)."""
        shutil.rmtree(self.learnwares / learnware_id, ignore_errors=True)

    def remove_learnware(self, learnware_id: str, folder: str, zip_path: str) -> None:
        """A deleted learnware's files, whichever version another process may have switched it to."""
        if Path(folder).is_absolute():
            self.remove_version(learnware_id, folder, zip_path)
        self.remove_all_of(learnware_id)

    def remove_legacy(self, learnware_ids) -> None:
        """Files an earlier version kept for these ids (only the stock organizer wrote there)."""
        for learnware_id in learnware_ids:
            shutil.rmtree(self.pool / "unzipped_learnwares" / learnware_id, ignore_errors=True)
            (self.pool / "zips" / f"{learnware_id}.zip").unlink(missing_ok=True)
            (self.know2vec / f"{learnware_id}.json").unlink(missing_ok=True)

    def remove_proxy(self) -> None:
        """The Know2Vec proxy, trained on learnwares a rebuild removed (the probe set stays)."""
        shutil.rmtree(self.know2vec / "proxy", ignore_errors=True)

    def remove_stale_staging(self, older_than_s: float) -> None:
        """Staging folders of adds that died long ago (a live add finishes in seconds)."""
        remove_older_than(self.staging.iterdir(), older_than_s)

    def remove_orphan_versions(self, adding: set[str], in_use: set[str], older_than_s: float) -> None:
        """Version folders no row points to, left by an update or a delete that died, once they are stale.

        ``adding`` (ids with a pending row) and ``in_use`` (folders of ready
        rows) must be read before this looks at the folders: a version placed
        since is younger than ``older_than_s`` and stays, as does every folder
        of an add under way; no write ever points a row at an existing folder,
        so an old folder no row points to stays unused. Age is the later of
        the folder's mtime and ctime (a rename moves the ctime on).
        """
        keep = {self._relative(folder) for folder in in_use}
        cutoff = time.time() - older_than_s
        for id_folder in _subfolders(self.learnwares):
            if id_folder.name in adding:
                continue
            stale = _changed_before(id_folder, cutoff)  # before its versions go: removing them touches it
            for version in _subfolders(id_folder):
                if version.relative_to(self.market_path).as_posix() not in keep and _changed_before(version, cutoff):
                    shutil.rmtree(version, ignore_errors=True)
            if stale:  # a fresh one may be about to receive an add's version
                try:
                    id_folder.rmdir()
                except OSError:
                    pass  # not empty: a version a row points to (or one too young to judge)

    def _relative(self, folder: str) -> str:
        """A row's folder as the path relative to the market folder, whichever way the row holds it."""
        path = Path(folder)
        if path.is_absolute():
            try:
                return path.relative_to(self.market_path).as_posix()
            except ValueError:
                return folder  # an earlier version's folder, outside learnwares/
        return path.as_posix()


def file_stamp(path: Path):
    """``(mtime_ns, size, inode)`` of a file, None when it is not there: what tells that another process
    replaced it (a rename into place changes the inode) without reading it."""
    try:
        info = Path(path).stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
    except FileNotFoundError:  # removed by another process meanwhile
        return []


def _changed_before(path: Path, cutoff: float) -> bool:
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    return max(info.st_mtime, info.st_ctime) < cutoff


def remove_older_than(paths, seconds: float) -> None:
    """Files or folders not modified for ``seconds``; another process removing one first is fine."""
    cutoff = time.time() - seconds
    for path in paths:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
