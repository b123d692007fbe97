"""Know2Vec: black-box boundary graphs, their storage, and the encoders and proxy over them."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from k2v_learnware.specification.boundary import bisect_segments
from k2v_learnware.datasets import load_digits
from k2v_learnware.specification.formats import SpecificationFormatError
from k2v_learnware.know2vec import Know2VecSpecification, generate_know2vec_spec
from k2v_learnware.proxy import Know2VecProxy, Know2VecQuery, ModelEncoder, QueryEncoder
from k2v_learnware.retrieval.proxy_files import weights_name

W, B = np.array([1.0, -2.0, 0.5]), 0.3


class LinearLabeller:
    """A black box with a known linear boundary; counts its queries."""

    def __init__(self):
        self.queries = 0

    def predict(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        self.queries += len(X)
        return np.where(X @ W + B > 0, "pos", "neg")


@pytest.fixture(scope="module")
def probe():
    return np.random.default_rng(0).standard_normal((200, 3)).astype(np.float32)


def _distance_to_boundary(x):
    return abs(np.asarray(x, dtype=np.float64) @ W + B) / np.linalg.norm(W)


def test_boundary_samples_within_tolerance_and_budget(probe):
    model = LinearLabeller()
    spec = generate_know2vec_spec(model, probe, tol=1e-3, max_queries=1000)
    nodes, mask = spec.graph()
    assert spec.classes == ["neg", "pos"] and mask.all()
    for i, j in [(0, 1), (1, 0)]:
        assert _distance_to_boundary(nodes[i, j]) <= 1e-3
    assert spec.queries == model.queries <= 1000
    assert spec.settings["missing_pairs"] == 0


def test_bisection_is_exact_on_many_random_segments():
    rng = np.random.default_rng(1)
    model = LinearLabeller()
    starts, ends = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    labels_s, labels_e = model.predict(starts), model.predict(ends)
    keep = labels_s != labels_e
    model.queries = 0
    result = bisect_segments(model.predict, starts[keep], ends[keep], labels_s[keep], labels_e[keep], tol=1e-4)
    assert result.found.all()
    assert max(_distance_to_boundary(p) for p in result.points) <= 1e-4
    lengths = np.linalg.norm(ends[keep] - starts[keep], axis=1)
    assert result.queries == model.queries <= int(np.sum(np.ceil(np.log2(lengths / 1e-4))))


def test_query_budget_is_never_exceeded_and_shortfall_recorded(probe):
    model = LinearLabeller()
    spec = generate_know2vec_spec(model, probe, tol=1e-6, max_queries=len(probe) + 10)
    assert spec.queries <= len(probe) + 10
    assert spec.settings["missing_pairs"] >= 1
    assert not spec.graph()[1].all()


class _LeftRight:
    """Label 1 right of x = 3.3, else 0; counts every row it is asked."""

    classes_ = np.array([0, 1])

    def __init__(self):
        self.calls = 0

    def predict(self, X):
        self.calls += len(X)
        return (np.asarray(X)[:, 0] > 3.3).astype(int)


def test_query_budget_holds_when_a_segment_is_a_power_of_two_tolerances_long():
    """A segment of 8 at tol 1 takes 4 halvings (8, 4, 2, 1 are all >= tol), not ceil(log2(8)) = 3: the budget
    check counted 3 and let both pairs run, 12 calls against max_queries=10."""
    probe = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 0.5], [8.0, 0.5]], dtype=np.float32)
    for budget, missing in ((10, 1), (11, 1), (12, 0)):
        model = _LeftRight()
        spec = generate_know2vec_spec(model, probe, tol=1.0, max_queries=budget, max_retries=1)
        assert model.calls == spec.queries <= budget and spec.settings["missing_pairs"] == missing


class ThreeBands:
    """Classes by the first coordinate: a < -1 < b < 1 < c; knows a fourth class it never predicts."""

    classes_ = np.array(["a", "b", "c", "d"])

    def predict(self, X):
        x = np.asarray(X).reshape(len(X), -1)[:, 0]
        return np.where(x < -1, "a", np.where(x < 1, "b", "c"))


def test_unreached_classes_are_missing_and_third_classes_handled():
    rng = np.random.default_rng(2)
    probe = np.c_[rng.uniform(-3, 3, 300), rng.standard_normal(300)].astype(np.float32)
    spec = generate_know2vec_spec(ThreeBands(), probe, tol=1e-3)
    nodes, mask = spec.graph()
    assert spec.classes == ["a", "b", "c", "d"] and spec.present == [True, True, True, False]
    assert not mask[3].any() and not mask[:, 3].any()
    # a -> c crosses b: the segment is abandoned, never reported as an a/c boundary
    assert spec.settings["third_class_retries"] >= 1
    assert not mask[0, 2] and not mask[2, 0]
    assert abs(nodes[0, 1][0] + 1) <= 1e-3 and abs(nodes[1, 2][0] - 1) <= 1e-3


def test_a_class_the_probe_set_reaches_once_still_gets_its_boundaries(probe):
    """A class reached by a single probe row has no endpoint beside its centroid: the search must bisect
    towards that row (it failed with numpy's 'cannot reshape array of size 0')."""
    labels = LinearLabeller().predict(probe)
    single = np.concatenate([probe[labels == "neg"], probe[labels == "pos"][:1]])
    spec = generate_know2vec_spec(LinearLabeller(), single, tol=1e-4)
    nodes, mask = spec.graph()
    assert spec.classes == ["neg", "pos"] and spec.present == [True, True] and mask.all()
    assert max(_distance_to_boundary(nodes[0, 1]), _distance_to_boundary(nodes[1, 0])) <= 1e-4


def test_round_trip_exact_and_bad_files_rejected(tmp_path):
    X, y = load_digits()
    model = LogisticRegression(max_iter=500).fit(X[y < 4], y[y < 4])
    spec = generate_know2vec_spec(model, X[::4])
    assert spec.settings["used_predict_proba"]
    path = tmp_path / "k2v.json"
    spec.save(path)
    loaded = Know2VecSpecification()
    loaded.load(path)
    assert np.array_equal(np.nan_to_num(loaded.nodes, nan=-1), np.nan_to_num(spec.nodes, nan=-1))
    assert loaded.to_dict() == spec.to_dict()
    data = json.loads(path.read_text())
    data["nodes"][0][1] = data["nodes"][0][1][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(SpecificationFormatError, match="node \\(0, 1\\)"):
        Know2VecSpecification().load(path)


class _Column:
    """A model answering labels only (no predict_proba): a column of them, as learnware models often do, or
    with ``width=None`` a flat vector."""

    def __init__(self, model, width=1):
        self.model, self.width = model, width

    def predict(self, X):
        labels = self.model.predict(X)
        return labels if self.width is None else np.repeat(labels[:, None], self.width, axis=1)


def test_spec_stores_the_models_probe_answers_for_that_probe_set_only(tmp_path):
    X, y = load_digits()
    probe = X[::4]
    model = LogisticRegression(max_iter=500).fit(X[y < 4], y[y < 4])
    spec = generate_know2vec_spec(model, probe)
    assert spec.holds_probe_labels(probe)
    assert spec.probe_labels(probe).tolist() == model.predict(probe).tolist()
    # the same rows in another shape are the same probe set; other rows, or one value moved, are not
    assert spec.probe_labels(probe.reshape(len(probe), 1, 8, 8)).tolist() == model.predict(probe).tolist()
    moved = probe.copy()
    moved[3, 5] += 1e-3
    assert not spec.holds_probe_labels(moved) and not spec.holds_probe_labels(probe[:-1])
    with pytest.raises(ValueError, match="another probe set"):
        spec.probe_labels(moved)
    # a model answering with a column of labels (n, 1) gives the same specification; (n, 2) is refused
    column, flat = generate_know2vec_spec(_Column(model), probe), generate_know2vec_spec(_Column(model, None), probe)
    assert column.probe_labels(probe).tolist() == spec.probe_labels(probe).tolist()
    assert np.array_equal(column.nodes, flat.nodes, equal_nan=True) and column.queries == flat.queries
    with pytest.raises(ValueError, match="one label per row"):
        generate_know2vec_spec(_Column(model, width=2), probe)
    # answers outside the declared classes are kept as "outside" (None), not as a class
    narrow = generate_know2vec_spec(model, probe, classes=[0, 1])
    answers = model.predict(probe)
    assert [a if a in (0, 1) else None for a in answers.tolist()] == narrow.probe_labels(probe).tolist()

    path = tmp_path / "k2v.json"
    spec.save(path)
    loaded = Know2VecSpecification()
    loaded.load(path)
    assert loaded.probe_labels(probe).tolist() == answers.tolist()
    data = json.loads(path.read_text())
    assert data["format_version"] == 2 and len(data["probe_predictions"]) == len(probe)

    def rewritten(**changes):
        doc = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                doc.pop(key)
            else:
                doc[key] = value
        path.write_text(json.dumps(doc))
        return path

    # a format 1 file (no answers) still loads; its answers must come from the model
    settings = {k: v for k, v in data["settings"].items() if k != "probe_sha256"}
    old = Know2VecSpecification()
    old.load(rewritten(format_version=1, probe_predictions=None, settings=settings))
    assert not old.holds_probe_labels(probe) and np.array_equal(old.nodes, loaded.nodes, equal_nan=True)
    with pytest.raises(ValueError, match="format 1"):
        old.probe_labels(probe)
    spec.save(path)
    for bad, match in ((data["probe_predictions"][:-1], "one class index below 4"),
                       ([4] + data["probe_predictions"][1:], "one class index below 4"),
                       ([-2] + data["probe_predictions"][1:], "probe_predictions"),
                       (["0"] + data["probe_predictions"][1:], "probe_predictions")):
        with pytest.raises(SpecificationFormatError, match=match):
            Know2VecSpecification().load(rewritten(probe_predictions=bad))
        spec.save(path)


def test_bad_inputs():
    with pytest.raises(TypeError, match="predict"):
        generate_know2vec_spec(object(), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        generate_know2vec_spec(LinearLabeller(), np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="exceeds max_queries"):
        generate_know2vec_spec(LinearLabeller(), np.zeros((50, 3)), max_queries=10)
    with pytest.raises(ValueError, match="one class only"):
        generate_know2vec_spec(LinearLabeller(), np.zeros((5, 3)))


def test_encoders_are_deterministic():
    import torch

    torch.manual_seed(0)
    m, q = ModelEncoder(3, 8, 16).eval(), QueryEncoder(3, 8, 16).eval()
    nodes = torch.randn(3, 3, 3)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[2] = mask[:, 2] = False
    means = torch.randn(4, 3)
    with torch.no_grad():
        a, b = m([(nodes, mask)]), m([(nodes, mask)])
        c, d = q([means]), q([means])
    assert torch.equal(a, b) and torch.equal(c, d)
    assert torch.allclose(a.norm(dim=1), torch.ones(1)) and a.shape == (1, 16)


def test_model_encoder_reads_graphs_of_any_size_together_as_one_at_a_time():
    """The encoder batches class rows by length (dense LSTM calls, no packing): graphs of 2-5 classes, an
    unreached class and a row missing a boundary node must encode together exactly as each does alone, and the
    by-length states must be those of packed sequences."""
    import torch

    from k2v_learnware.retrieval.encoders import _last_states, _last_states_by_length

    torch.manual_seed(0)
    m = ModelEncoder(3, 8, 16).eval()
    graphs = []
    for k, unreached in [(3, 2), (4, None), (2, None), (5, 0)]:
        nodes, mask = torch.randn(k, k, 3), torch.ones(k, k, dtype=torch.bool)
        if unreached is not None:
            mask[unreached] = mask[:, unreached] = False
        graphs.append((nodes, mask))
    graphs[1][1][0, 2] = False  # one row of the 4-class graph lacks a boundary node: rows of 3 and 4 nodes
    with torch.no_grad():
        together = m(graphs)
        alone = torch.cat([m([g]) for g in graphs])
        laid_out = m(ModelEncoder.layout(graphs))
        assert together.shape == (4, 16) and torch.allclose(together, alone, atol=1e-6)
        assert torch.equal(laid_out, together)
        assert not torch.allclose(together[0], together[1], atol=1e-3)  # the graphs are not encoded alike
        lstm = torch.nn.LSTM(8, 4, batch_first=True, bidirectional=True)
        sequences = [torch.randn(length, 8) for length in (3, 1, 5, 3, 2, 5)]
        assert torch.allclose(_last_states_by_length(lstm, sequences), _last_states(lstm, sequences), atol=1e-6)


def _tiny_zoo():
    X, y = load_digits()
    subsets = [(0, 1), (2, 3, 4), (5, 6), (7, 8, 9)]
    models = [LogisticRegression(max_iter=500).fit(X[np.isin(y, s)], y[np.isin(y, s)]) for s in subsets]
    specs = [generate_know2vec_spec(m, X[::5]) for m in models]
    return X, y, subsets, models, specs


def test_proxy_training_lowers_the_loss_and_round_trips(tmp_path):
    X, y, subsets, models, specs = _tiny_zoo()
    proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=40, batch_size=16, verbose=False)
    proxy.fit(specs, models, probe_X=X[1::5])
    assert np.mean(proxy.losses_[-5:]) < np.mean(proxy.losses_[:5])
    query = Know2VecQuery.from_data(X[np.isin(y, subsets[1])], y[np.isin(y, subsets[1])])
    scores = proxy.scores(query, specs)
    proxy.save(tmp_path / "proxy")
    again = Know2VecProxy.load(tmp_path / "proxy")
    assert np.allclose(again.scores(query, specs), scores)
    again.save(tmp_path / "again")  # a loaded proxy saved again keeps its training record (was 0 steps, no loss)
    saved, resaved = (json.loads((tmp_path / f / "proxy.json").read_text()) for f in ("proxy", "again"))
    assert resaved == saved and saved["steps_run"] == 40 and saved["final_loss"] == proxy.losses_[-1]
    same = Know2VecProxy(hidden=16, embedding_dim=32, epochs=40, batch_size=16, verbose=False)
    same.fit(specs, models, probe_X=X[1::5])
    assert np.allclose(same.scores(query, specs), scores)


def test_proxy_files_of_two_saves_never_load_as_one(tmp_path):
    """Each save moves whole files into place, weights first, and proxy.json names its weights' hash: settings of
    one save with the weights of another (a reader between two saves) are refused, not silently combined."""
    import shutil

    X, y, subsets, models, specs = _tiny_zoo()
    first = Know2VecProxy(hidden=16, embedding_dim=32, epochs=10, batch_size=16, seed=0, verbose=False)
    second = Know2VecProxy(hidden=16, embedding_dim=32, epochs=10, batch_size=16, seed=1, verbose=False)
    for proxy, folder in ((first, "a"), (second, "b")):
        proxy.fit(specs, models, probe_X=X[1::5])
        proxy.save(tmp_path / folder)
    weights = {f: weights_name(json.loads((tmp_path / f / "proxy.json").read_text())["weights_sha256"])
               for f in "ab"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [weights["a"], "proxy.json"]  # no partial files
    shutil.copy(tmp_path / "b" / weights["b"], tmp_path / "a" / weights["a"])  # b's weights, a's settings
    with pytest.raises(SpecificationFormatError, match="is not the weights .* was saved with"):
        Know2VecProxy.load(tmp_path / "a")

    legacy = json.loads((tmp_path / "b" / "proxy.json").read_text())  # saved before the hash existed: loads
    del legacy["weights_sha256"]
    (tmp_path / "b" / "proxy.json").write_text(json.dumps(legacy))
    (tmp_path / "b" / weights["b"]).rename(tmp_path / "b" / "proxy.pt")  # where such a save kept its weights
    query = Know2VecQuery.from_data(X[np.isin(y, subsets[1])], y[np.isin(y, subsets[1])])
    assert np.allclose(Know2VecProxy.load(tmp_path / "b").scores(query, specs), second.scores(query, specs))
    with pytest.raises(ValueError, match="is not a folder"):
        first.save(tmp_path / "a" / "proxy.json")


def test_a_failed_proxy_save_leaves_the_previous_proxy_loadable(tmp_path):
    """A save checks proxy.json's content before it touches a file and swaps proxy.json last: a proxy whose
    settings cannot be written (a NaN loss here) leaves the folder's previous pair as it was."""
    X, y, subsets, models, specs = _tiny_zoo()
    query = Know2VecQuery.from_data(X[np.isin(y, subsets[1])], y[np.isin(y, subsets[1])])
    good = Know2VecProxy(hidden=16, embedding_dim=32, epochs=5, batch_size=16, seed=0, verbose=False)
    good.fit(specs, models, probe_X=X[1::5]).save(tmp_path / "p")
    before = {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir()}
    broken = Know2VecProxy(hidden=16, embedding_dim=32, epochs=5, batch_size=16, seed=1, verbose=False)
    broken.fit(specs, models, probe_X=X[1::5])
    broken.losses_[-1] = float("nan")
    with pytest.raises(ValueError, match="final_loss hold.* NaN or infinite number.*nothing was written"):
        broken.save(tmp_path / "p")
    assert {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir()} == before
    assert np.allclose(Know2VecProxy.load(tmp_path / "p").scores(query, specs), good.scores(query, specs))

    # a proxy saved before weights were named by their hash (proxy.pt) loads, and a new save replaces it whole
    (name,) = [n for n in before if n != "proxy.json"]
    (tmp_path / "p" / name).rename(tmp_path / "p" / "proxy.pt")
    assert np.allclose(Know2VecProxy.load(tmp_path / "p").scores(query, specs), good.scores(query, specs))
    broken.losses_[-1] = 1.0
    broken.save(tmp_path / "p")
    assert len(list((tmp_path / "p").iterdir())) == 2 and not (tmp_path / "p" / "proxy.pt").exists()
    assert np.allclose(Know2VecProxy.load(tmp_path / "p").scores(query, specs), broken.scores(query, specs))


class _Scaled:
    """A model of rows scaled by ``factor``: it answers as ``model`` on the rows divided back."""

    def __init__(self, model, factor):
        self.model, self.factor = model, factor

    def predict(self, X):
        return self.model.predict(np.asarray(X, dtype=np.float64) / self.factor)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # an overflow anywhere on the way is a failure
def test_rows_near_1e20_give_finite_graphs_and_a_finite_proxy():
    # squared distances of rows near 1e19 overflow float32: tol became inf and its step count NaN; the spread of
    # nodes near 1e20 overflowed float32 too, and an infinite scale zeroed every input of the proxy
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    models = [LogisticRegression().fit(X, (X[:, i] > 0).astype(int)) for i in range(3)]
    for factor in (1e19, 1e20):
        scaled = [_Scaled(m, factor) for m in models]
        specs = [generate_know2vec_spec(m, X * np.float32(factor)) for m in scaled]
        assert all(np.isfinite(s.settings["tol"]) and s.settings["missing_pairs"] == 0 for s in specs)
        proxy = Know2VecProxy(epochs=2, verbose=False, validation=0).fit(specs, scaled, probe_X=X * np.float32(factor))
        assert np.isfinite(proxy.scale_).all() and np.isfinite(proxy.losses_).all()


def test_proxy_validates_input():
    X, y, subsets, models, specs = _tiny_zoo()
    with pytest.raises(ValueError, match="at least 2 models"):
        Know2VecProxy(verbose=False).fit(specs[:1], models[:1], probe_X=X)
    with pytest.raises(ValueError, match="probe_X is needed"):
        Know2VecProxy(verbose=False).fit(specs, models)
    with pytest.raises(ValueError, match="not fitted"):
        Know2VecProxy(verbose=False).embed_models(specs)
    with pytest.raises(ValueError, match="at least 2 classes"):
        Know2VecQuery.from_data(X[:5], [0] * 5)


# ------------------------------------------------------------------ baselines
def test_leep_hand_computed_cases():
    from k2v_learnware.retrieval.transferability import leep

    assert leep(np.eye(3)[[0, 1, 2, 1]], ["a", "b", "c", "b"]) == pytest.approx(0.0)  # a perfect source
    assert leep(np.full((2, 2), 0.5), ["a", "b"]) == pytest.approx(np.log(0.5))
    # every row on source class 0: P(a|0) = 2/3, P(b|0) = 1/3
    assert leep([[1, 0], [1, 0], [1, 0]], ["a", "a", "b"]) == pytest.approx((2 * np.log(2 / 3) + np.log(1 / 3)) / 3)
    with pytest.raises(ValueError, match="non-negative"):
        leep([[-1.0, 2.0]], ["a"])


# ------------------------------------------------------------------ in the market
def test_market_builds_know2vec_specs_keeps_them_and_searches(tmp_path):
    from k2v_learnware import generate_lane_spec, pack_learnware
    from k2v_learnware.market import instantiate_market, user_info  # noqa: F401
    from k2v_learnware.packaging import read_semantic_spec
    from learnware.market import BaseUserInfo

    X, y = load_digits()
    probe = X[1::4]
    market = instantiate_market("k2v", rebuild=True, root=tmp_path, probe_X=probe)
    subsets = [(0, 1), (2, 3, 4), (5, 6), (7, 8, 9)]
    ids = []
    for s in subsets:
        rows = np.isin(y, s) & (np.arange(len(y)) % 4 != 1)
        model = LogisticRegression(max_iter=500).fit(X[rows], y[rows])
        path = pack_learnware(model, generate_lane_spec(X[rows], y[rows], iterations=20, verbose=False),
                              tmp_path / f"{len(ids)}.zip")
        learnware_id, status = market.add_learnware(str(path), read_semantic_spec(path))
        assert status == 1, market.rejection_message
        ids.append(learnware_id)
    for learnware_id, s in zip(ids, subsets):
        spec = market.get_learnware_by_ids(learnware_id).get_specification().get_stat_spec()["Know2VecSpecification"]
        assert spec.classes == list(s) and spec.settings["used_predict_proba"]
        folder = Path(market.learnware_organizer.learnware_folder_list[learnware_id])
        assert (folder.parent / "know2vec.json").exists()  # stored with the learnware's own files
        assert spec.holds_probe_labels(probe)  # the proxy needs no model to label probe tasks

    market.fit_know2vec_proxy(hidden=16, embedding_dim=32, epochs=60, batch_size=16, verbose=False)
    query = Know2VecQuery.from_data(X[np.isin(y, subsets[2])][:40], y[np.isin(y, subsets[2])][:40])
    semantic = read_semantic_spec(tmp_path / "0.zip")
    info = BaseUserInfo(semantic_spec=semantic, stat_info={"Know2VecQuery": query})
    first = market.search_learnware(info).get_single_results()
    assert sorted(item.learnware.id for item in first) == sorted(ids)

    reopened = instantiate_market("k2v", root=tmp_path)  # probe set, specs and proxy come back
    assert reopened.learnware_organizer.probe_X.shape == probe.shape
    again = reopened.search_learnware(info).get_single_results()
    assert [i.learnware.id for i in again] == [i.learnware.id for i in first]
    assert np.allclose([i.score for i in again], [i.score for i in first])


def test_market_trains_its_proxy_on_stock_learnwares_without_loading_their_models(tmp_path):
    """Learnwares with no LANE specification (stock RKME zips): the probe tasks come from the answers their
    Know2Vec specifications stored at submission; a reopened market fits its proxy and no model is loaded."""
    from k2v_learnware.market import instantiate_market
    from tests._stock_learnware import stock_rkme_zip, stock_semantic_spec

    X, y = load_digits()
    probe = X[1::4]
    market = instantiate_market("k2v", rebuild=True, root=tmp_path, probe_X=probe)
    subsets = [(0, 1), (2, 3, 4), (5, 6)]
    for i, s in enumerate(subsets):
        rows = np.isin(y, s) & (np.arange(len(y)) % 4 != 1)
        model = LogisticRegression(max_iter=500).fit(X[rows], y[rows])
        path = stock_rkme_zip(model, X[rows], tmp_path / f"stock-{i}.zip")
        _, status = market.add_learnware(str(path), stock_semantic_spec(f"stock-{i}", str(s), max(s) + 1))
        assert status == 1, market.rejection_message

    reopened = instantiate_market("k2v", root=tmp_path)
    learnwares = reopened.learnware_organizer.get_learnwares()
    assert len(learnwares) == 3 and all(isinstance(lw.get_model(), dict) for lw in learnwares)  # not loaded
    reopened.fit_know2vec_proxy(hidden=16, embedding_dim=32, epochs=60, batch_size=16, verbose=False)
    assert all(isinstance(lw.get_model(), dict) for lw in learnwares)  # still not loaded: the specs answered
    specs = [lw.get_specification().get_stat_spec()["Know2VecSpecification"] for lw in learnwares]
    by_classes = {tuple(spec.classes): lw.id for spec, lw in zip(specs, learnwares)}
    hits = 0
    for s in subsets:
        rows = np.isin(y, s) & (np.arange(len(y)) % 4 == 1)
        scores = reopened.know2vec_searcher.proxy.scores(Know2VecQuery.from_data(X[rows], y[rows]), specs)
        hits += int(learnwares[int(np.argmax(scores))].id == by_classes[s])
    assert hits >= 2


def test_market_probe_set_may_be_larger_than_the_boundary_budget(tmp_path):
    """The market's default budget is the boundary search's, on top of its probe set: a probe set of more rows
    than the specification's default max_queries (20000) still gives every learnware a Know2Vec specification."""
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.specification.know2vec import BOUNDARY_QUERIES
    from tests._stock_learnware import stock_rkme_zip, stock_semantic_spec

    X, y = load_digits()
    rng = np.random.default_rng(0)
    probe = np.concatenate([X + rng.normal(0, 0.05, X.shape) for _ in range(12)]).astype(np.float32)
    assert len(probe) > BOUNDARY_QUERIES
    market = instantiate_market("k2v", rebuild=True, root=tmp_path, probe_X=probe)
    rows = y < 3
    model = LogisticRegression(max_iter=500).fit(X[rows], y[rows])
    learnware_id, status = market.add_learnware(str(stock_rkme_zip(model, X[rows], tmp_path / "lw.zip")),
                                                stock_semantic_spec("big probe", "digits 0-2", 3))
    assert status == 1, market.rejection_message
    spec = market.get_learnware_by_ids(learnware_id).get_specification().get_stat_spec()["Know2VecSpecification"]
    assert spec.settings["max_queries"] == len(probe) + BOUNDARY_QUERIES and spec.holds_probe_labels(probe)
    assert spec.queries > len(probe)  # the boundary search ran beyond the probe set


def test_zoo_held_out_tasks_retrieve_their_source_model():
    """Six models on different class subsets of digits; held-out tasks of each model's classes."""
    from sklearn.model_selection import train_test_split

    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    Xtr, probe, ytr, _ = train_test_split(Xtr, ytr, test_size=0.3, random_state=1, stratify=ytr)
    subsets = [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (0, 5), (1, 7), (2, 3, 8)]
    models = [LogisticRegression(max_iter=1000).fit(Xtr[np.isin(ytr, s)], ytr[np.isin(ytr, s)]) for s in subsets]
    specs = [generate_know2vec_spec(m, probe) for m in models]
    proxy = Know2VecProxy(hidden=32, epochs=300, verbose=False).fit(specs, models, probe_X=probe)
    H = proxy.embed_models(specs)
    rng = np.random.default_rng(0)
    hits = []
    for i, s in enumerate(subsets):
        for _ in range(4):
            rows = rng.choice(np.flatnonzero(np.isin(yte, s)), size=40, replace=False)
            scores = proxy.scores(Know2VecQuery.from_data(Xte[rows], yte[rows]), model_embeddings=H)
            hits.append(np.argmax(scores) == i)
    chance = 1 / len(subsets)
    assert np.mean(hits) >= 3 * chance, np.mean(hits)


# ------------------------------------------------- labelled probe training
def test_labelled_task_sampler_marks_the_most_accurate_models():
    from k2v_learnware.proxy import LabelledTaskSampler

    X, y, subsets, models, specs = _tiny_zoo()
    probe_X, probe_y = X[1::5], y[1::5]
    sampler = LabelledTaskSampler(models, probe_X, probe_y, groups=[list(range(10))], classes_per_task=(2, 3))
    rng = np.random.default_rng(0)
    for _ in range(20):
        means, best = sampler.draw(rng, (5, 10))
        assert means.shape[1] == 64 and 2 <= len(means) <= 3 and best.dtype == bool and best.any()
    # worked by hand: a task of classes {2, 3} is only ever answered right by the (2, 3, 4) model
    sampler = LabelledTaskSampler(models, probe_X, probe_y, groups=[[2, 3]], classes_per_task=(2, 2))
    _, best = sampler.draw(rng, (10, 10))
    assert best.tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="no rows in the labelled probe set"):
        LabelledTaskSampler(models, probe_X, probe_y, groups=[[2, 42]])


def test_proxy_trained_on_labelled_probe_tasks_ranks_the_covering_model_first():
    X, y, subsets, models, specs = _tiny_zoo()
    proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=150, batch_size=32, verbose=False)
    proxy.fit(specs, models, probe_X=X[1::5], probe_y=y[1::5])
    hits = 0
    for i, s in enumerate(subsets):
        # rows outside the proxy's probe set (1::5) and the specs' probe set (::5)
        rows = np.flatnonzero(np.isin(y, s) & (np.arange(len(y)) % 5 >= 2))
        hits += int(np.argmax(proxy.scores(Know2VecQuery.from_data(X[rows], y[rows]), specs)) == i)
    assert hits >= 3
    with pytest.raises(TypeError, match="must be a model"):
        Know2VecProxy(verbose=False).fit(specs, [object()] * len(specs), probe_X=X, probe_y=y)
    with pytest.raises(ValueError, match="give probe_y too"):
        Know2VecProxy(verbose=False).fit(specs, models, probe_X=X, task_groups=[[0, 1]])


def test_proxy_trains_on_the_specs_stored_answers_exactly_as_on_the_models():
    """Format 2 specifications answer the probe set for their models: the same tasks, the same proxy."""
    X, y, subsets, models, specs = _tiny_zoo()
    probe_X, probe_y = X[::5], y[::5]  # the specifications' own probe set
    options = dict(hidden=16, embedding_dim=32, epochs=30, batch_size=16, verbose=False)
    for labelled in ({"probe_y": probe_y}, {}):  # ours (labelled probe tasks) and the paper's (identity)
        asked = Know2VecProxy(**options).fit(specs, models, probe_X=probe_X, **labelled)
        stored = Know2VecProxy(**options).fit(specs, specs, probe_X=probe_X, **labelled)
        assert asked.losses_ == stored.losses_
        assert np.array_equal(asked.embed_models(specs), stored.embed_models(specs))
    with pytest.raises(ValueError, match="give the model instead"):  # answers for another probe set
        Know2VecProxy(**options).fit(specs, specs, probe_X=X[1::5], probe_y=y[1::5])


def test_searcher_embeds_each_model_once_per_proxy():
    from learnware.learnware import Learnware
    from learnware.market import BaseUserInfo
    from learnware.specification import Specification

    from k2v_learnware.market.searchers import Know2VecSearcher

    X, y, subsets, models, specs = _tiny_zoo()
    proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=20, batch_size=16, verbose=False)
    proxy.fit(specs, models, probe_X=X[1::5])
    learnwares = [Learnware(str(i), None, Specification(stat_spec={"Know2VecSpecification": s}), "")
                  for i, s in enumerate(specs)]
    searcher = Know2VecSearcher(organizer=None, proxy=proxy)
    query = Know2VecQuery.from_data(X[np.isin(y, subsets[3])], y[np.isin(y, subsets[3])])
    info = BaseUserInfo(stat_info={"Know2VecQuery": query})
    first = searcher(learnwares, info, max_search_num=4).get_single_results()
    matrix = searcher._matrix[2]
    assert np.allclose(matrix, proxy.embed_models(specs))
    again = searcher(learnwares, info, max_search_num=4).get_single_results()
    assert searcher._matrix[2] is matrix  # nothing re-encoded
    assert [i.learnware.id for i in again] == [i.learnware.id for i in first]
    assert np.allclose([i.score for i in first], np.sort(proxy.scores(query, specs))[::-1])
    searcher(learnwares[:2], info)  # a smaller market: the kept vectors are reused, the others forgotten
    assert set(searcher._embedded) == {id(s) for s in specs[:2]}
    searcher.proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=5, batch_size=16, seed=1,
                                   verbose=False).fit(specs, models, probe_X=X[1::5])
    searcher(learnwares, info)
    assert np.allclose(searcher._matrix[2], searcher.proxy.embed_models(specs))  # a new proxy: all again
