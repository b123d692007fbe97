"""A market's labelled probe set: stored with its fingerprint, never mixed with another probe set, and the proxy
trained on it ranks the most accurate of several learnwares of one class subset first."""

import json
import logging

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from k2v_learnware.datasets import load_digits
from k2v_learnware.proxy import Know2VecQuery
from k2v_learnware.specification.formats import SpecificationFormatError

HALVES = [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
TINY = {"hidden": 16, "embedding_dim": 32, "epochs": 150, "batch_size": 16, "verbose": False}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    probe = np.arange(len(y)) % 4 == 1  # the market's probe rows; queries come from rows % 4 == 3
    return X, y, probe


def _models(X, y, probe):
    """Per half of the classes, an accurate model (every training row) and a poor one (3 rows a class)."""
    models = []
    for half in HALVES:
        rows = np.flatnonzero(np.isin(y, half) & (np.arange(len(y)) % 4 == 0))
        few = np.concatenate([rows[y[rows] == c][:3] for c in half])
        models.append(("good", half, LogisticRegression(max_iter=500).fit(X[rows], y[rows])))
        models.append(("poor", half, LogisticRegression(max_iter=500).fit(X[few], y[few])))
    return models


@pytest.fixture(scope="module")
def stocked(tmp_path_factory, digits):
    """A market holding four stock RKME learnwares, made once; each test copies it."""
    from k2v_learnware.market import instantiate_market
    from tests._stock_learnware import stock_rkme_zip, stock_semantic_spec

    X, y, probe = digits
    root = tmp_path_factory.mktemp("probe-labels")
    market = instantiate_market("k2v", rebuild=True, root=root, probe_X=X[probe], probe_y=y[probe])
    names = {}
    for i, (kind, half, model) in enumerate(_models(X, y, probe)):
        path = stock_rkme_zip(model, X[np.isin(y, half)], root / f"{kind}-{i}.zip")
        learnware_id, status = market.add_learnware(str(path), stock_semantic_spec(f"{kind}-{i}", kind, 10))
        assert status == 1, market.rejection_message
        names[learnware_id] = (kind, half)
    return root, names


def _copy(stocked, tmp_path):
    import shutil

    root, names = stocked
    shutil.copytree(root, tmp_path / "market")
    return tmp_path / "market", names


def _top_kinds(market, names, X, y, queries=12):
    """The kind ("good"/"poor") and half of the learnware the market's proxy ranks first, per query task."""
    learnwares = market.learnware_organizer.get_learnwares()
    specs = [lw.get_specification().get_stat_spec()["Know2VecSpecification"] for lw in learnwares]
    rng = np.random.default_rng(0)
    tops = []
    for q in range(queries):
        half = HALVES[q % 2]
        classes = rng.choice(half, size=int(rng.integers(2, 5)), replace=False)
        rows = np.flatnonzero(np.isin(y, classes) & (np.arange(len(y)) % 4 == 3))
        scores = market.know2vec_searcher.proxy.scores(Know2VecQuery.from_data(X[rows], y[rows]), specs)
        kind, top_half = names[learnwares[int(np.argmax(scores))].id]
        tops.append((kind, top_half == half))
    return tops


def test_labelled_probe_ranks_the_accurate_learnware_first(stocked, digits, tmp_path):
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.proxy import Know2VecProxy

    X, y, probe = digits
    root, names = _copy(stocked, tmp_path)
    market = instantiate_market("k2v", root=root)  # the labels come back with the probe set
    assert market.learnware_organizer.probe_y == y[probe].tolist()
    proxy = market.fit_know2vec_proxy(**TINY)  # auto: the market holds labels
    assert proxy.training_ == "labelled-probe"
    assert Know2VecProxy.load(root / "k2v" / "know2vec" / "proxy").training_ == "labelled-probe"
    specs = [lw.get_specification().get_stat_spec()["Know2VecSpecification"]
             for lw in market.learnware_organizer.get_learnwares()]
    direct = Know2VecProxy(**TINY).fit(specs, specs, probe_X=X[probe], probe_y=y[probe])  # what the market wires
    assert proxy.losses_ == direct.losses_
    labelled = _top_kinds(market, names, X, y)
    assert all(same_half for _, same_half in labelled)
    assert sum(kind == "good" for kind, _ in labelled) >= 11, labelled

    # the paper's regime on the same market cannot tell the two learnwares of one class subset apart
    assert market.fit_know2vec_proxy(save=False, regime="identity", **TINY).training_ == "identity"
    identity = _top_kinds(market, names, X, y)
    assert sum(kind == "good" for kind, _ in identity) < sum(kind == "good" for kind, _ in labelled), identity


def test_labels_are_kept_with_their_probe_set_only(stocked, digits, tmp_path, caplog):
    from k2v_learnware.market import instantiate_market

    X, y, probe = digits
    root, _ = _copy(stocked, tmp_path)
    labels_file = root / "k2v" / "know2vec" / "probe_labels.json"
    doc = json.loads(labels_file.read_text())
    assert doc["type"] == "Know2VecProbeLabels" and doc["labels"] == y[probe].tolist()

    same = instantiate_market("k2v", root=root, probe_X=X[probe])  # the same probe set again: labels stay
    assert same.learnware_organizer.probe_y == y[probe].tolist()

    # a probe.npy another writer replaced without its labels (stopped between the files): labels ignored
    np.save(root / "k2v" / "know2vec" / "probe.npy", X[probe][::-1], allow_pickle=False)
    with caplog.at_level(logging.WARNING, logger="k2v_learnware.market"):
        crashed = instantiate_market("k2v", root=root)
    assert crashed.learnware_organizer.probe_y is None and "labels another probe set" in caplog.text
    assert labels_file.exists()
    with pytest.raises(ValueError, match="needs labels of the market's probe set"):
        crashed.fit_know2vec_proxy(regime="labelled", **TINY)

    other = instantiate_market("k2v", root=root, probe_X=X[probe][:100])  # a new probe set: its labels are gone
    assert other.learnware_organizer.probe_y is None and not labels_file.exists()
    relabelled = instantiate_market("k2v", root=root, probe_y=y[probe][:100])  # labels for the stored probe set
    assert relabelled.learnware_organizer.probe_y == y[probe][:100].tolist()


@pytest.mark.parametrize("probe_y, error, message", [
    (lambda y: y[:-1], ValueError, "labels but X has"),
    (lambda y: np.zeros_like(y), ValueError, "at least 2 classes"),
    (lambda y: [*y[:-1].tolist(), "a"], TypeError, "mixes label types"),
    (lambda y: [*y[:-1].tolist(), float("nan")], ValueError, "non-finite"),
    (lambda y: "0123", TypeError, "sequence of labels"),
])
def test_bad_probe_labels_are_refused_before_anything_changes(digits, tmp_path, probe_y, error, message):
    from k2v_learnware.market import instantiate_market

    X, y, probe = digits
    instantiate_market("k2v", rebuild=True, root=tmp_path, probe_X=X[probe])
    before = (tmp_path / "k2v" / "know2vec" / "probe.npy").read_bytes()
    with pytest.raises(error, match=message):
        instantiate_market("k2v", rebuild=True, root=tmp_path, probe_X=X[probe][:50], probe_y=probe_y(y[probe][:50]))
    assert (tmp_path / "k2v" / "know2vec" / "probe.npy").read_bytes() == before
    assert not (tmp_path / "k2v" / "know2vec" / "probe_labels.json").exists()


def test_probe_labels_need_a_probe_set(tmp_path):
    from k2v_learnware.market import instantiate_market

    with pytest.raises(ValueError, match="give probe_X too"):
        instantiate_market("k2v", rebuild=True, root=tmp_path, probe_y=[0, 1])


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(labels=d["labels"][:-1]), "labels but X has"),
    (lambda d: d.update(probe_sha256="x"), "schema at probe_sha256"),
    (lambda d: d["labels"].__setitem__(0, [1]), "schema at labels/0"),
    (lambda d: d["labels"].__setitem__(0, "a"), "mixes label types"),
    (lambda d: d.update(extra=1), "schema"),
])
def test_a_bad_labels_file_does_not_load(stocked, tmp_path, edit, message):
    from k2v_learnware.market import instantiate_market

    root, _ = _copy(stocked, tmp_path)
    labels_file = root / "k2v" / "know2vec" / "probe_labels.json"
    doc = json.loads(labels_file.read_text())
    edit(doc)
    labels_file.write_text(json.dumps(doc))
    with pytest.raises(SpecificationFormatError, match=message):
        instantiate_market("k2v", root=root)


