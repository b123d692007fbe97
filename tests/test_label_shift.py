"""Class mixtures in LANE specs, label-shift weights and the class-level router (issue 15)."""

import json

import numpy as np
import pytest

from k2v_learnware import generate_lane_spec
from k2v_learnware.reuse import LANEClassRouterReuser, label_shift_weights
from k2v_learnware.reuse.label_shift import em_class_priors, prune_by_bic
from k2v_learnware.specification.class_mixtures import MIN_COMPONENT_ROWS, fit_class_mixture
from k2v_learnware.specification.formats import SpecificationFormatError
from k2v_learnware.specification.lane import LANESpecification

TASKS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


@pytest.fixture(scope="module")
def digit_specs(digits):
    Xtr, _, ytr, _ = digits
    specs = []
    for task in TASKS:
        rows = np.isin(ytr, task)
        specs.append(generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=20, verbose=False))
    return specs


def _user(digits, shares, n=100, seed=0):
    """Test rows mixing the tasks in ``shares`` (task index -> share); returns rows, labels and task of each."""
    _, Xte, _, yte = digits
    rng = np.random.default_rng(seed)
    X, y, task = [], [], []
    for t, share in shares.items():
        pool = np.flatnonzero(np.isin(yte, TASKS[t]))
        picked = rng.choice(pool, size=int(round(n * share)), replace=False)
        X.append(Xte[picked]), y.append(yte[picked]), task.append(np.full(len(picked), t))
    return np.concatenate(X), np.concatenate(y), np.concatenate(task)


def test_em_recovers_the_priors_of_exact_posteriors():
    # two 1-d Gaussians N(-1, 1), N(1, 1); the Bayes posterior under a uniform prior is exact
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1, 1, 7000), rng.normal(1, 1, 3000)])
    likelihood = np.stack([np.exp(-(x + 1) ** 2 / 2), np.exp(-(x - 1) ** 2 / 2)], axis=1)
    posteriors = likelihood / likelihood.sum(axis=1, keepdims=True)
    priors, iterations = em_class_priors(posteriors)
    assert np.allclose(priors, [0.7, 0.3], atol=0.02) and iterations > 1
    # a class started at zero stays out
    assert em_class_priors(posteriors, [1.0, 0.0])[0][1] == 0.0


def test_bic_drops_a_learnware_without_rows_and_keeps_one_with_them():
    rng = np.random.default_rng(1)
    owner = np.array([0, 0, 1, 1, 2, 2])
    truth = np.array([0.3, 0.3, 0.2, 0.2, 0.0, 0.0])
    classes = rng.choice(6, size=500, p=truth)
    posteriors = np.full((500, 6), 0.02)
    posteriors[np.arange(500), classes] = 0.9
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    start, _ = em_class_priors(posteriors)
    assert start[4:].sum() > 0  # EM alone leaves learnware 2 a share
    priors, dropped = prune_by_bic(posteriors, start, owner)
    assert dropped == [2] and priors[4:].sum() == 0.0
    assert np.allclose(np.bincount(owner, weights=priors), [0.6, 0.4, 0.0], atol=0.06)


def test_label_shift_weights_find_the_mixture_and_drop_the_rest(digits, digit_specs):
    X, _, _ = _user(digits, {0: 0.7, 3: 0.3})
    found = label_shift_weights(X, digit_specs)
    assert np.abs(found.learnware_weights - [0.7, 0, 0, 0.3, 0]).sum() < 0.1, found.learnware_weights
    assert found.learnware_weights.sum() == pytest.approx(1.0)
    assert set(found.dropped) >= {1, 2, 4}
    single = label_shift_weights(_user(digits, {2: 1.0})[0], digit_specs)
    assert single.learnware_weights[2] == pytest.approx(1.0) and sorted(single.dropped) == [0, 1, 3, 4]


def test_label_shift_weights_beat_the_qp_start(digits, digit_specs):
    from k2v_learnware.search import mixture_weights

    errors_qp, errors_em = [], []
    for seed, shares in enumerate([{0: 0.5, 1: 0.5}, {1: 0.2, 2: 0.3, 4: 0.5}, {0: 0.25, 2: 0.25, 3: 0.5}]):
        X, _, _ = _user(digits, shares, seed=seed)
        truth = np.array([shares.get(t, 0.0) for t in range(len(TASKS))])
        qp = mixture_weights(X, digit_specs).learnware_weights
        errors_qp.append(np.abs(qp - truth).sum())
        errors_em.append(np.abs(label_shift_weights(X, digit_specs, qp).learnware_weights - truth).sum())
    assert np.mean(errors_em) < np.mean(errors_qp), (errors_em, errors_qp)


