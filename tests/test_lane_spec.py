"""The LANESpecification contract: construction, validation, storage, distances."""

import json

import numpy as np
import pytest
import torch

from k2v_learnware import LANESpecification, generate_lane_spec
from k2v_learnware.specification.formats import SpecificationFormatError

from .conftest import as_images

FAST = dict(iterations=20, verbose=False)


@pytest.fixture(scope="module")
def small(digits):
    """Classes 0-2 of digits, 150 samples: enough for quick specs."""
    Xtr, _, ytr, _ = digits
    keep = np.isin(ytr, [0, 1, 2])
    return Xtr[keep][:150], ytr[keep][:150]


@pytest.fixture(scope="module")
def vector_spec(small):
    return generate_lane_spec(*small, num_per_class=5, **FAST)


# ----------------------------------------------------------------- contract
def test_follows_learnware_contract(vector_spec):
    from learnware.specification import RegularStatSpecification

    assert isinstance(vector_spec, RegularStatSpecification)
    assert vector_spec.type == "LANESpecification" == type(vector_spec).__name__
    assert vector_spec.get_z().shape == (15, 64)
    assert sorted(vector_spec.get_labels().tolist()) == sorted([0, 1, 2] * 5)


def test_class_counts_and_embedding_recorded(small, vector_spec):
    _, y = small
    assert dict(zip(vector_spec.classes, vector_spec.class_counts)) == {c: int(np.sum(y == c)) for c in (0, 1, 2)}
    e = vector_spec.embedding
    assert e["kind"] == "mlp" and e["input_shape"] == [64] and e["num_nets"] >= 1
    assert {"width", "depth", "seed"} <= set(e)
    assert vector_spec.condensation["iterations"] == 20


def test_generate_stat_spec_keyword_entry_point(small):
    spec = LANESpecification()
    spec.generate_stat_spec(X=small[0], y=small[1], num_per_class=2, **FAST)
    assert spec.get_z().shape == (6, 64)


def test_torch_input_and_images(small):
    X, y = small
    spec = generate_lane_spec(torch.from_numpy(as_images(X)), torch.from_numpy(y), num_per_class=3, **FAST)
    assert spec.get_z().shape == (9, 1, 8, 8)
    assert spec.embedding["kind"] == "convnet"


def test_string_labels_kept_as_given(small):
    X, y = small
    names = np.array(["zero", "one", "two"])[y]
    spec = generate_lane_spec(X, names, num_per_class=3, **FAST)
    assert set(spec.get_labels().tolist()) == {"zero", "one", "two"}
    assert spec.classes == list(dict.fromkeys(names.tolist()))


def test_unlabelled_data_is_one_class(small):
    spec = generate_lane_spec(small[0], None, num_per_class=4, **FAST)
    assert spec.classes == [None] and spec.class_counts == [len(small[0])]
    assert spec.get_z().shape == (4, 64)


@pytest.mark.parametrize("init", ["noise", "kmeans"])
def test_private_inits_copy_no_real_sample(small, init):
    X, y = small
    spec = generate_lane_spec(X, y, num_per_class=3, init=init, **FAST)
    rows = {tuple(r) for r in X}
    assert not any(tuple(r) in rows for r in spec.get_z())


def test_kmeans_starts_copy_no_row_even_from_one_row_clusters(small):
    # An outlier is a k-means cluster of its own, and a class of exactly num_per_class rows is nothing but
    # one-row clusters: with no condensation step their centres would be stored as the rows themselves.
    X, y = small
    X = X.copy()
    X[0] = 40.0
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:4]]
    spec = generate_lane_spec(X[keep], y[keep], num_per_class=4, iterations=0, verbose=False)
    rows = {tuple(r) for r in X}
    z = spec.get_z()
    assert not any(tuple(r) in rows for r in z)
    assert len({tuple(r) for r in z}) == len(z)  # no two starting points at one place
    with pytest.raises(ValueError, match="init='kmeans' needs at least 2 samples per class"):
        generate_lane_spec(X[:30], np.r_[np.zeros(29), 1], num_per_class=1, iterations=0, verbose=False)