def test_labelled_regime_checks(stocked, digits, tmp_path):
    from k2v_learnware.market import instantiate_market

    X, y, probe = digits
    root, _ = _copy(stocked, tmp_path)
    market = instantiate_market("k2v", root=root)
    with pytest.raises(ValueError, match="regime must be one of"):
        market.fit_know2vec_proxy(regime="best", **TINY)
    with pytest.raises(ValueError, match="only apply to the labelled regime"):
        market.fit_know2vec_proxy(regime="identity", task_groups=[[0, 1]], **TINY)
    with pytest.raises(ValueError, match="have no rows in the labelled probe set"):
        market.fit_know2vec_proxy(task_groups=[[0, 42]], **TINY)
    # labels in another label space than the models' answers: no task would have a meaningful positive
    renamed = instantiate_market("k2v", root=root, probe_y=[f"class {c}" for c in y[probe]])
    with pytest.raises(ValueError, match="models' label space"):
        renamed.fit_know2vec_proxy(**TINY)


def test_cli_inspects_the_labels_file(stocked, digits, tmp_path):
    from tests.test_cli import failed, ok, run

    X, y, probe = digits
    root, _ = _copy(stocked, tmp_path)
    labels_file = root / "k2v" / "know2vec" / "probe_labels.json"
    out = json.loads(ok(run(tmp_path, "inspect", str(labels_file), "--json")).stdout)
    assert out["type"] == "Know2VecProbeLabels" and out["valid"] and out["rows"] == int(probe.sum())
    assert sorted(out["classes"]) == list(range(10))
    doc = json.loads(labels_file.read_text())
    doc["labels"][0] = "a"
    labels_file.write_text(json.dumps(doc))
    assert "mixes label types" in failed(run(tmp_path, "inspect", str(labels_file)))


