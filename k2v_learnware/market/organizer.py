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
too (:mod:`.lane_means`), which is what a search reads. The writes (add, update,
delete) are :mod:`.organizer_writes`'s.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from pathlib import Path

from learnware.config import C
from learnware.learnware import get_learnware_from_dirpath
from .._checks import as_data_array
from .._logging import module_logger
from learnware.market import EasyOrganizer

from ..specification.formats import SpecificationFormatError, file_lock
from ..specification.know2vec import Know2VecSpecification, probe_fingerprint
from .lane_means import attach_lane_means
from .learnware_files import LearnwareFiles, file_stamp
from .market_checks import check_flag, check_know2vec_options, check_learnware_id
from .market_know2vec import checked_probe_labels, probe_labels, probe_set
from .database import open_engine
from .organizer_writes import OrganizerWrites
from .store import MarketReloadError, MarketStore, StoredRow, check_market_id

logger = module_logger("k2v_learnware.market")

#: A pending row or staging folder older than this belongs to an add that died (a live add takes seconds).
STALE_AFTER_S = 3600.0


class K2VOrganizer(OrganizerWrites, EasyOrganizer):
    """Learnware storage safe for many processes, on SQLite or PostgreSQL (see the module docstring)."""

    def reload_market(self, rebuild: bool = False, root=None, database_url: str | None = None, probe_X=None,
                      know2vec_options: dict | None = None, strict: bool = True, probe_y=None) -> bool:
        """(Re)open the market; ``strict``: a stored learnware that cannot be loaded is an error.

        With ``strict=False`` such learnwares are left out (``unloadable`` says
        why), so an operator can open the market and delete them.
        """
        # before anything changes; the market id names a folder under the root and a key in the database
        self.market_id = check_market_id(getattr(self, "market_id", None))
        rebuild, strict = check_flag(rebuild, "rebuild"), check_flag(strict, "strict")
        # market.reload_market() passes no settings: keep the ones this organizer was opened with
        root = root if root is not None else getattr(self, "root", None) or C.market_root_path
        database_url = database_url or getattr(self, "database_url", None)
        know2vec_options = know2vec_options if know2vec_options is not None else getattr(self, "know2vec_options", None)
        know2vec_options = check_know2vec_options(know2vec_options)
        self._lock = threading.RLock()
        self.root = Path(root)
        self.market_store_path = str(self.root / self.market_id)
        self.files = LearnwareFiles(Path(self.market_store_path))
        self.learnware_pool_path = str(self.files.pool)
        probe_file, replaced = self.files.know2vec / "probe.npy", probe_X is not None
        probe_stamp = self._probe_files_stamp()  # before reading: a change from now on is read again
        probe_X = as_data_array(probe_X, "probe_X") if replaced else probe_set(probe_file)
        labels = None if probe_y is None else checked_probe_labels(probe_y, probe_X)  # before anything changes
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
        self.know2vec_options = know2vec_options
        # The probe set and its labels are written (or stale labels removed) in turns with other processes:
        # interleaved, one opening with a new probe set removed the labels another had just stored with its own.
        with file_lock(self.files.know2vec / ".probe.lock"):
            if labels is not None and not replaced:  # as stored now: another process may have replaced it
                probe_X = probe_set(probe_file)
                labels = checked_probe_labels(labels, probe_X)
            self.probe_X = probe_set(probe_file, probe_X) if replaced else probe_X
            self.probe_sha256 = None if probe_X is None else probe_fingerprint(probe_X)  # hashed once per set
            self.probe_y = probe_labels(self.files.know2vec / "probe_labels.json", self.probe_X,
                                        self.probe_sha256, labels, replaced=replaced)
        self._probe_stamp = probe_stamp
        self.last_error: str | None = None
        self.learnware_list, self.learnware_zip_list, self.learnware_folder_list, self.use_flags = {}, {}, {}, {}
        self._rows: dict[str, StoredRow] = {}
        self.unloadable: dict[str, str] = {}
        self._revision = None
        self.refresh(strict=strict)
        return True

    # ------------------------------------------------------------ reading
    def _probe_files_stamp(self):
        """(mtime, size, inode) of the probe set's two files, None for one that is not there."""
        return tuple(file_stamp(self.files.know2vec / name) for name in ("probe.npy", "probe_labels.json"))

    def refresh_probe(self) -> None:
        """Read the probe set and its labels again when another process replaced them (`k2v-learnware probe`
        beside a running service), so learnwares added here get specifications on the market's probe set."""
        stamp = self._probe_files_stamp()
        if stamp == self._probe_stamp:
            return
        self._probe_stamp = stamp  # read once per change: a later replacement changes the stamp again
        try:
            probe_X = probe_set(self.files.know2vec / "probe.npy")
            fingerprint = None if probe_X is None else probe_fingerprint(probe_X)
            probe_y = probe_labels(self.files.know2vec / "probe_labels.json", probe_X, fingerprint)
            self.probe_X, self.probe_sha256, self.probe_y = probe_X, fingerprint, probe_y
        except OSError as err:  # replaced or removed while it was being read: try again on the next refresh
            self._probe_stamp = None
            logger.warning(f"the market's probe set was not read again: {err}")
        except SpecificationFormatError as err:  # read again once the file changes
            logger.warning(f"the market's probe set was not read again: {err}")

    def refresh(self, strict: bool = False) -> None:
        """Bring this process's view up to date with the database (one small query when nothing changed).

        A learnware another process updates or deletes while it is being loaded
        here is read again on the next pass; one whose files cannot be loaded
        is left out and named in ``unloadable`` (``strict``: raise instead).
        """
        with self._lock:
            self.refresh_probe()
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

    def changed_since_refresh(self) -> bool:
        """Whether any process changed the market since this one last brought its view up to date (one query)."""
        return self.store.revision() != self._revision

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
        """Every stored learnware's row (id, semantic spec, status, owner), oldest first.

        Each row carries its own copy of the semantic spec: the cached one is
        what the next update keeps, so a caller's edit must not reach it.
        """
        with self._lock:
            self.refresh()
            return [_own_copy(row) for row in self._rows.values()]

    def stored_version(self, learnware_id: str) -> tuple[StoredRow, str] | None:
        """A learnware's row (its own copy of the semantic spec) and its stored zip, as of one refresh, or None.

        An update based on what a caller read must take the revision it passes
        as ``expected_revision`` from the same read as the semantic spec and zip
        it keeps, or a change landing between two reads would be reverted.
        """
        check_learnware_id(learnware_id)
        with self._lock:
            self.refresh()
            row = self._rows.get(learnware_id)
            if row is None:
                return None
            return _own_copy(row), self.learnware_zip_list[learnware_id]

    def owner_of(self, learnware_id: str) -> str | None:
        self.refresh()
        row = self._rows.get(learnware_id)
        return None if row is None else row.owner

    def get_learnware_info_from_storage(self, learnware_id: str):
        """The stock organizer's view of a stored learnware, with a copy of its semantic spec (see stored_rows)."""
        with self._lock:
            self.refresh()
            row = self._rows.get(learnware_id)
            if row is None:
                return None
            return {"semantic_spec": copy.deepcopy(row.semantic_spec),
                    "zip_path": self.learnware_zip_list[learnware_id],
                    "folder_path": self.learnware_folder_list[learnware_id], "use_flag": row.use_flag}

    def __len__(self):
        self.refresh()
        return len(self.learnware_list)

    # ------------------------------------------------------------ housekeeping
    def _remove_abandoned_adds(self) -> None:
        """What writes that died left: pending rows, staging folders, versions no row points to (all stale)."""
        for learnware_id in self.store.stale_pending(STALE_AFTER_S):
            self.store.discard(learnware_id)
            self.files.remove_all_of(learnware_id)
        self.files.remove_stale_staging(STALE_AFTER_S)
        self.files.remove_orphan_versions(*self.store.folders_in_use(), STALE_AFTER_S)  # rows read first


def _own_copy(row: StoredRow) -> StoredRow:
    """The row with a copy of its semantic spec: the cached one is what the next update keeps, so what a caller
    does with the copy it is handed never reaches the store."""
    return replace(row, semantic_spec=copy.deepcopy(row.semantic_spec))