def test_a_one_row_class_is_refused_by_every_init_that_promises_no_real_row(small):
    # Eq. 7 matches a one-row class's embedding by moving its point onto that row: from noise, 200 steps stored
    # this digit within 0.07 of the row (its norm: 56; pixels are integers, so rounding gave the row back).
    X, _ = small
    y = np.r_[np.zeros(29, dtype=int), 1]
    for init in ("noise", "kmeans"):
        with pytest.raises(ValueError, match=rf"init='{init}' needs at least 2 samples per class.*\(es\) 1 have 1"):
            generate_lane_spec(X[:30], y, num_per_class=1, init=init, iterations=200, verbose=False)
    real = generate_lane_spec(X[:30], y, num_per_class=1, init="real", iterations=0, verbose=False)
    assert np.array_equal(real.class_samples(1)[0], X[29])  # the paper's start keeps the row, and says so


def test_mimic_samples_are_reproducible_by_default(vector_spec):
    # sample_class drew from fresh OS entropy unless given a seed; like every seed of the API it defaults to 0
    label = vector_spec.classes[0]
    assert np.array_equal(vector_spec.sample_class(label, 20), vector_spec.sample_class(label, 20))
    assert np.array_equal(vector_spec.sample_class(label, 20), vector_spec.sample_class(label, 20, random_state=0))
    rng = np.random.default_rng(5)
    assert np.array_equal(vector_spec.sample_class(label, 20, random_state=rng),
                          vector_spec.sample_class(label, 20, random_state=np.random.default_rng(5)))


def test_same_seed_same_spec_other_seed_differs(small):
    a = generate_lane_spec(*small, num_per_class=3, seed=7, **FAST)
    b = generate_lane_spec(*small, num_per_class=3, seed=7, **FAST)
    c = generate_lane_spec(*small, num_per_class=3, seed=8, **FAST)
    assert np.array_equal(a.get_z(), b.get_z()) and a.labels == b.labels
    assert not np.array_equal(a.get_z(), c.get_z())


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "X, y, options, error, match",
    [
        (np.zeros((0, 64)), None, {}, ValueError, "empty"),
        (np.full((30, 4), np.nan), None, {}, ValueError, "NaN"),
        (np.array([[1.0, np.inf]] * 30), None, {}, ValueError, "NaN or infinite"),
        (np.zeros(30), None, {}, ValueError, "dimensions"),
        (np.zeros((30, 2, 3)), None, {}, ValueError, "dimensions"),
        (np.zeros((30, 4)), np.zeros(29), {}, ValueError, "29 labels but X has 30"),
        (np.zeros((30, 4)), np.zeros((30, 2)), {}, ValueError, "one-dimensional"),
        (np.zeros((30, 4)), np.r_[np.zeros(27), np.ones(3)], {}, ValueError, "fewer than"),
        (np.zeros((30, 4)), None, {"num_per_class": 0}, ValueError, "num_per_class must be >= 1"),
        (np.zeros((30, 4)), None, {"num_per_class": 2.5}, TypeError, "num_per_class must be an integer"),
        (np.zeros((30, 4)), None, {"lr": -1.0}, ValueError, "lr"),
        (np.zeros((30, 4)), None, {"optimizer": "lbfgs"}, ValueError, "optimizer"),
        (np.zeros((30, 4)), None, {"init": "zeros"}, ValueError, "init"),
        (np.zeros((30, 4)), None, {"embedding": "convnet"}, ValueError, "images"),
        (np.zeros((30, 1, 4, 4)), None, {"depth": 5}, ValueError, "depth"),
        (np.array([["a", "b"]] * 30), None, {}, TypeError, "numbers"),
        (np.zeros((30, 4)), [(1, 2)] * 30, {}, TypeError, "label of type tuple"),
        (np.zeros((30, 4)), ["a"] * 15 + [1] * 15, {}, TypeError, "mixes label types"),
        (None, None, {}, TypeError, "got None"),
    ],
)
def test_bad_input_raises_clear_error(X, y, options, error, match):
    with pytest.raises(error, match=match):
        generate_lane_spec(X, y, verbose=False, iterations=1, **options)