def test_an_open_market_picks_up_a_proxy_another_process_saved(stocked, digits, tmp_path, caplog):
    """A service keeps its market open while an operator retrains the proxy: its next Know2Vec search uses the
    new one; a proxy whose files do not pair up is reported and the last good one kept."""
    import shutil

    from learnware.market import BaseUserInfo

    from k2v_learnware.market import instantiate_market, user_semantic_spec

    X, y, probe = digits
    root, _ = _copy(stocked, tmp_path)
    serving, operator = instantiate_market("k2v", root=root), instantiate_market("k2v", root=root)
    rows = np.isin(y, (5, 6, 7)) & (np.arange(len(y)) % 4 == 3)
    info = BaseUserInfo(semantic_spec=user_semantic_spec((64,)),
                        stat_info={"Know2VecQuery": Know2VecQuery.from_data(X[rows], y[rows])})

    def ranked(market):
        return [(item.learnware.id, None if item.score is None else round(item.score, 5))
                for item in market.search_learnware(info).get_single_results()]

    assert serving.know2vec_searcher.proxy is None  # not trained yet
    first = operator.fit_know2vec_proxy(**TINY)
    before = ranked(serving)
    assert len(before) == 4 and before == ranked(operator)
    assert serving.know2vec_searcher.proxy is not first  # read from disk
    operator.fit_know2vec_proxy(**{**TINY, "seed": 7})
    after = ranked(serving)
    assert after == ranked(operator) and after != before

    kept = ranked(serving)
    proxy_dir = root / "k2v" / "know2vec" / "proxy"
    shutil.copy(proxy_dir / "proxy.json", tmp_path / "settings.json")
    operator.fit_know2vec_proxy(**{**TINY, "seed": 8})
    # seed 7's settings beside seed 8's weights (seed 8's save removed seed 7's once it swapped proxy.json in)
    shutil.copy(tmp_path / "settings.json", proxy_dir / "proxy.json")
    with caplog.at_level(logging.WARNING, logger="k2v_learnware.market"):
        assert ranked(serving) == kept
    assert "is not used" in caplog.text and "another save of the proxy may have replaced them" in caplog.text

    shutil.rmtree(proxy_dir)  # the market rebuilt elsewhere: its proxy is gone
    assert serving.know2vec_searcher.is_applicable_user(info) is False and serving.know2vec_searcher.proxy is None


