"""Market stage: moving the rows of a market written by the stock organizer into our table, once, losing none.

A market written by an earlier version (``learnware``'s ``EasyOrganizer``
schema, table ``tb_learnware`` in the same database) keeps every learnware:
ids stay as they were and the autoincrement key continues after the largest
numeric one. The move is one transaction: every row moves, or none does and
the market says why when it opens. Numeric ids are moved first, in order, each
on the key its number gives, so an id the stock organizer chose by name
(``learnware_id="hub-model"``) takes a key after them rather than the one an
``"00000000"`` needs. A semantic specification holding NaN or an infinity is
refused as every other stored JSON is.
"""

from __future__ import annotations

import json
import time

from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from .store import READY, MarketReloadError, learnware_table

LEGACY_TABLE = "tb_learnware"


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def legacy_semantic_spec(learnware_id: str, semantic: str) -> dict:
    """A stock row's semantic specification as a dict; NaN, infinities or other JSON name the learnware."""
    try:
        spec = json.loads(semantic, parse_constant=_no_constants)
        if not isinstance(spec, dict):
            raise ValueError(f"it is a JSON {type(spec).__name__}, not an object")
    except (TypeError, ValueError) as err:
        raise MarketReloadError(f"the stock organizer's learnware {learnware_id!r} ({LEGACY_TABLE}) has a semantic "
                                f"specification that cannot be kept: {err}; fix or delete that row") from None
    return spec


def _in_key_order(rows):
    """Numeric ids first, by number (each takes the key its number gives), then the others by name."""
    rows = [(str(r[0]).strip(), *r[1:]) for r in rows]
    numeric = sorted((r for r in rows if r[0].isdigit()), key=lambda r: (int(r[0]), r[0]))
    return numeric + sorted(r for r in rows if not r[0].isdigit())


class _Collision(Exception):
    def __init__(self, learnware_id: str, err: IntegrityError):
        super().__init__(learnware_id)
        self.learnware_id, self.err = learnware_id, err


def import_legacy_rows(store) -> list[tuple[str, dict, str, str, int]]:
    """Move ``tb_learnware``'s rows into ``store``'s market; (id, semantic spec, folder, zip, status) of each.

    A collision is only what it seems, another process having moved the rows
    first, when the legacy table is empty now; otherwise the market would open
    empty on every try, so it is a :class:`MarketReloadError` naming the row.
    """
    if LEGACY_TABLE not in inspect(store.engine).get_table_names():
        return []
    try:
        return _move(store)
    except (_Collision, IntegrityError) as err:
        with store.engine.connect() as conn:
            left = conn.execute(text(f"SELECT count(*) FROM {LEGACY_TABLE}")).scalar_one()
        if not left:
            return []  # another process moved them first
        which = f"learnware {err.learnware_id!r}" if isinstance(err, _Collision) else "a learnware"
        cause = getattr(err, "err", err)
        raise MarketReloadError(
            f"market {store.market_id!r}: the stock organizer's {which} ({LEGACY_TABLE}) collides with a stored "
            f"learnware, so none of its {left} rows was moved: {str(getattr(cause, 'orig', cause)).strip()}"
        ) from None


def _move(store):
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:
        if postgres:  # no other market's add takes a key while the sequence is moved past ours
            conn.execute(text("LOCK TABLE k2v_learnware IN EXCLUSIVE MODE"))
        rows = conn.execute(text(f"SELECT id, semantic_spec, zip_path, folder_path, use_flag FROM {LEGACY_TABLE}"))\
            .all()
        keyed, unkeyed, moved, taken = [], [], [], set()
        for learnware_id, semantic, zip_path, folder, use_flag in _in_key_order(rows):
            spec = legacy_semantic_spec(learnware_id, semantic)
            values = dict(market_id=store.market_id, learnware_id=learnware_id, semantic_spec=semantic,
                          folder=folder, zip_path=zip_path, use_flag=int(use_flag), state=READY,
                          row_revision=0, created=time.time())
            if learnware_id.isdigit() and int(learnware_id) + 1 not in taken:
                taken.add(int(learnware_id) + 1)
                keyed.append({**values, "seq": int(learnware_id) + 1})  # keys start at 1; legacy ids at 0
            else:  # a name, or "5" beside "00000005": the next key after every numeric one
                unkeyed.append(values)
            moved.append((learnware_id, spec, folder, zip_path, int(use_flag)))
        _insert(conn, keyed)
        if keyed and postgres:  # explicit keys do not advance the sequence; it must never go back either
            conn.execute(text(
                "SELECT setval(s, GREATEST(COALESCE((SELECT max(seq) FROM k2v_learnware), 1), "
                "COALESCE(pg_sequence_last_value(s), 1))) "
                "FROM (SELECT pg_get_serial_sequence('k2v_learnware', 'seq')::regclass AS s) AS q"))
        _insert(conn, unkeyed)
        conn.execute(text(f"DELETE FROM {LEGACY_TABLE}"))
        if moved:
            store._bump(conn)  # the market's revision, in the same transaction (the store's own step)
    return moved


def _insert(conn, rows) -> None:
    for values in rows:
        try:
            conn.execute(insert(learnware_table).values(**values))
        except IntegrityError as err:
            raise _Collision(values["learnware_id"], err) from None
