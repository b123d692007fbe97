"""What one process stores is never reverted, lost or mixed up by another's change landing mid-way.

Each race is made real by landing a second market's write (a second process's
view of the same database and files) at the exact point between two reads of
the first; every test runs on SQLite and on PostgreSQL (``database_url``).
"""

import numpy as np
import pytest

from k2v_learnware.datasets import load_digits
from k2v_learnware.packaging import read_semantic_spec
from tests import test_market_storage
from tests.test_market_storage import add, assert_holds_exactly, open_market

zips = test_market_storage.zips  # the storage tests' 20 learnware zips, a module-scoped fixture


@pytest.fixture(scope="module")
def probe_X():
    X, _ = load_digits()
    return X[:40]


def test_building_know2vec_specs_never_reverts_an_update_made_meanwhile(tmp_path, database_url, zips, probe_X):
    a, b = (zips[n] for n in sorted(zips)[:2])
    id_a = add(open_market(tmp_path, database_url), a)  # added before the market had a probe set
    market = open_market(tmp_path, database_url, probe_X=probe_X)
    other = open_market(tmp_path, database_url)
    organizer = market.learnware_organizer
    update = organizer.update_learnware

    def update_after_theirs(*args, **kwargs):  # their new version lands after the stored zip was copied
        assert other.update_learnware(id_a, zip_path=str(b), semantic_spec=read_semantic_spec(b)) == 1
        return update(*args, **kwargs)

    organizer.update_learnware = update_after_theirs
    result = market.build_know2vec_specs()
    assert result["built"] == [] and "changed by another process" in result["failed"][id_a]
    assert_holds_exactly(open_market(tmp_path, database_url), {id_a: b})  # their zip, their semantic spec


def test_building_know2vec_specs_goes_on_past_a_learnware_deleted_meanwhile(tmp_path, database_url, zips, probe_X):
    a, b, c = (zips[n] for n in sorted(zips)[:3])
    first = open_market(tmp_path, database_url)
    ids = [add(first, path) for path in (a, b, c)]
    market = open_market(tmp_path, database_url, probe_X=probe_X)
    other = open_market(tmp_path, database_url)
    organizer = market.learnware_organizer
    stored_version = organizer.stored_version

    def deleted_first(learnware_id):  # another process deletes it after the listing, before it is read
        if learnware_id == ids[1]:
            assert other.delete_learnware(learnware_id)
        return stored_version(learnware_id)

    organizer.stored_version = deleted_first
    result = market.build_know2vec_specs()
    assert result["built"] == [ids[0], ids[2]] and "deleted" in result["failed"][ids[1]]
    assert_holds_exactly(open_market(tmp_path, database_url), {ids[0]: a, ids[2]: c})
    specs = [lw.get_specification().get_stat_spec().get("Know2VecSpecification")
             for lw in open_market(tmp_path, database_url).get_learnwares()]
    assert all(spec is not None and spec.holds_probe_labels(probe_X) for spec in specs)


def test_an_update_never_reverts_a_change_landing_while_it_reads_the_learnware(tmp_path, database_url, zips):
    a, b = (zips[n] for n in sorted(zips)[:2])
    mine, theirs = open_market(tmp_path, database_url), open_market(tmp_path, database_url)
    id_a = add(mine, a)
    semantic = read_semantic_spec(a)
    semantic["Description"]["Values"] = "theirs"
    organizer, raced = mine.learnware_organizer, []
    refresh = organizer.refresh

    def refresh_then_theirs(*args, **kwargs):  # their change lands right after my update's first read
        refresh(*args, **kwargs)
        if not raced:
            raced.append(theirs.update_learnware(id_a, semantic_spec=semantic))

    organizer.refresh = refresh_then_theirs
    assert mine.update_learnware(id_a, zip_path=str(b)) == -1 and raced == [1]
    assert "changed by another process" in mine.rejection_message
    organizer.refresh = refresh
    kept = open_market(tmp_path, database_url).get_learnware_by_ids(id_a).get_specification().get_semantic_spec()
    assert kept["Description"]["Values"] == "theirs"
    assert_holds_exactly(open_market(tmp_path, database_url), {id_a: a})


def test_a_search_goes_on_past_a_delete_or_update_landing_while_it_reads_the_class_means(tmp_path, database_url, zips):
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.market import user_info

    a, b, c, d = (zips[n] for n in sorted(zips)[:4])
    mine, theirs = open_market(tmp_path, database_url), open_market(tmp_path, database_url)
    ids = [add(theirs, a), add(theirs, b)]
    X, y = load_digits()
    user = user_info(generate_lane_spec(X[y < 2][:120], None, num_per_class=5, iterations=5, verbose=False))
    searcher = mine.learnware_searcher.stat_searcher_list[1]
    index_for = searcher.index_for
    for change in (lambda: theirs.delete_learnware(ids[0]), lambda: theirs.update_learnware(ids[1], zip_path=str(c))):
        def theirs_first(*args, change=change):  # lands after my refresh, before my new index reads the files
            searcher.index_for = index_for
            assert change() in (True, 1)
            return index_for(*args)

        searcher.index_for = theirs_first
        found = [(item.learnware.id, item.score) for item in mine.search_learnware(user).get_single_results()]
        assert searcher.index_for == index_for  # the race happened
        fresh = open_market(tmp_path, database_url).search_learnware(user).get_single_results()
        assert found == [(item.learnware.id, item.score) for item in fresh]
        add(theirs, d)  # my index is out of date again


