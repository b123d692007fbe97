"""Market storage never loses or mixes up a learnware: concurrent adds, deletes, updates, crashes, reloads.

Every test runs on SQLite and on a real PostgreSQL server (the ``database_url``
fixture). Learnwares are told apart by content: each zip carries its own model
and LANE spec, and a stored learnware must hold the very bytes of the zip whose
name it carries.
"""

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from k2v_learnware import generate_lane_spec, pack_learnware
from k2v_learnware.datasets import load_digits
from k2v_learnware.packaging import read_semantic_spec

REPO = Path(__file__).resolve().parents[1]
CONTENT_FILES = ("lane_spec.json", "model.pkl")


def _digest(files) -> dict:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files}


def zip_content(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return _digest((name, archive.read(name)) for name in CONTENT_FILES)


def stored_content(market, learnware_id) -> dict:
    folder = Path(market.learnware_organizer.learnware_folder_list[learnware_id])
    return _digest((name, (folder / name).read_bytes()) for name in CONTENT_FILES)


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    """20 learnwares, each a different pair of digits or a different seed: name -> zip path."""
    X, y = load_digits()
    folder = tmp_path_factory.mktemp("zips")
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)][:20]
    out = {}
    for k, (a, b) in enumerate(pairs):
        rows = np.isin(y, (a, b))
        model = LogisticRegression(max_iter=300).fit(X[rows], y[rows])
        spec = generate_lane_spec(X[rows], y[rows], num_per_class=3, iterations=3, seed=k, verbose=False)
        name = f"task-{a}-{b}"
        out[name] = pack_learnware(model, spec, folder / f"{name}.zip", name=name)
    return out


def open_market(root, database_url, market_id="store-test", **options):
    from k2v_learnware.market import instantiate_market

    return instantiate_market(market_id, root=root, database_url=database_url, **options)


def add(market, path):
    learnware_id, status = market.add_learnware(str(path), read_semantic_spec(path))
    assert learnware_id is not None, market.rejection_message
    return learnware_id


def assert_holds_exactly(market, expected: dict):
    """``expected``: learnware id -> zip it must hold; nothing else is stored."""
    assert sorted(market.get_learnware_ids()) == sorted(expected)
    for learnware_id, path in expected.items():
        name = market.get_learnware_by_ids(learnware_id).get_specification().get_semantic_spec()["Name"]["Values"]
        assert name == read_semantic_spec(path)["Name"]["Values"]
        assert stored_content(market, learnware_id) == zip_content(path), f"{learnware_id} holds another's files"


def stored_folders(root, market_id="store-test"):
    pool = Path(root) / market_id / "learnware_pool"
    return sorted(p.relative_to(pool).as_posix() for p in pool.glob("*/*"))


def test_four_processes_adding_at_once_each_learnware_stored_once_with_its_own_content(tmp_path, database_url, zips):
    observer = open_market(tmp_path, database_url)  # holds the market open the whole time
    names = sorted(zips)
    groups = [names[i::4] for i in range(4)]
    go = tmp_path / "go"
    procs, outs, readies = [], [], []
    for k, group in enumerate(groups):
        ready, out = tmp_path / f"ready{k}", tmp_path / f"out{k}.json"
        readies.append(ready), outs.append(out)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests._market_adder", str(tmp_path), "store-test", database_url or "-",
             str(ready), str(go), str(out), *(str(zips[n]) for n in group)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        for ready, proc in zip(readies, procs):
            while not ready.exists():
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                time.sleep(0.05)
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    added = {}
    for out in outs:
        for zip_path, (learnware_id, status, message) in json.loads(out.read_text()).items():
            assert learnware_id is not None and status == 1, message
            added[learnware_id] = Path(zip_path)
    assert len(added) == 20  # 20 distinct ids
    assert len(observer) == 20  # the process that had it open sees every addition
    assert_holds_exactly(observer, added)

    code = ("import json, sys; from tests.test_market_storage import open_market, stored_content;"
            f"m = open_market({str(tmp_path)!r}, {database_url!r});"
            "print(json.dumps({i: stored_content(m, i) for i in m.get_learnware_ids()}))")
    fresh = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    reopened = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert reopened == {i: zip_content(p) for i, p in added.items()}
    assert len(stored_folders(tmp_path)) == 20 and not list((tmp_path / "store-test/learnware_pool/staging").iterdir())


