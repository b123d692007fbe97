"""Market stage: the organizer that stores learnwares so that none is ever lost, overwritten or mixed up.

``K2VOrganizer`` keeps the stock ``EasyOrganizer`` interface (the market, the
searchers and the stock client code call it unchanged) on storage of our own:

- the database allocates every id (:mod:`.store`), so processes adding at the
  same time never collide, and an id is never handed out twice, even after a
  delete;
- a submission is unpacked in a staging folder and moved to a never-used folder
  only after its row exists (:mod:`.learnware_files`); its row turns ``ready``
  only then, and a failed add removes its row and its folder;
- an update writes the new version to a fresh folder and switches the row to it
  in one transaction, so a reader sees the old or the new learnware, never half;
- before every read the organizer asks the database for the market's revision
  (one small query) and, when another process changed the market, loads only
  the learnwares that were added or changed and drops the deleted ones.

A reload that cannot rebuild a stored learnware fails loudly naming it (the
stock organizer drops it silently). When the market holds a probe set
(``<market>/know2vec/probe.npy``), every learnware added gets a
Know2VecSpecification built by querying its model, stored with its files; every
learnware with a LANE specification gets its class-mean embeddings stored there
too (:mod:`.lane_means`), which is what a search reads.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

from learnware.config import C
from learnware.learnware import get_learnware_from_dirpath
from .._logging import module_logger
from learnware.market import EasyOrganizer
from learnware.market.base import BaseChecker

from ..specification.know2vec import Know2VecSpecification
from .lane_means import attach_lane_means, write_lane_means
from .learnware_files import KNOW2VEC_FILE, LearnwareFiles
from .market_know2vec import probe_set, write_know2vec_spec
from .database import open_engine
from .store import MarketStore, StoredRow

logger = module_logger("k2v_learnware.market")

#: A pending row or staging folder older than this belongs to an add that died (a live add takes seconds).
STALE_AFTER_S = 3600.0


class MarketReloadError(RuntimeError):
    """A stored learnware could not be rebuilt when the market reloaded."""


class K2VOrganizer(EasyOrganizer):
    """Learnware storage safe for many processes, on SQLite or PostgreSQL (see the module docstring)."""

    def reload_market(self, rebuild: bool = False, root=None, database_url: str | None = None, probe_X=None,
                      know2vec_options: dict | None = None, strict: bool = True) -> bool:
        """(Re)open the market; ``strict``: a stored learnware that cannot be loaded is an error.

        With ``strict=False`` such learnwares are left out (``unloadable`` says
        why), so an operator can open the market and delete them.
        """
        # market.reload_market() passes no settings: keep the ones this organizer was opened with
        root = root if root is not None else getattr(self, "root", None) or C.market_root_path
        database_url = database_url or getattr(self, "database_url", None)
        know2vec_options = know2vec_options if know2vec_options is not None else getattr(self, "know2vec_options", None)
        self._lock = threading.RLock()
        self.root = Path(root)
        self.market_store_path = str(self.root / self.market_id)
        self.files = LearnwareFiles(Path(self.market_store_path))
        self.learnware_pool_path = str(self.files.pool)
        default_url = f"sqlite:///{self.root / 'database' / f'market_{self.market_id}.db'}"
        self.database_url = database_url or default_url
        (self.root / "database").mkdir(parents=True, exist_ok=True)
        if getattr(self, "store", None) is not None:
            self.store.engine.dispose()  # a reload opens its own connections
        self.store = MarketStore(open_engine(self.database_url), self.market_id)
        if self.database_url == default_url:  # where the stock organizer kept this market's rows
            self.store.import_legacy_rows()
        if rebuild:
            logger.info(f"rebuilding market {self.market_id!r}: every stored learnware is removed")
            removed = self.store.clear()  # only what it deleted: a concurrent add keeps its files
            for learnware_id in removed:
                self.files.remove_all_of(learnware_id)
            self.files.remove_legacy(removed)
            self.files.remove_proxy()
        self._remove_abandoned_adds()
        self.know2vec_path = self.files.know2vec
        self.know2vec_options = dict(know2vec_options or {})
        self.probe_X = probe_set(self.files.know2vec / "probe.npy", probe_X)
        self.last_error: str | None = None
        self.learnware_list, self.learnware_zip_list, self.learnware_folder_list, self.use_flags = {}, {}, {}, {}
        self._rows: dict[str, StoredRow] = {}
        self.unloadable: dict[str, str] = {}
        self._revision = None
        self.refresh(strict=strict)
        return True

    # ------------------------------------------------------------ reading
    def refresh(self, strict: bool = False) -> None:
        """Bring this process's view up to date with the database (one small query when nothing changed).

        A learnware another process updates or deletes while it is being loaded
        here is read again on the next pass; one whose files cannot be loaded
        is left out and named in ``unloadable`` (``strict``: raise instead).
        """
        with self._lock:
            for _ in range(10):
                revision = self.store.revision()
                if revision == self._revision:
                    return
                rows = {row.learnware_id: row for row in self.store.ready_rows()}
                failed = {}
                for learnware_id, row in rows.items():
                    known = self._rows.get(learnware_id)
                    if known is None or known.row_revision != row.row_revision:
                        try:
                            self._remember(row, self._load(row))
                        except Exception as err:  # the loader's own error names the class or file
                            failed[learnware_id] = (row.row_revision, f"{type(err).__name__}: {err}")
                for learnware_id in set(self._rows) - set(rows):
                    self._forget(learnware_id)
                if self.store.revision() != revision:
                    continue  # changed while loading: a failure may be a version removed meanwhile
                self.unloadable = {i: why for i, (_, why) in failed.items()}
                for learnware_id in failed:
                    self._forget(learnware_id)
                self._revision = revision
                break
            if self.unloadable:
                message = (f"market {self.market_id!r} holds {len(self.unloadable) + len(self._rows)} learnwares but "
                           f"{len(self.unloadable)} could not be loaded (is the package that defines their "
                           "specification installed?): "
                           + "; ".join(f"{i}: {why}" for i, why in sorted(self.unloadable.items())))
                if strict:
                    raise MarketReloadError(message + "; open it with strict=False to delete them")
                logger.warning(message)

    def _refresh_after_write(self) -> None:
        """Refresh after a committed change; a failure to load others must not undo or hide it."""
        try:
            self.refresh()
        except Exception as err:
            logger.warning(f"market {self.market_id!r}: refresh after a change failed: {type(err).__name__}: {err}")

    def _load(self, row: StoredRow):
        paths = self.files.paths(row.learnware_id, row.folder, row.zip_path)
        learnware = get_learnware_from_dirpath(row.learnware_id, copy.deepcopy(row.semantic_spec), str(paths.files),
                                               ignore_error=False)
        if paths.know2vec.exists():
            spec = Know2VecSpecification()
            spec.load(paths.know2vec)
            learnware.update_stat_spec(spec.type, spec)
        attach_lane_means(learnware, paths.version)
        return learnware

    def _remember(self, row: StoredRow, learnware) -> None:
        paths = self.files.paths(row.learnware_id, row.folder, row.zip_path)
        self._rows[row.learnware_id] = row
        self.learnware_list[row.learnware_id] = learnware
        self.learnware_zip_list[row.learnware_id] = str(paths.zip)
        self.learnware_folder_list[row.learnware_id] = str(paths.files)
        self.use_flags[row.learnware_id] = row.use_flag

    def _forget(self, learnware_id: str) -> None:
        for table in (self._rows, self.learnware_list, self.learnware_zip_list, self.learnware_folder_list,
                      self.use_flags):
            table.pop(learnware_id, None)

    @property
    def count(self) -> int:
        return len(self.learnware_list)

    def get_learnware_ids(self, top=None, check_status=None):
        self.refresh()
        return super().get_learnware_ids(top, check_status)

    def get_learnwares(self, top=None, check_status=None):
        self.refresh()
        return super().get_learnwares(top, check_status)

    def get_learnware_by_ids(self, ids):
        self.refresh()
        return super().get_learnware_by_ids(ids)

    def get_learnware_zip_path_by_ids(self, ids):
        self.refresh()
        return super().get_learnware_zip_path_by_ids(ids)

    def get_learnware_dir_path_by_ids(self, ids):
        self.refresh()
        return super().get_learnware_dir_path_by_ids(ids)

    def reload_learnware(self, learnware_id: str):
        self._revision = None
        self.refresh()

    def stored_rows(self) -> list[StoredRow]:
        """Every stored learnware's row (id, semantic spec, status, owner), oldest first."""
        self.refresh()
        return list(self._rows.values())

    def owner_of(self, learnware_id: str) -> str | None:
        self.refresh()
        row = self._rows.get(learnware_id)
        return None if row is None else row.owner

    def get_learnware_info_from_storage(self, learnware_id: str):
        self.refresh()
        row = self._rows.get(learnware_id)
        if row is None:
            return None
        return {"semantic_spec": row.semantic_spec, "zip_path": self.learnware_zip_list[learnware_id],
                "folder_path": self.learnware_folder_list[learnware_id], "use_flag": row.use_flag}

    def __len__(self):
        self.refresh()
        return len(self.learnware_list)

    # ------------------------------------------------------------ writing
    def add_learnware(self, zip_path, semantic_spec, check_status, learnware_id=None, owner: str | None = None):
        """Store a checked learnware under an id the database allocates; (id, status) or (None, INVALID).

        ``owner`` (the submitting account, kept with the row) is what the market
        service checks before an update or a delete.
        """
        self.last_error = None
        if learnware_id is not None:
            raise ValueError("learnware_id cannot be chosen: the market's database allocates ids")
        if check_status == BaseChecker.INVALID_LEARNWARE:
            self.last_error = "the learnware failed the market's checks"
            return None, BaseChecker.INVALID_LEARNWARE
        status = BaseChecker.NONUSABLE_LEARNWARE if check_status is None else int(check_status)
        semantic_spec = copy.deepcopy(semantic_spec)
        staged = new_id = placed = None
        try:
            staged = self._stage(zip_path, semantic_spec)
            new_id = self.store.allocate(semantic_spec, status, owner)
            placed = self.files.place(staged, new_id)
            staged = None
            self.store.publish(new_id, placed, f"{placed}/learnware.zip")
        except Exception as err:
            self._undo_add(staged, new_id)
            self.last_error = f"the market could not store the learnware: {type(err).__name__}: {err}"
            logger.warning(self.last_error)
            return None, BaseChecker.INVALID_LEARNWARE
        self._refresh_after_write()
        return new_id, status

    def _stage(self, zip_path, semantic_spec) -> Path:
        """Unpack into a staging folder, load it as the market will, build its Know2Vec spec there."""
        staged = self.files.stage(zip_path)
        try:
            learnware = get_learnware_from_dirpath("pending", copy.deepcopy(semantic_spec), str(staged / "files"),
                                                   ignore_error=False)
            write_lane_means(learnware, staged)
            if self.probe_X is not None:
                write_know2vec_spec(learnware, self.probe_X, staged / KNOW2VEC_FILE, self.know2vec_options)
        except BaseException:
            self.files.remove_staged(staged)
            raise
        return staged

    def _undo_add(self, staged, new_id) -> None:
        if staged is not None:
            self.files.remove_staged(staged)
        if new_id is not None:
            self.store.discard(new_id)
            self.files.remove_all_of(new_id)

    def delete_learnware(self, id: str) -> bool:
        """Remove a learnware's row, then its files; False when the market has no such learnware."""
        self.refresh()
        row = self._rows.get(id) or self.store.row(id)  # an unloadable learnware can be deleted too
        if row is None:
            logger.warning(f"learnware {id!r} not found in market {self.market_id!r}")
            return False
        if self.store.discard(id):  # False: another process deleted it first, and its files
            self.files.remove_learnware(id, row.folder, row.zip_path)
        self.unloadable.pop(id, None)
        self._refresh_after_write()
        return True

    def row_revision(self, learnware_id: str) -> int | None:
        """The revision of a learnware's row as this process last read it (for optimistic updates)."""
        self.refresh()
        row = self._rows.get(learnware_id)
        return None if row is None else row.row_revision

    def update_learnware(self, id: str, zip_path=None, semantic_spec=None, check_status=None,
                         expected_revision: int | None = None):
        """Replace a learnware's files and/or semantic spec / status; returns the new status.

        ``expected_revision`` (from :meth:`row_revision` when the caller read
        the learnware) refuses the update when anyone changed it since.
        """
        self.last_error = None
        self.refresh()
        row = self._rows.get(id)
        if row is None:
            self.last_error = f"market {self.market_id!r} has no learnware {id!r}"
            return BaseChecker.INVALID_LEARNWARE
        expected_revision = row.row_revision if expected_revision is None else int(expected_revision)
        if check_status == BaseChecker.INVALID_LEARNWARE:
            self.last_error = "the update failed the market's checks"
            return BaseChecker.INVALID_LEARNWARE
        if zip_path is None and semantic_spec is None and check_status is None:
            self.last_error = "nothing to update: give zip_path, semantic_spec or check_status"
            return BaseChecker.INVALID_LEARNWARE
        semantic_spec = copy.deepcopy(row.semantic_spec if semantic_spec is None else semantic_spec)
        status = row.use_flag if check_status is None else int(check_status)
        folder, zip_file, staged, placed = row.folder, row.zip_path, None, None
        try:
            if zip_path is not None and os.path.abspath(zip_path) != self.learnware_zip_list[id]:
                staged = self._stage(zip_path, semantic_spec)
                placed = self.files.place(staged, id)
                staged, folder, zip_file = None, placed, f"{placed}/learnware.zip"
            if not self.store.replace(id, expected_revision, semantic_spec=semantic_spec, use_flag=status,
                                      folder=folder, zip_path=zip_file):
                raise RuntimeError(f"learnware {id} was deleted or changed by another process meanwhile")
        except Exception as err:
            if staged is not None:
                self.files.remove_staged(staged)
            if placed is not None:
                self.files.remove_version(id, placed, f"{placed}/learnware.zip")
            self.last_error = f"the market could not update learnware {id}: {type(err).__name__}: {err}"
            logger.warning(self.last_error)
            return BaseChecker.INVALID_LEARNWARE
        if placed is not None:
            self.files.remove_version(id, row.folder, row.zip_path)
        self._refresh_after_write()
        return status

    # ------------------------------------------------------------ housekeeping
    def _remove_abandoned_adds(self) -> None:
        for learnware_id in self.store.stale_pending(STALE_AFTER_S):
            self.store.discard(learnware_id)
            self.files.remove_all_of(learnware_id)
        self.files.remove_stale_staging(STALE_AFTER_S)
