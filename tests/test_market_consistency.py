"""What one process stores is never reverted, lost or mixed up by another's change landing mid-way.

Each race is made real by landing a second market's write (a second process's
view of the same database and files) at the exact point between two reads of
the first; every test runs on SQLite and on PostgreSQL (``database_url``).
"""

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
    zip_path_of = organizer.get_learnware_zip_path_by_ids

    def deleted_first(learnware_id):
        if learnware_id == ids[1]:
            assert other.delete_learnware(learnware_id)
        return zip_path_of(learnware_id)

    organizer.get_learnware_zip_path_by_ids = deleted_first
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