def test_delete_reopen_add_update_in_any_order_never_reuses_or_overwrites(tmp_path, database_url, zips):
    a, b, c, d = (zips[n] for n in sorted(zips)[:4])
    market = open_market(tmp_path, database_url)
    other = open_market(tmp_path, database_url)  # a second process's view of the same market
    id_a, id_b = add(market, a), add(market, b)
    assert market.delete_learnware(id_a)
    assert not market.delete_learnware(id_a)  # already gone
    assert_holds_exactly(other, {id_b: b})

    market = open_market(tmp_path, database_url)  # reopen, then add: a fresh id, B untouched
    id_c = add(market, c)
    assert id_c not in (id_a, id_b)
    assert_holds_exactly(market, {id_b: b, id_c: c})

    assert market.update_learnware(id_b, zip_path=str(d), semantic_spec=read_semantic_spec(d)) == 1
    assert_holds_exactly(other, {id_b: d, id_c: c})  # the other view follows the update
    semantic = read_semantic_spec(c)
    semantic["Description"]["Values"] = "updated description"
    assert market.update_learnware(id_c, semantic_spec=semantic) == 1
    assert other.get_learnware_by_ids(id_c).get_specification().get_semantic_spec()["Description"]["Values"] \
        == "updated description"

    assert other.delete_learnware(id_b)  # deleted through the other view
    id_b2 = add(market, b)  # and added again
    assert id_b2 not in (id_a, id_b, id_c)
    assert_holds_exactly(market, {id_c: c, id_b2: b})
    assert_holds_exactly(open_market(tmp_path, database_url), {id_c: c, id_b2: b})
    assert [f.split("/")[1] for f in stored_folders(tmp_path) if f.startswith("learnwares/")] \
        == sorted([id_c, id_b2])


def test_update_of_a_learnware_deleted_meanwhile_is_refused_with_a_reason(tmp_path, database_url, zips):
    a, b = (zips[n] for n in sorted(zips)[:2])
    market, other = open_market(tmp_path, database_url), open_market(tmp_path, database_url)
    id_a = add(market, a)
    market.get_learnware_ids()
    assert other.delete_learnware(id_a)
    assert market.update_learnware(id_a, zip_path=str(b)) == -1
    assert id_a in market.rejection_message
    assert not [f for f in stored_folders(tmp_path) if f.startswith("learnwares/")]


def test_a_crash_after_the_files_are_written_leaves_nothing_behind(tmp_path, database_url, zips, monkeypatch):
    from k2v_learnware.market.store import MarketStore, learnware_table

    a, b = (zips[n] for n in sorted(zips)[:2])
    market = open_market(tmp_path, database_url)
    id_a = add(market, a)

    def crash(self, *args, **kwargs):
        raise RuntimeError("simulated crash after the files were moved into place")

    monkeypatch.setattr(MarketStore, "publish", crash)
    learnware_id, status = market.add_learnware(str(b), read_semantic_spec(b))
    assert learnware_id is None and status == -1
    assert "simulated crash" in market.rejection_message
    monkeypatch.undo()

    with market.learnware_organizer.store.engine.connect() as conn:
        rows = conn.execute(learnware_table.select()).all()
    assert [r.learnware_id for r in rows] == [id_a]  # no pending row left
    assert [f for f in stored_folders(tmp_path) if f.startswith("learnwares/")] == [f"learnwares/{id_a}"]
    assert not list((tmp_path / "store-test/learnware_pool/staging").iterdir())
    assert_holds_exactly(open_market(tmp_path, database_url), {id_a: a})
    id_b = add(market, b)  # the market works on, with a fresh id
    assert_holds_exactly(market, {id_a: a, id_b: b})