# ------------------------------------------------------------------ a market written by the stock organizer
def _legacy_store(tmp_path, database_url, rows):
    """A market store whose database also holds the stock organizer's table with ``rows`` (id, semantic JSON)."""
    from sqlalchemy import text

    from k2v_learnware.market.database import open_engine
    from k2v_learnware.market.store import MarketStore

    engine = open_engine(database_url or f"sqlite:///{tmp_path / 'market_m.db'}")
    store = MarketStore(engine, "m")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tb_learnware (id VARCHAR(10) PRIMARY KEY NOT NULL, semantic_spec TEXT NOT "
                          "NULL, zip_path TEXT NOT NULL, folder_path TEXT NOT NULL, use_flag TEXT NOT NULL)"))
        for learnware_id, semantic in rows:
            conn.execute(text("INSERT INTO tb_learnware VALUES (:i, :s, '/z.zip', '/f', '1')"),
                         {"i": learnware_id, "s": semantic})
    return store


def _legacy_ids(store):
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return sorted(conn.execute(text("SELECT id FROM tb_learnware")).scalars())


def test_a_stock_market_whose_first_learnware_was_named_reopens_with_every_learnware(tmp_path, zips):
    from learnware.config import C
    from learnware.market import EasyOrganizer

    C.market_root_path = str(tmp_path)
    C.database_url = f"sqlite:///{tmp_path / 'database'}"
    legacy = EasyOrganizer(market_id="store-test", rebuild=False)
    a, b = (zips[n] for n in sorted(zips)[:2])
    named, _ = legacy.add_learnware(str(a), read_semantic_spec(a), 1, learnware_id="hub-model")
    numbered, _ = legacy.add_learnware(str(b), read_semantic_spec(b), 1, learnware_id="00000000")
    legacy.dbops.engine.dispose()
    assert named == "hub-model" and numbered == "00000000"

    market = open_market(tmp_path, None)
    assert_holds_exactly(market, {named: a, numbered: b})
    new = add(market, a)
    assert new not in (named, numbered)
    assert_holds_exactly(open_market(tmp_path, None), {named: a, numbered: b, new: a})


def test_a_stock_row_that_collides_is_named_and_nothing_moves(tmp_path, database_url):
    store = _legacy_store(tmp_path, database_url, [("00000000", '{"Name": {"Values": "old"}}')])
    mine = store.allocate({"Name": {"Values": "mine"}}, 1)  # key 1, the one "00000000" needs
    store.publish(mine, "learnwares/x", "learnwares/x/learnware.zip")
    from k2v_learnware.market import MarketReloadError

    with pytest.raises(MarketReloadError, match="learnware '00000000' .* collides"):
        store.import_legacy_rows()
    assert _legacy_ids(store) == ["00000000"] and [r.learnware_id for r in store.ready_rows()] == [mine]
    store.engine.dispose()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_stock_row_with_a_non_finite_number_is_not_moved(tmp_path, constant):
    from k2v_learnware.market import MarketReloadError

    store = _legacy_store(tmp_path, None, [("00000000", '{"Name": {"Values": "x"}, "Score": %s}' % constant)])
    with pytest.raises(MarketReloadError, match=f"learnware '00000000' .*{constant.lstrip('-')} is not a number"):
        store.import_legacy_rows()
    assert _legacy_ids(store) == ["00000000"] and store.ready_rows() == []
    store.engine.dispose()


def test_moving_stock_rows_never_hands_out_a_deleted_id_again(tmp_path, postgres_server):
    from k2v_learnware.market.database import open_engine
    from k2v_learnware.market.store import MarketStore

    try:
        fresh = _legacy_store(tmp_path, f"{postgres_server.url}/k2v_legacy_fresh", [("00000000", "{}"),
                                                                                    ("hub-model", "{}")])
        assert [m[0] for m in fresh.import_legacy_rows()] == ["00000000", "hub-model"]  # the name after the key
        assert fresh.allocate({}, 1) == "00000003"
        fresh.engine.dispose()

        url = f"{postgres_server.url}/k2v_legacy_keys"
        other = MarketStore(open_engine(url), "other")  # another market of the same database
        ids = [other.allocate({"n": i}, 1) for i in range(5)]
        for learnware_id in ids[:1] + ids[2:]:
            assert other.discard(learnware_id)
        store = _legacy_store(tmp_path, url, [("00000000", "{}")])
        assert [m[0] for m in store.import_legacy_rows()] == ["00000000"]
        after = [other.allocate({"n": 9}, 1), store.allocate({"n": 9}, 1)]
        assert min(int(i) for i in after) > max(int(i) for i in ids)  # past every key ever handed out
        other.engine.dispose(), store.engine.dispose()
    finally:
        postgres_server.drop_databases()


