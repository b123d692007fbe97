"""The deploy stage inside a real learnware market: submit, search, reuse, reload (digits)."""

import json
import logging
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from k2v_learnware import generate_lane_spec, pack_learnware
from k2v_learnware.datasets import load_digits
from k2v_learnware.packaging import read_semantic_spec
from k2v_learnware.demo import TASKS
from k2v_learnware.search import mixture_weights
from k2v_learnware.search.mixture_qp import _simplex_least_squares

MIX = {0: 0.7, 2: 0.3}


@pytest.fixture(scope="module")
def split():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def developers(split):
    Xtr, _, ytr, _ = split
    out = []
    for classes in TASKS:
        rows = np.isin(ytr, classes)
        model = SVC(probability=False).fit(Xtr[rows], ytr[rows])
        spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=10, verbose=False)
        out.append((model, spec))
    return out


@pytest.fixture(scope="module")
def market(tmp_path_factory, developers):
    from k2v_learnware.market import instantiate_market

    root = tmp_path_factory.mktemp("market")
    market = instantiate_market("test", rebuild=True, root=root)
    ids = []
    for t, (model, spec) in enumerate(developers):
        path = pack_learnware(model, spec, root / f"task{t}.zip")
        learnware_id, status = market.add_learnware(str(path), read_semantic_spec(path))
        assert learnware_id is not None, market.rejection_message
        assert status == 1  # USABLE
        ids.append(learnware_id)
    return market, root, ids


def make_user(split, seed, n=200):
    _, Xte, _, yte = split
    rng = np.random.default_rng(seed)
    parts = [(t, rng.choice(np.flatnonzero(np.isin(yte, TASKS[t])), size=int(n * s), replace=False))
             for t, s in MIX.items()]
    X = np.concatenate([Xte[r] for _, r in parts])
    return X, np.concatenate([yte[r] for _, r in parts]), np.concatenate([np.full(len(r), t) for t, r in parts])


# ------------------------------------------------------------------ the QP
@pytest.mark.parametrize("seed", range(5))
def test_qp_matches_cvxpy_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    n, d = rng.integers(2, 40), rng.integers(3, 60)
    R, s = rng.standard_normal((d, n)), rng.standard_normal(d)
    a = _simplex_least_squares(R, s, "clarabel")
    b = _simplex_least_squares(R, s, "cvxpy")
    assert a.min() >= 0 and a.sum() == pytest.approx(1.0)
    obj = lambda w: np.sum((R @ w - s) ** 2)  # noqa: E731
    assert obj(a) == pytest.approx(obj(b), rel=1e-5, abs=1e-8)
    assert np.abs(a - b).max() < 1e-3


def test_mixture_weights_same_with_either_backend(split, developers):
    X, _, _ = make_user(split, seed=0)
    specs = [s for _, s in developers]
    a, b = mixture_weights(X, specs), mixture_weights(X, specs, solver="cvxpy")
    assert np.abs(a.learnware_weights - b.learnware_weights).max() < 1e-3
    assert [len(w) for w in a.class_weights] == [2] * 5


@pytest.mark.parametrize("seed", range(3))
def test_70_30_user_weights_within_0_1_of_truth(split, developers, seed):
    X, _, _ = make_user(split, seed=seed)
    found = mixture_weights(X, [s for _, s in developers]).learnware_weights
    truth = np.zeros(len(TASKS))
    for t, share in MIX.items():
        truth[t] = share
    assert np.abs(found - truth).sum() < 0.1, found


def test_top_k_prefilter_keeps_the_true_tasks(split, developers):
    X, _, _ = make_user(split, seed=0)
    result = mixture_weights(X, [s for _, s in developers], top_k=3)
    assert set(MIX) <= set(result.candidates) and len(result.candidates) == 3


def test_mixture_weights_rejects_bad_input(developers):
    specs = [s for _, s in developers]
    with pytest.raises(ValueError, match="feature dimensions differ"):
        mixture_weights(np.zeros((10, 32)), specs)
    with pytest.raises(ValueError, match="empty"):
        mixture_weights(np.zeros((10, 64)), [])
    with pytest.raises(TypeError, match="not a LANESpecification"):
        mixture_weights(np.zeros((10, 64)), ["spec"])
    with pytest.raises(ValueError, match="NaN"):
        mixture_weights(np.full((10, 64), np.nan), specs)
    with pytest.raises(ValueError, match="solver"):
        mixture_weights(np.zeros((10, 64)), specs, solver="nope")