def test_rebuild_really_clears_the_market_and_any_market_id_is_safe(tmp_path, database_url, zips):
    a, b = (zips[n] for n in sorted(zips)[:2])
    mine = open_market(tmp_path, database_url, market_id="my-market")  # the README's own example
    theirs = open_market(tmp_path, database_url, market_id="their.market_2")
    add(mine, a), add(theirs, b)
    rebuilt = open_market(tmp_path, database_url, market_id="my-market", rebuild=True)
    assert len(rebuilt) == 0 and len(open_market(tmp_path, database_url, market_id="my-market")) == 0
    assert not [f for f in stored_folders(tmp_path, "my-market") if f.startswith("learnwares/")]
    assert len(open_market(tmp_path, database_url, market_id="their.market_2")) == 1  # other markets untouched
    theirs.reload_market()  # the stock reload, with no settings, keeps the market's own database
    assert len(theirs) == 1 and theirs.learnware_organizer.database_url.startswith((database_url or "sqlite")[:8])
    for bad in ("", "../up", "a b", "x'; DROP TABLE k2v_learnware; --", "-lead", "é"):
        with pytest.raises(ValueError, match="market_id"):
            open_market(tmp_path, database_url, market_id=bad)
    with pytest.raises(TypeError, match="market_id"):
        open_market(tmp_path, database_url, market_id=7)


def test_a_market_written_by_the_stock_organizer_reopens_with_every_learnware(tmp_path, zips):
    """Markets made before this storage (learnware's EasyOrganizer schema, today's zips) keep everything."""
    from learnware.config import C
    from learnware.market import EasyOrganizer

    with zipfile.ZipFile(zips[sorted(zips)[0]]) as archive:  # the zip names our classes as stored markets do
        assert "module_path: k2v_learnware\n" in archive.read("learnware.yaml").decode()
        assert "from learnware.model import BaseModel" in archive.read("__init__.py").decode()
    # learnware's global config, as the stock organizer reads it (our market never reads database_url)
    C.market_root_path = str(tmp_path)
    C.database_url = f"sqlite:///{tmp_path / 'database'}"
    legacy = EasyOrganizer(market_id="store-test", rebuild=False)
    old = {}
    for name in sorted(zips)[:3]:
        learnware_id, status = legacy.add_learnware(str(zips[name]), read_semantic_spec(zips[name]), 1)
        assert learnware_id is not None
        old[learnware_id] = zips[name]
    legacy.dbops.engine.dispose()

    market = open_market(tmp_path, None)
    assert_holds_exactly(market, old)
    new = add(market, zips[sorted(zips)[3]])
    assert new not in old
    assert market.delete_learnware(sorted(old)[0])
    old.pop(sorted(old)[0])
    assert_holds_exactly(open_market(tmp_path, None), {**old, new: zips[sorted(zips)[3]]})


def test_database_url_errors_are_clear(tmp_path):
    for bad, match in [("mysql://u@h/db", "sqlite:// or postgresql://"), ("not a url", "database URL"),
                       ("", "non-empty")]:
        with pytest.raises(ValueError, match=match):
            open_market(tmp_path, bad)


def test_a_reader_loading_while_another_process_updates_is_not_broken(tmp_path, database_url, zips):
    a, b = (zips[n] for n in sorted(zips)[:2])
    writer = open_market(tmp_path, database_url)
    id_a = add(writer, a)
    reader = open_market(tmp_path, database_url)
    writer.update_learnware(id_a, semantic_spec=read_semantic_spec(a))  # the reader must load id_a again
    organizer, load = reader.learnware_organizer, reader.learnware_organizer._load
    raced = []

    def load_while_updated(row):  # the update lands between the reader's row read and its file load
        if not raced:
            raced.append(writer.update_learnware(id_a, zip_path=str(b), semantic_spec=read_semantic_spec(b)))
        return load(row)

    organizer._load = load_while_updated
    assert_holds_exactly(reader, {id_a: b})
    assert raced == [1] and organizer.unloadable == {}


