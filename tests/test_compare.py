"""Comparing specifications (every pair of kinds), their fidelity to data, and the plots, on digits."""

import json
import logging

import learnware
import numpy as np
import pytest

learnware.init(logging_level=logging.WARNING)

import torch  # noqa: E402
from learnware.specification import RKMETableSpecification, generate_rkme_table_spec  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from k2v_learnware import generate_lane_spec  # noqa: E402
from k2v_learnware.compare import (  # noqa: E402
    Comparison,
    Fidelity,
    compare_many,
    compare_specifications,
    fidelity,
    privacy_gap,
)
from k2v_learnware.datasets import load_digits  # noqa: E402
from k2v_learnware.know2vec import generate_know2vec_spec  # noqa: E402
from k2v_learnware.plots import plot_distance_heatmap, plot_spec_over_data  # noqa: E402
from k2v_learnware.proxy import Know2VecProxy  # noqa: E402

LANE_SMALL = dict(num_per_class=5, iterations=30, verbose=False)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small networks and a small t-SNE run several times faster on one thread on a shared machine."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    """Digits split so that two specs of classes {0, 1} see disjoint rows; {7, 8} is the other distribution."""
    X, y = load_digits()
    rng = np.random.default_rng(0)
    rows01 = rng.permutation(np.flatnonzero(np.isin(y, (0, 1))))
    half = len(rows01) // 2
    a, b = rows01[:half], rows01[half:]
    c = np.flatnonzero(np.isin(y, (7, 8)))
    d2 = ((X[::7, None, :] - X[None, ::7, :]) ** 2).sum(-1)
    gamma = float(1.0 / np.median(d2[d2 > 0]))  # median heuristic: RBF values neither all 0 nor all 1
    return {"X": X, "y": y, "a": a, "b": b, "c": c, "gamma": gamma}


@pytest.fixture(scope="module")
def specs(data):
    X, y, gamma = data["X"], data["y"], data["gamma"]
    out = {}
    for name in ("a", "b", "c"):
        rows = data[name]
        out[f"lane_{name}"] = generate_lane_spec(X[rows], y[rows], **LANE_SMALL)
        out[f"rkme_{name}"] = generate_rkme_table_spec(X[rows], gamma=gamma, reduced_set_size=20, cuda_idx=-1)
    return out


@pytest.fixture(scope="module")
def zoo():
    """Three small black-box models on class subsets of digits, their Know2Vec specs and a quickly fitted proxy."""
    X, y = load_digits()
    subsets = [(0, 1), (2, 3, 4), (7, 8, 9)]
    models = [LogisticRegression(max_iter=300).fit(X[np.isin(y, s)], y[np.isin(y, s)]) for s in subsets]
    k2v = [generate_know2vec_spec(m, X[::5]) for m in models]
    proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=30, batch_size=16, verbose=False)
    proxy.fit(k2v, models, probe_X=X[1::5])
    return X, k2v, proxy


def _assert_sane(result, method):
    assert isinstance(result, Comparison)
    assert result.method == method
    assert np.isfinite(result.distance) and result.distance >= 0
    assert 0.0 <= result.similarity <= 1.0


# ------------------------------------------------------------------ same kind
def test_lane_lane_self_zero_same_distribution_closer_and_matches_spec_dist(specs):
    a, b, c = specs["lane_a"], specs["lane_b"], specs["lane_c"]
    self_cmp = compare_specifications(a, a)
    assert self_cmp.distance == pytest.approx(0.0, abs=1e-9) and self_cmp.similarity == pytest.approx(1.0)
    same, other = compare_specifications(a, b), compare_specifications(a, c)
    _assert_sane(same, "lane-mmd")
    _assert_sane(other, "lane-mmd")
    # 10 points against 10 points leave sampling noise: about 0.5-0.6 of the cross-distribution MMD (seeds 0-2).
    assert same.distance < 0.8 * other.distance, (same.distance, other.distance)
    assert same.similarity > other.similarity
    # The MMD is the square root of the spec's own squared MMD (same family, same BatchNorm reference).
    assert same.details["mmd2"] == pytest.approx(a.dist(b), rel=1e-4)
    assert same.distance == pytest.approx(np.sqrt(a.dist(b)), rel=1e-4)
    assert compare_specifications(b, a).distance == pytest.approx(same.distance, rel=1e-4)


def test_lane_lane_reads_the_rows_class_means_a_spec_keeps_as_dist_does():
    # specs of >= 100 rows a class keep their rows' class means (format 4), which dist and the search read;
    # the comparison embedded the condensed points instead (1442 against dist's 1383 on these two)
    X, y = load_digits()
    a = generate_lane_spec(X[y < 2], y[y < 2], num_per_class=5, iterations=5, verbose=False)
    b = generate_lane_spec(X[(y >= 2) & (y < 4)], y[(y >= 2) & (y < 4)], num_per_class=5, iterations=5, verbose=False)
    assert a.data_class_means is not None and b.data_class_means is not None
    result = compare_specifications(a, b)
    assert result.details["mmd2"] == pytest.approx(a.dist(b), rel=1e-6)
    assert compare_specifications(b, a).details["mmd2"] == pytest.approx(b.dist(a), rel=1e-6)


def test_rkme_rkme_uses_the_package_distance(specs, data):
    a, b, c = specs["rkme_a"], specs["rkme_b"], specs["rkme_c"]
    assert compare_specifications(a, a).distance == pytest.approx(0.0, abs=1e-9)
    same, other = compare_specifications(a, b), compare_specifications(a, c)
    _assert_sane(same, "rkme-mmd")
    assert same.details["mmd2"] == pytest.approx(max(a.dist(b), 0.0), rel=1e-9, abs=1e-12)
    assert same.details["gamma"] == pytest.approx(data["gamma"])
    assert same.distance < 0.5 * other.distance, (same.distance, other.distance)
    assert same.similarity > other.similarity
    other_gamma = generate_rkme_table_spec(data["X"][data["a"]], gamma=10 * data["gamma"], reduced_set_size=20,
                                           cuda_idx=-1)
    with pytest.raises(ValueError, match="different kernel bandwidths"):
        compare_specifications(a, other_gamma)


# ----------------------------------------------------------------- LANE-RKME
def test_lane_rkme_both_orders_symmetric_and_separate_distributions(specs):
    lane_a, rkme_b, rkme_c = specs["lane_a"], specs["rkme_b"], specs["rkme_c"]
    forward, backward = compare_specifications(lane_a, rkme_b), compare_specifications(rkme_b, lane_a)
    _assert_sane(forward, "lane-rkme-mmd")
    _assert_sane(backward, "lane-rkme-mmd")
    assert backward.distance == pytest.approx(forward.distance, rel=1e-6)
    assert forward.details["embedding"]["seed"] == lane_a.embedding["seed"]
    assert forward.distance < 0.7 * compare_specifications(lane_a, rkme_c).distance  # 0.39-0.46 on seeds 0-2
    same_classes = compare_specifications(rkme_c, specs["lane_c"]).distance
    assert same_classes < 0.7 * compare_specifications(rkme_c, lane_a).distance


def _rkme_from_points(z, beta, gamma=0.1):
    spec = RKMETableSpecification(gamma=gamma, cuda_idx=-1)
    spec.z = torch.from_numpy(np.asarray(z, dtype=np.float64))
    spec.beta = torch.from_numpy(np.asarray(beta, dtype=np.float64))
    return spec


def test_lane_points_weighted_by_class_share_equal_an_rkme_of_the_same_weighted_points(specs):
    """The common embedding weighs LANE points by class share and RKME points by beta: the same measure gives 0."""
    lane = specs["lane_a"]
    labels = lane.get_labels()
    share = dict(zip(lane.classes, lane.class_weights))
    beta = np.array([share[v] / np.sum(labels == v) for v in labels])
    twin = _rkme_from_points(lane.get_z(), beta)
    assert compare_specifications(lane, twin).distance == pytest.approx(0.0, abs=1e-6)
    uniform = _rkme_from_points(lane.get_z(), np.r_[np.full(5, 0.9 / 5), np.full(5, 0.1 / 5)])
    assert compare_specifications(lane, uniform).distance > 1e-3  # other weights, other measure


# ------------------------------------------------------------------ Know2Vec
def test_know2vec_pair_by_cosine_in_the_proxy(zoo):
    _, k2v, proxy = zoo
    self_cmp = compare_specifications(k2v[0], k2v[0], proxy=proxy)
    assert self_cmp.method == "know2vec-cosine"
    assert self_cmp.distance == pytest.approx(0.0, abs=1e-6) and self_cmp.similarity == pytest.approx(1.0, abs=1e-6)
    result = compare_specifications(k2v[0], k2v[2], proxy=proxy)
    h = proxy.embed_models([k2v[0], k2v[2]])
    assert result.similarity == pytest.approx(float(h[0] @ h[1]), abs=1e-6)
    assert result.distance == pytest.approx(1.0 - result.similarity, abs=1e-9)
    assert compare_specifications(k2v[2], k2v[0], proxy=proxy).distance == pytest.approx(result.distance, abs=1e-6)


def test_know2vec_errors(zoo, specs):
    _, k2v, proxy = zoo
    with pytest.raises(ValueError, match="needs a fitted Know2VecProxy"):
        compare_specifications(k2v[0], k2v[1])
    with pytest.raises(TypeError, match="proxy must be a fitted Know2VecProxy"):
        compare_specifications(k2v[0], k2v[1], proxy="proxy")
    with pytest.raises(ValueError, match="not fitted"):
        compare_specifications(k2v[0], k2v[1], proxy=Know2VecProxy(verbose=False))
    with pytest.raises(TypeError, match="Know2Vec specification with a LANE one"):
        compare_specifications(k2v[0], specs["lane_a"], proxy=proxy)
    with pytest.raises(TypeError, match="Know2Vec specification with a RKME one"):
        compare_specifications(specs["rkme_a"], k2v[0], proxy=proxy)


# ------------------------------------------------------------------ bad pairs
def test_mismatched_feature_dimensions_and_unsupported_objects(specs, data):
    X, y, rows = data["X"], data["y"], data["a"]
    narrow = generate_lane_spec(X[rows][:, :32], y[rows], num_per_class=5, iterations=2, verbose=False)
    with pytest.raises(ValueError, match=r"feature dimensions differ: a has samples of shape \(64,\).*\(32,\)"):
        compare_specifications(specs["lane_a"], narrow)
    with pytest.raises(ValueError, match=r"\(64,\).*\(32,\)"):
        compare_specifications(specs["rkme_a"], narrow)
    with pytest.raises(TypeError, match="cannot compare a ndarray"):
        compare_specifications(specs["lane_a"], X[:10])
    with pytest.raises(TypeError, match="embedding must be a RandomEmbedding"):
        compare_specifications(specs["lane_a"], specs["lane_b"], embedding="mlp")
    with pytest.raises(ValueError, match="empty"):
        compare_specifications(specs["rkme_a"], RKMETableSpecification(cuda_idx=-1))


# --------------------------------------------------------------- compare_many
def test_compare_many_symmetric_zero_diagonal(specs, zoo):
    order = ["lane_a", "lane_b", "lane_c", "rkme_a", "rkme_c"]
    result = compare_many([specs[k] for k in order], labels=order)
    D, S = result.distance, result.similarity
    assert D.shape == S.shape == (5, 5) and result.labels == order
    assert np.array_equal(D, D.T) and np.array_equal(S, S.T)
    assert np.all(np.diag(D) == 0) and np.all(np.diag(S) == 1)
    assert np.all(D[~np.eye(5, dtype=bool)] > 0)
    assert result.methods[0][1] == "lane-mmd" and result.methods[3][4] == "rkme-mmd"
    assert result.methods[0][3] == result.methods[3][0] == "lane-rkme-mmd"
    assert D[0, 1] < D[0, 2] and D[3, 0] < D[3, 2]  # each {0,1} spec nearest the other {0,1} spec
    assert D[0, 1] == pytest.approx(compare_specifications(specs["lane_a"], specs["lane_b"]).distance)

    with pytest.raises(ValueError, match="at least 2 specifications"):
        compare_many([specs["lane_a"]])
    with pytest.raises(ValueError, match="2 labels for 3"):
        compare_many([specs["lane_a"], specs["lane_b"], specs["lane_c"]], labels=["x", "y"])
    with pytest.raises(TypeError, match=r"specs\[0\] .* vs specs\[1\] .*: cannot compare a Know2Vec"):
        compare_many([specs["lane_a"], zoo[1][0]], proxy=zoo[2])


# ------------------------------------------------------------------ fidelity
@pytest.fixture(scope="module")
def halves():
    """All of digits in two halves of equal size: a spec's training rows and fresh rows it never saw."""
    X, y = load_digits()
    rows = np.random.default_rng(1).permutation(len(X))
    n = len(X) // 2
    train, hold = rows[:n], rows[n: 2 * n]
    return X[train], y[train], X[hold], y[hold]