def test_an_open_market_adds_on_a_probe_set_another_process_gave_it(digits, tmp_path):
    """A service opened the market before its operator gave it a probe set: the learnwares it adds afterwards get
    Know2Vec specifications on that probe set, and its proxy trains on the labels."""
    from k2v_learnware.market import instantiate_market
    from tests._stock_learnware import stock_rkme_zip, stock_semantic_spec

    X, y, probe = digits
    serving = instantiate_market("k2v", rebuild=True, root=tmp_path)
    assert serving.learnware_organizer.probe_X is None
    instantiate_market("k2v", root=tmp_path, probe_X=X[probe], probe_y=y[probe])  # the operator, elsewhere
    for i, (kind, half, model) in enumerate(_models(X, y, probe)):
        path = stock_rkme_zip(model, X[np.isin(y, half)], tmp_path / f"{kind}-{i}.zip")
        _, status = serving.add_learnware(str(path), stock_semantic_spec(f"{kind}-{i}", kind, 10))
        assert status == 1, serving.rejection_message
    specs = [lw.get_specification().get_stat_spec().get("Know2VecSpecification")
             for lw in serving.learnware_organizer.get_learnwares()]
    assert len(specs) == 4 and all(s is not None and s.holds_probe_labels(X[probe]) for s in specs)
    assert serving.learnware_organizer.probe_y == y[probe].tolist()
    assert serving.fit_know2vec_proxy(**TINY).training_ == "labelled-probe"

    instantiate_market("k2v", root=tmp_path, probe_X=X[probe][:200])  # replaced without labels: dropped here too
    serving.learnware_organizer.refresh()
    assert len(serving.learnware_organizer.probe_X) == 200 and serving.learnware_organizer.probe_y is None


def test_learnwares_added_before_the_probe_set_get_their_specifications(digits, tmp_path):
    """build_know2vec_specs gives each older learnware a new version with a Know2Vec specification on the probe
    set; its semantic specification and status stay, and a second call has nothing to do."""
    from k2v_learnware.market import instantiate_market
    from tests._stock_learnware import stock_rkme_zip, stock_semantic_spec

    X, y, probe = digits
    market = instantiate_market("k2v", rebuild=True, root=tmp_path)
    for i, (kind, half, model) in enumerate(_models(X, y, probe)):
        path = stock_rkme_zip(model, X[np.isin(y, half)], tmp_path / f"{kind}-{i}.zip")
        _, status = market.add_learnware(str(path), stock_semantic_spec(f"{kind}-{i}", kind, 10))
        assert status == 1, market.rejection_message
    organizer = market.learnware_organizer
    before = {i: (organizer.row_revision(i), lw.get_specification().get_semantic_spec(), organizer.use_flags[i])
              for i, lw in organizer.learnware_list.items()}
    assert not any("Know2VecSpecification" in lw.get_specification().get_stat_spec()
                   for lw in organizer.get_learnwares())

    wrong = instantiate_market("k2v", root=tmp_path, probe_X=X[probe][:, :32])  # a probe set of another width
    refused = wrong.build_know2vec_specs()
    assert refused["built"] == [] and sorted(refused["failed"]) == sorted(before)

    market = instantiate_market("k2v", root=tmp_path, probe_X=X[probe], probe_y=y[probe])
    done = market.build_know2vec_specs()
    assert sorted(done["built"]) == sorted(before) and done["failed"] == {}
    organizer = market.learnware_organizer
    for i, (revision, semantic, flag) in before.items():
        spec = organizer.learnware_list[i].get_specification().get_stat_spec()["Know2VecSpecification"]
        assert spec.holds_probe_labels(X[probe]) and organizer.row_revision(i) != revision
        assert organizer.learnware_list[i].get_specification().get_semantic_spec() == semantic
        assert organizer.use_flags[i] == flag
    assert market.build_know2vec_specs() == {"built": [], "failed": {}}
    assert market.fit_know2vec_proxy(**TINY).training_ == "labelled-probe"