def test_an_update_based_on_a_stale_read_is_refused(tmp_path, database_url, zips, monkeypatch):
    a, b = (zips[n] for n in sorted(zips)[:2])
    mine, theirs = open_market(tmp_path, database_url), open_market(tmp_path, database_url)
    id_a = add(mine, a)
    semantic = read_semantic_spec(a)
    semantic["Description"]["Values"] = "theirs"
    check = mine.check_learnware

    def check_while_they_update(*args, **kwargs):  # their change lands while mine is being checked
        assert theirs.update_learnware(id_a, semantic_spec=semantic) == 1
        return check(*args, **kwargs)

    monkeypatch.setattr(mine, "check_learnware", check_while_they_update)
    assert mine.update_learnware(id_a, zip_path=str(b)) == -1
    assert "changed by another process" in mine.rejection_message
    monkeypatch.undo()
    kept = open_market(tmp_path, database_url).get_learnware_by_ids(id_a).get_specification().get_semantic_spec()
    assert kept["Description"]["Values"] == "theirs"  # not silently overwritten
    assert_holds_exactly(open_market(tmp_path, database_url), {id_a: a})


def test_a_learnware_that_cannot_load_is_named_and_can_be_deleted(tmp_path, database_url, zips):
    from k2v_learnware.market import MarketReloadError

    a, b = (zips[n] for n in sorted(zips)[:2])
    market = open_market(tmp_path, database_url)
    id_a, id_b = add(market, a), add(market, b)
    spec_file = Path(market.learnware_organizer.learnware_folder_list[id_a]) / "lane_spec.json"
    spec_file.write_text("{broken")
    with pytest.raises(MarketReloadError, match=id_a):
        open_market(tmp_path, database_url)
    lenient = open_market(tmp_path, database_url, strict=False)
    assert id_a in lenient.learnware_organizer.unloadable
    assert_holds_exactly(lenient, {id_b: b})
    assert lenient.delete_learnware(id_a)
    assert_holds_exactly(open_market(tmp_path, database_url), {id_b: b})
    assert [f for f in stored_folders(tmp_path) if f.startswith("learnwares/")] == [f"learnwares/{id_b}"]


# The __init__.py every zip carried before the standalone loader (markets hold such zips).
_OLD_LOADER = '''import os

from k2v_learnware.packaging import PickledModel


class Model(PickledModel):
    def __init__(self, input_shape, output_shape):
        here = os.path.dirname(os.path.abspath(__file__))
        super().__init__(os.path.join(here, "model.pkl"), tuple(input_shape), tuple(output_shape))
'''


def test_a_packed_model_loads_without_k2v_learnware_and_older_zips_still_load(tmp_path, zips):
    import importlib.util

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(zips[sorted(zips)[0]]) as archive:
        archive.extractall(folder)
    code = ("import sys, importlib.util, numpy as np; sys.modules['k2v_learnware'] = None; "
            "spec = importlib.util.spec_from_file_location('lw', sys.argv[1]); "
            "m = importlib.util.module_from_spec(spec); "
            "spec.loader.exec_module(m); print(m.Model([64], [1]).predict(np.zeros((3, 64))).shape)")
    result = subprocess.run([sys.executable, "-c", code, str(folder / "__init__.py")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "(3,)", result.stderr[-2000:]

    (folder / "__init__.py").write_text(_OLD_LOADER)
    spec = importlib.util.spec_from_file_location("old_lw", folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.Model([64], [1]).predict(np.zeros((3, 64))).shape == (3,)


def test_packing_never_destroys_an_existing_zip(tmp_path, zips):
    from sklearn.dummy import DummyClassifier

    from k2v_learnware import LANESpecification

    good = tmp_path / "good.zip"
    good.write_bytes(zips[sorted(zips)[0]].read_bytes())
    before = good.read_bytes()
    spec = LANESpecification()
    with zipfile.ZipFile(good) as archive:
        archive.extract("lane_spec.json", tmp_path)
    spec.load(tmp_path / "lane_spec.json")
    model = DummyClassifier().fit(spec.get_z(), spec.get_labels())
    with pytest.raises(ValueError, match="overwrite=True"):
        pack_learnware(model, spec, good)

    class Unpicklable:
        def predict(self, X):
            return X

        def __reduce__(self):
            raise TypeError("cannot pickle this model")

    with pytest.raises(TypeError, match="cannot pickle"):
        pack_learnware(Unpicklable(), spec, good, overwrite=True)
    assert good.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["good.zip", "lane_spec.json"]
    assert pack_learnware(model, spec, good, overwrite=True) == good and good.read_bytes() != before
    with pytest.raises(ValueError, match="is a directory"):
        pack_learnware(model, spec, tmp_path)