def test_class_router_reuses_near_the_oracle(digits, digit_specs):
    from sklearn.svm import SVC

    from k2v_learnware.bench.reuse_parties import in_memory_learnware

    Xtr, _, ytr, _ = digits
    models = [SVC().fit(Xtr[np.isin(ytr, t)], ytr[np.isin(ytr, t)]) for t in TASKS]
    learnwares = [in_memory_learnware(f"lw{t}", models[t], 64, {"LANESpecification": s})
                  for t, s in enumerate(digit_specs)]
    X, y, task = _user(digits, {0: 0.4, 2: 0.35, 4: 0.25}, seed=3)
    oracle = np.mean(np.concatenate([models[t].predict(X[task == t]) for t in (0, 2, 4)]) ==
                     np.concatenate([y[task == t] for t in (0, 2, 4)]))
    reuser = LANEClassRouterReuser(learnwares, random_state=0)
    accuracy = np.mean(reuser.predict(X) == y)
    assert accuracy >= 0.95 * oracle, (accuracy, oracle)
    assert reuser.weights_.sum() == pytest.approx(1.0) and set(np.flatnonzero(reuser.weights_ > 0)) == {0, 2, 4}
    assert np.mean(reuser.job_assignment(X) == task) >= 0.95
    # one learnware: every row goes to it, no selector is trained
    alone = LANEClassRouterReuser(learnwares[:1])
    assert np.all(alone.predict(X[task == 0]) == models[0].predict(X[task == 0])) and alone.selector_ is None


def test_a_single_class_takes_every_row(digits):
    Xtr, _, ytr, _ = digits
    one = generate_lane_spec(Xtr[ytr == 3], ytr[ytr == 3], num_per_class=3, iterations=2, verbose=False)
    found = label_shift_weights(Xtr[:7], [one])
    assert found.learnware_weights.tolist() == [1.0] and found.class_weights.tolist() == [1.0]


def test_router_and_weights_refuse_bad_input(digits, digit_specs):
    from k2v_learnware.bench.reuse_parties import in_memory_learnware

    X, _, _ = _user(digits, {0: 1.0}, n=20)
    with pytest.raises(ValueError, match="features"):
        label_shift_weights(X[:, :10], digit_specs)
    with pytest.raises(ValueError, match="start must be 5"):
        label_shift_weights(X, digit_specs, start=[1.0, 0.0])
    with pytest.raises(ValueError, match="start contains 1 NaN or infinite value"):
        label_shift_weights(X, digit_specs, start=[np.nan, 0, 0, 0, 1])
    with pytest.raises(TypeError, match="start must hold numbers"):
        label_shift_weights(X, digit_specs, start=["0.2"] * 5)
    with pytest.raises(ValueError, match="empty"):
        label_shift_weights(X, [])
    with pytest.raises(ValueError, match="per_class"):
        label_shift_weights(X, digit_specs, per_class=0)
    with pytest.raises(ValueError, match="C"):
        label_shift_weights(X, digit_specs, C=-1.0)
    learnwares = [in_memory_learnware(f"lw{t}", None, 64, {"LANESpecification": s}) for t, s in enumerate(digit_specs)]
    with pytest.raises(ValueError, match="features"):
        LANEClassRouterReuser(learnwares).predict(X[:, :10])
    with pytest.raises(ValueError, match="one weight per learnware"):
        LANEClassRouterReuser(learnwares, [1.0])
    from sklearn.svm import SVC

    with pytest.raises(TypeError, match="predict_proba"):
        LANEClassRouterReuser(learnwares, selector=SVC())


def test_class_mixture_components_cover_enough_rows():
    rng = np.random.default_rng(0)
    small = fit_class_mixture(rng.random((MIN_COMPONENT_ROWS + 5, 6)), components=4, rank=3)
    assert len(small.weights) == 1  # too few rows for a second component
    large = fit_class_mixture(rng.random((400, 6)), components=4, rank=3)
    assert len(large.weights) == 4 and np.all(large.weights * 400 >= MIN_COMPONENT_ROWS)
    assert large.axes.shape == (4, 3, 6) and np.all(large.residual >= 0)
    draws = large.sample(5000, np.random.default_rng(1))
    assert np.allclose(draws.mean(axis=0), 0.5, atol=0.05)  # uniform rows: mean 0.5 in every feature


def test_an_outlier_joins_a_component_instead_of_being_stored_as_one():
    # k-means makes an outlier a cluster of its own: a one-row component whose mean is the row verbatim.
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(80, 5))
    rows[0] = 50.0
    mixture = fit_class_mixture(rows)
    assert np.all(np.round(mixture.weights * 80) >= MIN_COMPONENT_ROWS)
    assert not np.any(np.all(np.abs(mixture.means - rows[0]) < 1e-3, axis=1))
    with pytest.raises(ValueError, match="at least MIN_COMPONENT_ROWS=20 rows, got 19"):
        fit_class_mixture(rows[:19])


def test_a_class_under_the_minimum_leaves_the_spec_without_mixtures(digits):
    # One mixture per class or none: a 5-row class's mixture would be little more than its 5 rows.
    Xtr, _, ytr, _ = digits
    rows = np.r_[np.flatnonzero(ytr == 0), np.flatnonzero(ytr == 1)[:MIN_COMPONENT_ROWS - 1]]
    spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=2, verbose=False)
    assert spec.class_mixtures is None
    rows = np.r_[np.flatnonzero(ytr == 0), np.flatnonzero(ytr == 1)[:MIN_COMPONENT_ROWS]]
    spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=2, verbose=False)
    assert len(spec.class_mixtures) == 2 and len(spec.class_mixtures[1].weights) == 1


