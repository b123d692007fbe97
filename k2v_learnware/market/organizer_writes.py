"""Market stage: how the organizer writes (add, update, delete) so that no stored learnware is lost or mixed up.

Every write goes to a new place first and is moved into place only once it is
whole: a submission is unpacked and loaded in a staging folder (its Know2Vec
spec and LANE class means built there), its id is allocated by the database,
the folder is moved to a never-used place, and only then does its row turn
``ready``; a failure at any step removes what that step left. An update writes
the new version to a fresh folder and switches the row in one transaction,
refused when anyone changed the row since the caller read it. A delete removes
the row first, so no reader finds a row whose files are gone.
"""

from __future__ import annotations

import copy
import numbers
import os
from pathlib import Path

from learnware.learnware import get_learnware_from_dirpath
from learnware.market.base import BaseChecker

from .._logging import module_logger
from .lane_means import write_lane_means
from .._checks import positive_int
from .learnware_files import KNOW2VEC_FILE
from .market_checks import check_learnware_id, check_owner, stored_status
from .market_know2vec import write_know2vec_spec

logger = module_logger("k2v_learnware.market")


def _refused(check_status) -> bool:
    """Whether a checker's status is the refusal (INVALID_LEARNWARE, -1): nothing is stored then."""
    return isinstance(check_status, numbers.Integral) and not isinstance(check_status, bool) \
        and check_status == BaseChecker.INVALID_LEARNWARE


class OrganizerWrites:
    """The write half of :class:`~.organizer.K2VOrganizer`; needs its ``store``, ``files``, ``probe_X``,
    ``know2vec_options``, ``market_id``, ``_rows``, ``learnware_zip_list``, ``unloadable``, :meth:`refresh`
    and :meth:`_refresh_after_write`; sets ``last_error`` when a write fails."""

    def add_learnware(self, zip_path, semantic_spec, check_status, learnware_id=None, owner: str | None = None):
        """Store a checked learnware under an id the database allocates; (id, status) or (None, INVALID).

        ``owner`` (the submitting account, kept with the row) is what the market
        service checks before an update or a delete.
        """
        self.last_error = None
        if learnware_id is not None:
            raise ValueError("learnware_id cannot be chosen: the market's database allocates ids")
        owner = check_owner(owner)
        if _refused(check_status):
            self.last_error = "the learnware failed the market's checks"
            return None, BaseChecker.INVALID_LEARNWARE
        status = BaseChecker.NONUSABLE_LEARNWARE if check_status is None else stored_status(check_status)
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
        self.refresh_probe()  # the probe set another process may have given the market since
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
        check_learnware_id(id)
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
        check_learnware_id(learnware_id)
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
        check_learnware_id(id)
        if expected_revision is not None:
            expected_revision = positive_int(expected_revision, "expected_revision", minimum=0)
        # checked before anything is read; a refused status is answered below, once the learnware is known
        new_status = None if check_status is None or _refused(check_status) else stored_status(check_status)
        self.refresh()
        row = self._rows.get(id)
        if row is None:
            self.last_error = f"market {self.market_id!r} has no learnware {id!r}"
            return BaseChecker.INVALID_LEARNWARE
        expected_revision = row.row_revision if expected_revision is None else expected_revision
        if _refused(check_status):
            self.last_error = "the update failed the market's checks"
            return BaseChecker.INVALID_LEARNWARE
        if zip_path is None and semantic_spec is None and check_status is None:
            self.last_error = "nothing to update: give zip_path, semantic_spec or check_status"
            return BaseChecker.INVALID_LEARNWARE
        semantic_spec = copy.deepcopy(row.semantic_spec if semantic_spec is None else semantic_spec)
        status = row.use_flag if new_status is None else new_status
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

