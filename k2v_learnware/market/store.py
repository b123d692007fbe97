"""Market stage: the database index of stored learnwares, safe for many processes at once.

The stock ``EasyOrganizer`` numbers learnwares with a per-process counter and
keeps one database per market; two processes adding at once get the same id and
write over each other's files. Here the database allocates every id: a row's
``seq`` is an autoincrement key that is never handed out twice, not even after a
delete (SQLite ``AUTOINCREMENT``, a PostgreSQL sequence), and the learnware id
is that number. Rows are ``pending`` while their files are being moved into
place and ``ready`` once they are there; readers only ever see ``ready`` rows.

Every change to a market also bumps that market's ``revision`` in the same
transaction, so a process holding the market open learns that something changed
with one cheap query and then syncs only the rows that did.

One database holds any number of markets (rows carry their ``market_id``, which
is only ever a bound parameter, never spliced into SQL), so a PostgreSQL URL
names one ordinary database: ``postgresql://user:pw@host/db``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .database import create_tables
from .market_checks import check_learnware_id, check_owner

PENDING, READY = "pending", "ready"

metadata = MetaData()
learnware_table = Table(
    "k2v_learnware", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("market_id", String(64), nullable=False, index=True),
    Column("learnware_id", String(40), nullable=False),
    Column("semantic_spec", Text, nullable=False),
    Column("folder", Text, nullable=True),  # relative to the market's folder (absolute for migrated rows)
    Column("zip_path", Text, nullable=True),
    Column("use_flag", Integer, nullable=False),
    Column("state", String(8), nullable=False),
    Column("row_revision", Integer, nullable=False),
    Column("created", Float, nullable=False),
    Column("owner", String(320), nullable=True),  # the account that submitted it (the market service)
    UniqueConstraint("market_id", "learnware_id", name="uq_k2v_learnware_market_id"),
    sqlite_autoincrement=True,
)
market_table = Table(
    "k2v_market", metadata,
    Column("market_id", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
)


#: A market's name: also a folder name under the market root and a key in the database.
MARKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_market_id(market_id) -> str:
    """``market_id`` if it is a valid market name; a TypeError or ValueError naming the rule otherwise."""
    if not isinstance(market_id, str):
        raise TypeError(f"market_id must be a str, got {type(market_id).__name__}")
    if not MARKET_ID.fullmatch(market_id):
        raise ValueError(f"market_id must be 1-64 letters, digits, '.', '_' or '-' starting with a letter or "
                         f"digit, got {market_id!r}")
    return market_id


class MarketReloadError(RuntimeError):
    """A stored learnware could not be rebuilt (or moved from an earlier version's table) when the market
    reloaded."""


@dataclass(frozen=True)
class StoredRow:
    """One ``ready`` learnware as the database knows it."""

    learnware_id: str
    semantic_spec: dict
    folder: str
    zip_path: str
    use_flag: int
    row_revision: int
    owner: str | None = None


def _dumps(semantic_spec: dict) -> str:
    """JSON of a semantic specification; NaN and infinities are refused (they would never load back)."""
    try:
        return json.dumps(semantic_spec, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"semantic_spec must be JSON without NaN or infinities: {err}") from None


class MarketStore:
    """The rows of one market in one database; every method is one short transaction."""

    def __init__(self, engine: Engine, market_id: str, create: bool = True):
        """``create=False`` (a reader) makes nothing: a ValueError unless the market is registered here."""
        self.engine, self.market_id = engine, check_market_id(market_id)
        if not create:
            self._check_exists()
            return
        create_tables(metadata, engine)
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(market_table.c.revision)
                                .where(market_table.c.market_id == market_id)).first() is None:
                    conn.execute(insert(market_table).values(market_id=market_id, revision=0))
        except IntegrityError:
            pass  # another process registered the market first

    def _check_exists(self) -> None:
        where = self.engine.url.render_as_string(hide_password=True)
        tables = set(inspect(self.engine).get_table_names())
        if {learnware_table.name, market_table.name} <= tables:
            with self.engine.connect() as conn:
                if conn.execute(select(market_table.c.revision)
                                .where(market_table.c.market_id == self.market_id)).first() is not None:
                    return
        raise ValueError(f"market {self.market_id!r} does not exist in {where}")

    # ------------------------------------------------------------ plumbing
    def _bump(self, conn) -> int:
        conn.execute(update(market_table).where(market_table.c.market_id == self.market_id)
                     .values(revision=market_table.c.revision + 1))
        return int(conn.execute(select(market_table.c.revision)
                                .where(market_table.c.market_id == self.market_id)).scalar_one())

    # ------------------------------------------------------------ reads
    def revision(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(market_table.c.revision)
                                    .where(market_table.c.market_id == self.market_id)).scalar_one())

    def ready_rows(self, learnware_id: str | None = None) -> list[StoredRow]:
        """Every ``ready`` row of the market, oldest first (or only ``learnware_id``'s)."""
        t = learnware_table
        where = [t.c.market_id == self.market_id, t.c.state == READY]
        if learnware_id is not None:
            where.append(t.c.learnware_id == check_learnware_id(learnware_id))
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.learnware_id, t.c.semantic_spec, t.c.folder, t.c.zip_path, t.c.use_flag,
                                       t.c.row_revision, t.c.owner).where(*where).order_by(t.c.seq)).all()
        return [StoredRow(r[0], json.loads(r[1]), r[2], r[3], int(r[4]), int(r[5]), r[6]) for r in rows]

    def row(self, learnware_id: str) -> StoredRow | None:
        found = self.ready_rows(learnware_id)
        return found[0] if found else None

    # ------------------------------------------------------------ writes
    def allocate(self, semantic_spec: dict, use_flag: int, owner: str | None = None) -> str:
        """Insert a ``pending`` row; the database's key becomes the learnware id."""
        t = learnware_table
        owner = check_owner(owner)
        with self.engine.begin() as conn:
            seq = conn.execute(insert(t).values(
                market_id=self.market_id, learnware_id=f"pending-{uuid.uuid4().hex}"[:40],
                semantic_spec=_dumps(semantic_spec), use_flag=int(use_flag), state=PENDING, row_revision=0,
                created=time.time(), owner=owner)).inserted_primary_key[0]
            learnware_id = f"{int(seq):08d}"
            conn.execute(update(t).where(t.c.seq == seq).values(learnware_id=learnware_id))
        return learnware_id

    def publish(self, learnware_id: str, folder: str, zip_path: str) -> None:
        """Mark a pending row ``ready`` once its files are in place."""
        if not self._set_row(learnware_id, PENDING, None, state=READY, folder=folder, zip_path=zip_path):
            raise RuntimeError(f"learnware {learnware_id} vanished from market {self.market_id!r} while being added")

    def discard(self, learnware_id: str) -> bool:
        """Delete a row (pending or ready); True when there was one."""
        t = learnware_table
        check_learnware_id(learnware_id)
        try:
            with self.engine.begin() as conn:
                self._bump(conn)
                if not conn.execute(delete(t).where(t.c.market_id == self.market_id,
                                                    t.c.learnware_id == learnware_id)).rowcount:
                    raise _NoSuchRow
        except _NoSuchRow:
            return False
        return True

    def replace(self, learnware_id: str, expected_revision: int, *, semantic_spec: dict, use_flag: int,
                folder: str, zip_path: str) -> bool:
        """Point a ready row at new files / a new semantic spec, if nobody changed the row meanwhile."""
        return self._set_row(learnware_id, READY, expected_revision, semantic_spec=_dumps(semantic_spec),
                             use_flag=int(use_flag), folder=folder, zip_path=zip_path)

    def _set_row(self, learnware_id: str, in_state: str, expected_revision: int | None, **values) -> bool:
        """Update one row found in ``in_state`` (at ``expected_revision``) and bump the market's revision.

        Every writing transaction takes the market's row first (``_bump``), so
        writers of one market queue in one order and never deadlock.
        """
        t = learnware_table
        where = [t.c.market_id == self.market_id, t.c.learnware_id == learnware_id, t.c.state == in_state]
        if expected_revision is not None:
            where.append(t.c.row_revision == expected_revision)
        try:
            with self.engine.begin() as conn:
                revision = self._bump(conn)
                if conn.execute(update(t).where(*where).values(row_revision=revision, **values)).rowcount != 1:
                    raise _NoSuchRow
        except _NoSuchRow:
            return False
        return True

    def clear(self) -> list[str]:
        """Delete every row of this market (``rebuild=True``); returns the ids deleted."""
        t = learnware_table
        with self.engine.begin() as conn:
            self._bump(conn)  # takes the write lock first, so no add publishes in between
            ids = list(conn.execute(select(t.c.learnware_id).where(t.c.market_id == self.market_id)).scalars())
            conn.execute(delete(t).where(t.c.market_id == self.market_id))
        return ids

    def stale_pending(self, older_than_s: float) -> list[str]:
        """Ids of pending rows left by adds that died before finishing."""
        t = learnware_table
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.c.learnware_id).where(
                t.c.market_id == self.market_id, t.c.state == PENDING,
                t.c.created < time.time() - older_than_s)).scalars())

    def folders_in_use(self) -> tuple[set[str], set[str]]:
        """Ids with a pending row (an add under way) and the folders ready rows point to: what a clean-up keeps."""
        t = learnware_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.learnware_id, t.c.state, t.c.folder)
                                .where(t.c.market_id == self.market_id)).all()
        return {r[0] for r in rows if r[1] != READY}, {r[2] for r in rows if r[1] == READY and r[2]}

    def import_legacy_rows(self) -> list[tuple[str, dict, str, str, int]]:
        """Move the stock organizer's ``tb_learnware`` rows (same database) into our table, once
        (:mod:`.legacy_rows`)."""
        from .legacy_rows import import_legacy_rows

        return import_legacy_rows(self)


class _NoSuchRow(Exception):
    """Rolls a writing transaction back when the row it meant to change is not there."""