def test_rows_class_means_are_kept_only_when_a_file_row_holds_them():
    # a row of data_class_means is the family's whole output; the schema allows at most LIMITS["family_output"]
    from k2v_learnware.specification.lane_build import plan_build

    X, y = np.zeros((200, 1, 64, 64), np.float32), np.repeat([0, 1], 100)
    options = dict(iterations=1, batch_real=None, lr=0.05, optimizer="adam", init="noise", embedding=None, depth=1,
                   num_nets=8, normalization="none", seed=0, family_seed=None, mixture_components=0,
                   mixture_rank=1, data_means=True, data_means_min_rows=100)
    assert plan_build(X, y, 2, width=16, **options).keeps_means  # 16 x 32 x 32 x 8 numbers a row
    assert not plan_build(X, y, 2, width=128, **options).keeps_means  # 128 x 32 x 32 x 8 > 10**6


def test_one_class_with_too_few_samples_names_the_class(small):
    X, y = small
    y = y.copy()
    y[:2] = 9
    with pytest.raises(ValueError, match=r"class\(es\) 9 \(2 samples\)"):
        generate_lane_spec(X, y, num_per_class=3, **FAST)


def test_empty_spec_says_so():
    with pytest.raises(ValueError, match="empty"):
        LANESpecification().get_z()


# ------------------------------------------------------------------ storage
@pytest.mark.parametrize("images", [False, True])
def test_save_load_round_trip_is_exact(tmp_path, small, images):
    X, y = small
    names = np.array(["zero", "one", "two"])[y]
    spec = generate_lane_spec(as_images(X) if images else X, names, num_per_class=4, **FAST)
    path = tmp_path / "spec.json"
    spec.save(path)
    loaded = LANESpecification()
    assert loaded.load(path) is True
    assert loaded.get_z().dtype == spec.get_z().dtype
    assert np.array_equal(loaded.get_z(), spec.get_z())
    assert loaded.get_labels().tolist() == spec.get_labels().tolist()
    assert loaded.to_dict() == spec.to_dict()
    assert loaded.dist(spec) == pytest.approx(0.0, abs=1e-12)


def test_file_is_plain_json_with_schema_fields(tmp_path, vector_spec):
    path = tmp_path / "spec.json"
    vector_spec.save(path)
    data = json.loads(path.read_text())
    assert data["type"] == "LANESpecification" and data["format_version"] == 4
    assert data["embedding"]["normalization"] == "none"


def _corrupt(tmp_path, vector_spec, edit):
    path = tmp_path / "spec.json"
    vector_spec.save(path)
    data = json.loads(path.read_text())
    text = edit(data)
    path.write_text(text if isinstance(text, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: d.update(type="RKMETableSpecification"), "expected 'LANESpecification'"),
        (lambda d: d.update(format_version=99), "format_version 99"),
        (lambda d: d.pop("class_counts"), "class_counts"),
        (lambda d: d.update(z=[["x"] * 64]), "schema at z"),
        (lambda d: d["z"].pop(), "labels for"),
        (lambda d: d["z"][0].pop(), "z rows must have 64 values"),
        (lambda d: d["labels"].__setitem__(0, 99), "not in classes"),
        (lambda d: d.update(extra=1), "Additional properties"),
    ],
)
def test_load_rejects_bad_files_clearly(tmp_path, vector_spec, edit, match):
    path = _corrupt(tmp_path, vector_spec, edit)
    with pytest.raises(SpecificationFormatError, match=match):
        LANESpecification().load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        LANESpecification().load(tmp_path / "nope.json")