def test_spec_round_trips_its_mixtures_and_samples_from_them(digits, tmp_path):
    Xtr, _, ytr, _ = digits
    rows = np.isin(ytr, (0, 1))
    spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=5, verbose=False)
    assert len(spec.class_mixtures) == 2
    spec.save(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["format_version"] == 4 and len(data["class_mixtures"]) == 2
    loaded = LANESpecification()
    loaded.load(tmp_path / "s.json")
    assert np.allclose(loaded.sample_class(1, 50, random_state=4), spec.sample_class(1, 50, random_state=4), atol=1e-5)
    # mimic samples follow the class's real rows (pixels 0..16; clipping at 0 lifts a mean a little)
    real = Xtr[ytr == 1].mean(axis=0)
    assert np.abs(loaded.sample_class(1, 4000, random_state=0).mean(axis=0) - real).max() < 0.8
    # without mixtures (the paper's spec, or a format-2 file) samples come from the points' Gaussian
    plain = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=5, mixture_components=0,
                               verbose=False)
    assert plain.class_mixtures is None and "class_mixtures" not in plain.to_dict()
    drawn = plain.sample_class(0, 3000, random_state=0).mean(axis=0)
    assert np.abs(drawn - plain.class_means()[0]).mean() < 0.5  # clipping at 0 lifts the faint pixels


@pytest.mark.parametrize("change, message", [
    (lambda m: m[0].update(weights=[0.5, 0.2]), "weights must be non-negative and sum to 1"),
    (lambda m: m[0].update(residual=[-1.0] * len(m[0]["residual"])), "residual"),
    (lambda m: m[0].update(means=[row[:3] for row in m[0]["means"]]), "means must be"),
    (lambda m: m.pop(), "class mixtures for 2 classes"),
    (lambda m: m[1]["axes"][0].append([0.0] * 3), "ragged"),
    (lambda m: m[1]["axes"].pop(), "axes must be"),
    (None, "class_mixtures need format 3"),
])
def test_inconsistent_mixtures_are_refused(digits, tmp_path, change, message):
    Xtr, _, ytr, _ = digits
    rows = np.isin(ytr, (0, 1))
    spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=5, iterations=5, verbose=False)
    data = spec.to_dict()
    if change is None:
        data["format_version"] = 2
    else:
        change(data["class_mixtures"])
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SpecificationFormatError, match=message):
        LANESpecification().load(tmp_path / "bad.json")


def test_generation_refuses_bad_mixture_settings(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(ValueError, match="mixture_components"):
        generate_lane_spec(Xtr[:50], ytr[:50], mixture_components=-1, iterations=1, verbose=False)
    with pytest.raises(ValueError, match="mixture_rank"):
        generate_lane_spec(Xtr[:50], ytr[:50], mixture_rank=0, iterations=1, verbose=False)
    requirement = generate_lane_spec(Xtr[:60], None, num_per_class=5, iterations=2, verbose=False)
    assert requirement.class_mixtures is None  # an unlabelled requirement carries none


def _confident_posteriors(seed, shares, n=400):
    """Posteriors of ``n`` rows drawn with class ``shares``: 0.9 on a row's class, 0.02 on each other."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(shares), size=n, p=shares)
    posteriors = np.full((n, len(shares)), 0.02)
    posteriors[np.arange(n), classes] = 0.9
    return posteriors / posteriors.sum(axis=1, keepdims=True)


def test_only_the_one_against_two_step_pays_the_larger_penalty():
    owner = np.array([0, 0, 1, 1, 2, 2])
    posteriors = _confident_posteriors(2, [0.45, 0.45, 0.05, 0.05, 0.0, 0.0])
    start, _ = em_class_priors(posteriors)
    kept_by_bic, dropped = prune_by_bic(posteriors, start, owner, single_factor=1.0)
    assert dropped == [2] and np.bincount(owner, weights=kept_by_bic)[1] > 0.05
    # learnware 1's gain pays BIC's penalty but not a hundred times it, which only the last step asks for
    priors, dropped = prune_by_bic(posteriors, start, owner, single_factor=100.0)
    assert sorted(dropped) == [1, 2] and np.bincount(owner, weights=priors)[0] == pytest.approx(1.0)
    # three learnwares with rows: no step is the last one, so the factor changes nothing
    posteriors = _confident_posteriors(3, [0.3, 0.3, 0.1, 0.1, 0.1, 0.1])
    start, _ = em_class_priors(posteriors)
    assert prune_by_bic(posteriors, start, owner, single_factor=1e9)[1] == []
    with pytest.raises(ValueError, match="single_factor"):
        prune_by_bic(posteriors, start, owner, single_factor=0.0)