# ------------------------------------------------------------------ search + reuse
def test_a_users_default_semantics_find_learnwares_of_any_library_license_and_scenario(tmp_path, developers):
    """user_info's semantic spec asks for a classifier of the user's kind of input and nothing more."""
    from k2v_learnware.market import instantiate_market, user_info

    market_ = instantiate_market("any-semantics", rebuild=True, root=tmp_path)
    model, spec = developers[0]
    semantic = read_semantic_spec(pack_learnware(model, spec, tmp_path / "default.zip"))
    for key, values in {"Library": ["PyTorch"], "License": ["Apache-2.0"], "Scenario": ["Business"]}.items():
        semantic[key]["Values"] = values
    path = pack_learnware(model, spec, tmp_path / "torch.zip", semantic_spec=semantic)
    learnware_id, status = market_.add_learnware(str(path), semantic)
    assert learnware_id is not None and status == 1, market_.rejection_message
    X = developers[0][1].get_z().reshape(-1, 64)
    found = market_.search_learnware(user_info(generate_lane_spec(X, None, num_per_class=5, iterations=3,
                                                                  verbose=False)))
    assert [item.learnware.id for item in found.get_single_results()] == [learnware_id]


def test_the_default_semantic_spec_counts_the_classes_its_output_dimension_covers(tmp_path, developers):
    """Labels 4 and 5 need an output dimension of 6 (learnware reads labels as indices), but the model has 2
    classes: the description said "6-class classifier", which a search's results showed to every user."""
    model, spec = developers[2]
    assert sorted(spec.classes) == [4, 5]
    semantic = read_semantic_spec(pack_learnware(model, spec, tmp_path / "lw.zip"))
    assert semantic["Output"]["Dimension"] == 6
    assert semantic["Description"]["Values"] == "2-class classifier packed by k2v-learnware"


def test_market_search_finds_the_mixture(split, market):
    from k2v_learnware.market import user_info

    market_, _, ids = market
    X, _, _ = make_user(split, seed=0)
    user_spec = generate_lane_spec(X, None, num_per_class=50, verbose=False)
    result = market_.search_learnware(user_info(user_spec))
    singles = [item.learnware.id for item in result.get_single_results()]
    assert singles[0] == ids[0]
    mixture = result.get_multiple_results()[0]
    found = dict(zip([lw.id for lw in mixture.learnwares], mixture.weights))
    assert set(found) >= {ids[0], ids[2]}
    assert sum(mixture.weights) == pytest.approx(1.0)
    assert found[ids[0]] > found[ids[2]] > 0.15


def test_a_requirement_in_a_foreign_family_is_searched_without_keeping_that_family(split, market):
    """Another seed or size is searched in a one-off index: the market keeps its own index and no means of it."""
    from k2v_learnware.market import user_info

    market_, _, ids = market
    X, _, _ = make_user(split, seed=0)
    own = generate_lane_spec(X, None, num_per_class=50, verbose=False)
    foreign = generate_lane_spec(X, None, num_per_class=50, family_seed=7, verbose=False)
    searcher = next(s for s in market_.learnware_searcher.stat_searcher_list if hasattr(s, "index_for"))
    market_.search_learnware(user_info(own))
    kept_index = searcher._index
    specs = [learnware.get_specification().get_stat_spec()["LANESpecification"]
             for learnware in market_.get_learnwares()]
    kept_families = [spec.kept_class_mean_families() for spec in specs]
    result = market_.search_learnware(user_info(foreign))
    assert result.get_single_results()[0].learnware.id == ids[0]  # found in the foreign family too
    assert searcher._index is kept_index  # the market's index is not thrown away
    assert [spec.kept_class_mean_families() for spec in specs] == kept_families  # nothing of the family kept
    assert own.embedding_family().key in kept_families[0] and foreign.embedding_family().key not in kept_families[0]


def test_market_search_weights_close_to_truth_over_users(split, market):
    """Through the market (the user's condensed spec, not their rows): mean L1 error under 0.1."""
    from k2v_learnware.market import user_info

    market_, _, ids = market
    truth = {ids[t]: share for t, share in MIX.items()}
    errors = []
    for seed in range(4):
        X, _, _ = make_user(split, seed=seed)
        mixture = market_.search_learnware(user_info(generate_lane_spec(X, None, num_per_class=50, seed=seed,
                                                                        verbose=False))).get_multiple_results()[0]
        found = dict(zip(ids, mixture.mixture.learnware_weights))
        errors.append(sum(abs(found[i] - truth.get(i, 0.0)) for i in ids))
    assert np.mean(errors) < 0.1, errors


def test_reuse_reaches_90_percent_of_oracle(split, market, developers):
    from k2v_learnware.reuse import LANEJobSelectorReuser

    market_, _, ids = market
    learnwares = market_.get_learnware_by_ids(ids)
    for seed in range(3):
        X, y, task = make_user(split, seed=seed)
        reuser = LANEJobSelectorReuser(learnwares)  # weights from the user's data (Eq. 9)
        accuracy = np.mean(reuser.predict(X) == y)
        oracle = np.mean(np.concatenate([developers[t][0].predict(X[task == t]) for t in MIX]) ==
                         np.concatenate([y[task == t] for t in MIX]))
        assert accuracy >= 0.9 * oracle, (seed, accuracy, oracle)