def test_what_the_organizer_hands_out_is_a_copy_an_edit_of_which_is_never_stored(tmp_path, zips):
    a, b = (zips[n] for n in sorted(zips)[:2])
    market = open_market(tmp_path, None)
    organizer = market.learnware_organizer
    id_a = add(market, a)
    organizer.get_learnware_info_from_storage(id_a)["semantic_spec"]["Name"]["Values"] = "scribbled"
    organizer.stored_rows()[0].semantic_spec["Description"]["Values"] = "scribbled"
    organizer.stored_version(id_a)[0].semantic_spec["License"] = "scribbled"
    assert organizer.update_learnware(id_a, zip_path=str(b)) == 1  # keeps the stored semantic spec
    assert open_market(tmp_path, None).learnware_organizer.stored_rows()[0].semantic_spec == read_semantic_spec(a)


# ------------------------------------------------------------------ reading a market writes nothing
def test_listing_a_market_that_is_not_there_says_so_and_creates_nothing(tmp_path, database_url, postgres_server):
    from sqlalchemy import create_engine, text

    from k2v_learnware.market.listing import list_market

    open_market(tmp_path, database_url, market_id="real")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if "-wal" not in p.name
                    and "-shm" not in p.name)
    assert list_market("real", tmp_path, database_url) == []
    with pytest.raises(ValueError, match="market 'typo' does not exist"):
        list_market("typo", tmp_path, database_url)
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if "-wal" not in p.name
                   and "-shm" not in p.name)
    assert after == before  # no market_typo.db
    store = open_market(tmp_path, database_url, market_id="real").learnware_organizer.store
    with store.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT market_id FROM k2v_market")).scalars()) == ["real"]
    store.engine.dispose()

    absent = f"{postgres_server.url}/k2v_never_made"  # a database that is not there is not created either
    with pytest.raises(ValueError, match="market 'real' does not exist: there is no database 'k2v_never_made'"):
        list_market("real", tmp_path, absent)
    admin = create_engine(f"{postgres_server.url}/postgres".replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'k2v_never_made'")).first() is None
    admin.dispose()


def test_the_statuses_a_market_stores_are_learnwares_own():
    from learnware.market.base import BaseChecker

    from k2v_learnware.market.market_checks import STORED_STATUSES

    assert STORED_STATUSES == (BaseChecker.NONUSABLE_LEARNWARE, BaseChecker.USABLE_LEARNWARE)


def test_an_open_market_goes_on_when_its_probe_set_file_is_emptied(tmp_path, zips, probe_X, caplog):
    a = zips[sorted(zips)[0]]
    market = open_market(tmp_path, None, probe_X=probe_X)
    id_a = add(market, a)
    (tmp_path / "store-test/know2vec/probe.npy").write_bytes(b"")  # an operator's copy that ran out of disk
    for _ in range(2):  # warned once per change of the file, the probe set kept meanwhile
        assert market.get_learnware_ids() == [id_a]
    assert "probe.npy is not a probe set: EOFError" in caplog.text
    assert np.array_equal(market.learnware_organizer.probe_X, probe_X.astype(np.float32))


# ------------------------------------------------------------------ what a crash leaves behind
def test_versions_a_crash_left_behind_go_once_stale_and_nothing_in_use_does(tmp_path, database_url, zips, monkeypatch):
    import shutil
    import time
    from pathlib import Path

    from k2v_learnware.market import organizer as organizer_module

    a, b, c = (zips[n] for n in sorted(zips)[:3])
    market = open_market(tmp_path, database_url)
    id_a, id_b = add(market, a), add(market, b)
    assert market.update_learnware(id_a, zip_path=str(c), semantic_spec=read_semantic_spec(c)) == 1
    organizer = market.learnware_organizer
    current = Path(organizer.learnware_folder_list[id_a]).parent
    pool = tmp_path / "store-test/learnware_pool/learnwares"
    shutil.copytree(current, pool / id_a / "died-mid-update")  # placed, but the row was never switched to it
    assert organizer.store.discard(id_b)  # a delete that died after its row went, before its files did
    time.sleep(2.5)
    shutil.copytree(current, pool / id_a / "being-placed-now")  # too young to judge: another process's update

    monkeypatch.setattr(organizer_module, "STALE_AFTER_S", 2.0)
    reopened = open_market(tmp_path, database_url)
    assert sorted(p.relative_to(pool).as_posix() for p in pool.glob("*/*")) \
        == sorted([f"{id_a}/{current.name}", f"{id_a}/being-placed-now"])
    assert_holds_exactly(reopened, {id_a: c})