def test_learnware_loader_resolves_the_class(tmp_path, vector_spec):
    """The package's own loader builds our class from module_path/class_name, as learnware.yaml names it."""
    from learnware.learnware.utils import get_stat_spec_from_config

    path = tmp_path / "lane.json"
    vector_spec.save(path)
    loaded = get_stat_spec_from_config(
        {"module_path": "k2v_learnware", "class_name": "LANESpecification", "file_name": str(path), "kwargs": {}}
    )
    assert isinstance(loaded, LANESpecification) and np.array_equal(loaded.get_z(), vector_spec.get_z())


# ------------------------------------------------------- gaussians, sampling
def test_shrunk_covariance_is_positive_definite(vector_spec):
    cov = vector_spec.class_covariance(vector_spec.classes[0])
    assert cov.shape == (64, 64)
    assert np.allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() > 0, "5 points in 64-d must still give a valid Gaussian"


def test_sampling_follows_the_class_gaussian(vector_spec):
    label = vector_spec.classes[1]
    unclipped = LANESpecification()
    unclipped.__dict__.update(vector_spec.__dict__)
    unclipped.feature_range = [-1e9, 1e9]
    unclipped.class_mixtures = None  # the paper's Eq. 10: the condensed points' Gaussian
    n = 20000
    draws = unclipped.sample_class(label, n, random_state=0).reshape(n, -1)
    mean, cov = vector_spec.class_samples(label).mean(0), vector_spec.class_covariance(label)
    assert np.abs(draws.mean(0) - mean).max() < 5 * np.sqrt(cov.diagonal().max() / n)
    assert np.linalg.norm(np.cov(draws.T) - cov) < 0.05 * np.linalg.norm(cov)
    assert np.array_equal(draws, unclipped.sample_class(label, n, random_state=0).reshape(n, -1))


def test_samples_are_clipped_to_the_data_range(vector_spec):
    draws = vector_spec.sample_class(vector_spec.classes[0], 2000, random_state=1)
    lo, hi = vector_spec.feature_range
    assert draws.shape == (2000, 64) and draws.min() >= lo and draws.max() <= hi


def test_class_means_in_class_order(vector_spec):
    means = vector_spec.class_means()
    assert means.shape == (3, 64)
    for c, m in zip(vector_spec.classes, means):
        assert np.allclose(m, vector_spec.get_z()[vector_spec.get_labels() == c].mean(0))


# ---------------------------------------------------------------- distances
def test_dist_zero_to_itself_symmetric_and_ranks_distributions(digits):
    Xtr, _, ytr, _ = digits
    a_rows, b_rows = np.flatnonzero(np.isin(ytr, [0, 1])), np.flatnonzero(np.isin(ytr, [5, 6]))
    a1 = generate_lane_spec(Xtr[a_rows[::2]], ytr[a_rows[::2]], num_per_class=5, seed=0, **FAST)
    a2 = generate_lane_spec(Xtr[a_rows[1::2]], ytr[a_rows[1::2]], num_per_class=5, seed=1, **FAST)
    b = generate_lane_spec(Xtr[b_rows], ytr[b_rows], num_per_class=5, seed=0, **FAST)
    assert a1.dist(a1) == pytest.approx(0.0, abs=1e-12)
    assert a1.dist(b) == pytest.approx(b.dist(a1), rel=1e-6)
    assert a1.dist(a2) < a1.dist(b)
    assert a1.dist(b) >= 0 and np.isfinite(a1.dist(b))
    assert a1.dist(b, omit_term1=True) == pytest.approx(a1.dist(b) - _term1(a1, b), rel=1e-6)


def _term1(a, b):
    family = a.embedding_family()
    ref = np.concatenate([a.get_z(), b.get_z()])
    mu = a.mean_embedding(family, ref)
    return float(mu @ mu)


def test_dist_rejects_other_dimensions_and_types(vector_spec, small):
    other = generate_lane_spec(small[0][:, :32], small[1], num_per_class=2, **FAST)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        vector_spec.dist(other)
    with pytest.raises(TypeError, match="LANESpecification"):
        vector_spec.inner_prod("not a spec")