def test_reuser_validates_input(market):
    from k2v_learnware.reuse import LANEJobSelectorReuser

    market_, _, ids = market
    learnwares = market_.get_learnware_by_ids(ids[:2])
    with pytest.raises(ValueError, match="one weight per learnware"):
        LANEJobSelectorReuser(learnwares, [1.0])
    with pytest.raises(ValueError, match="empty"):
        LANEJobSelectorReuser([])
    with pytest.raises(ValueError, match="features"):
        LANEJobSelectorReuser(learnwares, [0.5, 0.5]).predict(np.zeros((5, 32)))


def test_wrong_dimension_user_is_filtered_with_a_logged_reason(market, caplog, capfd):
    from k2v_learnware.market import user_info

    market_, _, _ = market
    rng = np.random.default_rng(0)
    user_spec = generate_lane_spec(rng.random((40, 32)), None, num_per_class=5, iterations=5, verbose=False)
    with caplog.at_level(logging.WARNING):
        result = market_.search_learnware(user_info(user_spec))
    assert result.get_single_results() == [] and result.get_multiple_results() == []
    logged = caplog.text + capfd.readouterr().err
    assert "filtered" in logged and "(32,)" in logged


# ------------------------------------------------------------------ storage and checks
def test_market_reopened_in_a_new_process_holds_every_learnware(market):
    _, root, ids = market
    code = ("from k2v_learnware.market import instantiate_market;"
            f"m = instantiate_market('test', root={str(root)!r});"
            "print(sorted(m.learnware_organizer.get_learnware_ids()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(sorted(ids))


def test_corrupt_spec_is_rejected_with_a_message(tmp_path, market, developers):
    market_, _, _ = market
    model, spec = developers[0]
    good = pack_learnware(model, spec, tmp_path / "good.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "lane_spec.json":
                d = json.loads(data)
                d["z"] = d["z"][:-1]  # one sample fewer than labels
                data = json.dumps(d).encode()
            dst.writestr(item, data)
    before = len(market_)
    learnware_id, status = market_.add_learnware(str(bad), read_semantic_spec(good))
    assert learnware_id is None and status == -1
    assert "labels for" in market_.rejection_message
    assert len(market_) == before


def test_model_that_cannot_take_its_inputs_is_rejected(tmp_path, market, developers):
    market_, _, _ = market
    _, spec = developers[0]
    narrow = SVC().fit(np.random.default_rng(0).random((20, 8)), [0, 1] * 10)
    path = pack_learnware(narrow, spec, tmp_path / "narrow.zip")
    learnware_id, status = market_.add_learnware(str(path), read_semantic_spec(path))
    assert learnware_id is None and "LANE check failed" in market_.rejection_message


def test_reload_fails_loudly_when_a_spec_class_is_missing(tmp_path, developers):
    from k2v_learnware.market import MarketReloadError, instantiate_market

    market_ = instantiate_market("broken", rebuild=True, root=tmp_path)
    model, spec = developers[1]
    path = pack_learnware(model, spec, tmp_path / "lw.zip")
    learnware_id, _ = market_.add_learnware(str(path), read_semantic_spec(path))
    folder = market_.learnware_organizer.learnware_folder_list[learnware_id]
    yaml_path = f"{folder}/learnware.yaml"
    text = open(yaml_path).read().replace("class_name: LANESpecification", "class_name: LANESpecificationV9")
    open(yaml_path, "w").write(text)
    with pytest.raises(MarketReloadError, match=rf"{learnware_id}.*LANESpecificationV9"):
        instantiate_market("broken", root=tmp_path)


def test_stock_rkme_learnwares_live_in_the_same_market(tmp_path, split, developers):
    from learnware.market import BaseUserInfo
    from learnware.specification import generate_rkme_table_spec

    from k2v_learnware.market import instantiate_market

    import torch

    Xtr, _, ytr, _ = split
    # RKME draws from numpy's and torch's global generators; its default gamma 0.1 is far too narrow
    # for pixels in 0..16, so use the median heuristic.
    np.random.seed(0), torch.manual_seed(0)
    sq = ((Xtr[:300, None] - Xtr[None, :300]) ** 2).sum(-1)
    gamma = float(1.0 / np.median(sq[np.triu_indices(300, 1)]))
    market_ = instantiate_market("mixed", rebuild=True, root=tmp_path)
    ids = []
    for t in (0, 2):
        model, spec = developers[t]
        rkme = generate_rkme_table_spec(Xtr[np.isin(ytr, TASKS[t])], gamma=gamma, cuda_idx=-1)
        path = pack_learnware(model, [spec, rkme], tmp_path / f"lw{t}.zip")
        learnware_id, status = market_.add_learnware(str(path), read_semantic_spec(path))
        assert status == 1, market_.rejection_message
        ids.append(learnware_id)
    X, _, _ = make_user(split, seed=0)
    semantic = read_semantic_spec(path)
    result = market_.search_learnware(BaseUserInfo(semantic_spec=semantic, stat_info={
        "RKMETableSpecification": generate_rkme_table_spec(X, gamma=gamma, cuda_idx=-1)}))
    # Answered by the stock EasyStatSearcher: the 70% task comes first.
    assert result.get_single_results()[0].learnware.id == ids[0]