@pytest.fixture(scope="module")
def condensed_and_raw(halves):
    Xtr, ytr, _, _ = halves
    condensed = generate_lane_spec(Xtr, ytr, init="kmeans", **LANE_SMALL)
    # copies of training rows
    raw = generate_lane_spec(Xtr, ytr, num_per_class=5, iterations=0, init="real", verbose=False)
    return condensed, raw


def test_fidelity_of_a_lane_spec_on_digits(halves, condensed_and_raw, specs, data):
    Xtr, ytr, Xho, yho = halves
    condensed, raw = condensed_and_raw
    fid = fidelity(condensed, Xho, yho, X_holdout=None)
    assert isinstance(fid, Fidelity) and fid.kind == "LANE" and fid.num_points == 50
    assert fid.accuracy > 0.75, fid.accuracy  # chance is 0.1; the SVM saw 50 points only
    assert set(fid.mmd_per_class) == set(range(10))
    assert all(np.isfinite(v) and v > 0 for v in fid.mmd_per_class.values())
    assert fid.size_bytes > 50 * 64 and fid.privacy_gap is None
    json.dumps(fid.to_dict())  # plain, JSON-storable values
    # A spec of other data is further from these rows, overall and per class.
    X01 = data["X"][data["b"]]
    y01 = data["y"][data["b"]]
    near, far = fidelity(specs["lane_a"], X01, y01), fidelity(specs["lane_c"], X01, y01)
    assert near.mmd < 0.5 * far.mmd
    assert set(near.mmd_per_class) == {0, 1} and far.mmd_per_class == {}
    assert far.accuracy == 0.0 and near.accuracy > 0.9
    # With a named classifier, it is cloned and used.
    assert fidelity(condensed, Xho, yho, classifier=LogisticRegression(max_iter=200)).accuracy > 0.75


def test_privacy_gap_flags_copied_training_rows(halves, condensed_and_raw):
    Xtr, ytr, Xho, _ = halves
    condensed, raw = condensed_and_raw
    leaky = fidelity(raw, Xtr, ytr, X_holdout=Xho).privacy_gap
    private = fidelity(condensed, Xtr, ytr, X_holdout=Xho).privacy_gap
    assert leaky == pytest.approx(1.0)  # every point is a training row: distance 0 to X
    assert -0.5 < private < 0.5 and leaky - private > 0.5, (leaky, private)
    # Sets of unequal size are first cut to one size, and the note says so.
    gap, note = privacy_gap(raw.get_z(), Xtr, Xho[:300])
    assert note and "subsampled" in note and -1.0 <= gap <= 1.0
    assert privacy_gap(Xho[:20], Xtr, Xho)[0] == pytest.approx(-1.0)  # copies of held-out rows


def test_fidelity_of_an_rkme_spec(specs, data):
    X01, y01 = data["X"][data["b"]], data["y"][data["b"]]
    near, far = fidelity(specs["rkme_a"], X01, y01), fidelity(specs["rkme_c"], X01)
    assert near.kind == "RKME" and near.num_points == 20 and near.kernel.startswith("RBF")
    assert near.accuracy is None and near.mmd_per_class is None
    assert any("no labels" in n for n in near.notes)
    assert near.mmd < 0.5 * far.mmd and near.size_bytes > 0


def test_fidelity_rejects_bad_input(specs, zoo):
    spec = specs["lane_a"]
    X = np.random.default_rng(0).random((20, 64)).astype(np.float32)
    bad = X.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fidelity(spec, bad)
    with pytest.raises(ValueError, match=r"X has samples of shape \(32,\) \(32 features\)"):
        fidelity(spec, X[:, :32])
    with pytest.raises(ValueError, match=r"X_holdout has samples of shape \(10,\)"):
        fidelity(spec, X, X_holdout=X[:, :10])
    with pytest.raises(ValueError, match="3 labels but X has 20 samples"):
        fidelity(spec, X, [0, 1, 0])
    with pytest.raises(ValueError, match="must have shape"):
        fidelity(spec, X[0])
    with pytest.raises(TypeError, match="fit and predict"):
        fidelity(spec, X, np.zeros(20, dtype=int), classifier=object())
    with pytest.raises(TypeError, match="Know2Vec specification"):
        fidelity(zoo[1][0], X)


# --------------------------------------------------------------------- plots
def _is_png(path):
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_plots_write_png_files(tmp_path, specs, data, zoo):
    order = ["lane_a", "lane_c", "rkme_a"]
    result = compare_many([specs[k] for k in order], labels=order)
    heat = plot_distance_heatmap(result.distance, result.labels, tmp_path / "heat.png", title="distances")
    assert _is_png(heat)
    X, y = data["X"], data["y"]
    rows = np.r_[data["a"], data["c"]]
    assert _is_png(plot_spec_over_data(specs["lane_a"], X[rows], y[rows], tmp_path / "lane_pca.png"))
    assert _is_png(plot_spec_over_data(specs["rkme_a"], X[data["a"]][:150], path=tmp_path / "rkme_tsne.png",
                                       method="tsne"))
    assert _is_png(plot_spec_over_data(zoo[1][0], zoo[0][::5], path=tmp_path / "sub" / "k2v.png"))


def test_plots_reject_bad_input(tmp_path, specs):
    with pytest.raises(ValueError, match="square"):
        plot_distance_heatmap(np.zeros((2, 3)), ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="1 labels for a 2 x 2"):
        plot_distance_heatmap(np.zeros((2, 2)), ["a"], tmp_path / "x.png")
    X = np.random.default_rng(0).random((30, 64))
    with pytest.raises(ValueError, match="method must be one of"):
        plot_spec_over_data(specs["lane_a"], X, path=tmp_path / "x.png", method="umap")
    with pytest.raises(TypeError, match="path is required"):
        plot_spec_over_data(specs["lane_a"], X)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        plot_spec_over_data(specs["lane_a"], X[:, :10], path=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
