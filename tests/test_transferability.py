"""Transferability baselines: hand-computed cases, orderings on real data, invariances, bad inputs."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from k2v_learnware.retrieval.transferability import h_score, leep, logme, nce, neuralrank_silhouette, nleep

FEATURE_SCORES = [logme, h_score, nleep]


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas():
    """These arrays are tiny: threaded BLAS only oversubscribes a shared machine (10x slower under load)."""
    with threadpool_limits(limits=1):
        yield


# ------------------------------------------------------------------ hand-computed cases
def test_nce_hand_computed_table():
    # z=0: y = a, a, b  -> H(Y|z=0) = -(2/3 log 2/3 + 1/3 log 1/3);  z=1: y = b, b, b -> 0
    z = [0, 0, 0, 1, 1, 1]
    y = ["a", "a", "b", "b", "b", "b"]
    h0 = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert nce(z, y) == pytest.approx(-(3 / 6 * h0 + 3 / 6 * 0.0))
    # three source classes of sizes 2, 2, 1: z=0 -> {a, b} (log 2), z=1 -> {b, b} (0), z=2 -> {c} (0)
    assert nce(["p", "p", "q", "q", "r"], [1, 2, 2, 2, 3]) == pytest.approx(-(2 / 5) * np.log(2))


def test_nce_identical_independent_and_relabelled():
    y = [0, 1, 2, 1, 0, 2]
    assert nce(y, y) == 0.0
    assert nce(["c", "a", "b", "a", "c", "b"], y) == 0.0  # a bijective relabelling of y
    # z independent of y: H(Y|Z) = H(Y) = log 2
    assert nce([0, 1, 0, 1], ["a", "a", "b", "b"]) == pytest.approx(-np.log(2))
    # any hashable source labels, e.g. tuples
    assert nce([("x", 1), ("x", 1), ("y", 2), ("y", 2)], [5, 5, 6, 6]) == 0.0


def test_nce_invariant_to_relabelling():
    rng = np.random.default_rng(0)
    z, y = rng.integers(0, 5, 200), rng.integers(0, 3, 200)
    base = nce(z, y)
    assert base < 0
    perm_z, perm_y = rng.permutation(5), np.array(["u", "v", "w"])
    assert nce(perm_z[z], y) == pytest.approx(base)
    assert nce(z, perm_y[y]) == pytest.approx(base)
    assert nce(np.array([f"s{v}" for v in z]), y) == pytest.approx(base)


def test_leep_hand_computed_cases():
    # P(y, z) = [[.25, .25], [.5, 0]] -> P(y|z): a|0 = 1/3, a|1 = 1, b|0 = 2/3, b|1 = 0
    # sample a: .5/3 + .5 = 2/3; sample b: 1 * 2/3 = 2/3
    assert leep([[0.5, 0.5], [1.0, 0.0]], ["a", "b"]) == pytest.approx(np.log(2 / 3))
    assert leep([[1.0, 1.0], [2.0, 0.0]], ["a", "b"]) == pytest.approx(np.log(2 / 3))  # rows are normalised
    perfect = np.eye(3)[[2, 0, 1, 0, 2]]  # source classes are a relabelling of the targets
    assert leep(perfect, ["x", "y", "z", "y", "x"]) == pytest.approx(0.0)


def test_silhouette_hand_computed_case():
    # centred points, so PCA only rotates them; cosine distance within a class 1 - 3/5 = 0.4; separation to the
    # other class's centroid (+-2, 0): 1 + 2/sqrt(5) (Rousseeuw's mean distance to its points would be 1.8)
    F, y = [[2.0, 1.0], [2.0, -1.0], [-2.0, 1.0], [-2.0, -1.0]], ["a", "a", "b", "b"]
    b = 1 + 2 / np.sqrt(5)
    assert neuralrank_silhouette(F, y) == pytest.approx(1 - 0.4 / b)
    # euclidean: a = 2, b = sqrt(17)
    assert neuralrank_silhouette(F, y, metric="euclidean") == pytest.approx(1 - 2 / np.sqrt(17))


def test_silhouette_is_the_papers_on_random_features():
    """Against a loop written from neuralRank's Eqs. 2-4: PCA to D = 10, cosine, b to the nearest centroid."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    F, y = rng.normal(size=(40, 25)) + np.repeat(rng.normal(size=(4, 25)), 10, axis=0), np.repeat(np.arange(4), 10)
    L = PCA(n_components=10, random_state=0).fit_transform(F / np.abs(F).max())

    def cos(u, v):
        return 1 - u @ v / np.linalg.norm(u) / np.linalg.norm(v)

    centroids = [L[y == k].mean(axis=0) for k in range(4)]
    s = []
    for i in range(len(L)):
        a = np.mean([cos(L[i], L[j]) for j in range(len(L)) if y[j] == y[i] and j != i])
        b = min(cos(L[i], centroids[k]) for k in range(4) if k != y[i])
        s.append((b - a) / max(a, b))
    assert neuralrank_silhouette(F, y) == pytest.approx(np.mean(s), abs=1e-9)


def test_h_score_one_dimensional_is_between_over_total_variance():
    f = np.array([[0.0], [1.0], [2.0], [4.0], [5.0], [6.0]])
    y = [0, 0, 0, 1, 1, 1]
    # class means 1 and 5, overall mean 3: between SS = 6 * 2^2 = 24; total SS = 9+4+1+1+4+9 = 28
    assert h_score(f, y) == pytest.approx(24 / 28)
    # three classes, one sample each: all variance is between classes
    assert h_score([[1.0], [2.0], [4.0]], ["a", "b", "c"]) == pytest.approx(1.0)


def test_h_score_class_constant_features_reach_classes_minus_one():
    y = np.array([0, 1, 2, 0, 1, 2, 2])
    onehot = np.eye(3)[y]  # columns sum to 1: a singular covariance, the pseudo-inverse handles it
    assert h_score(onehot, y) == pytest.approx(2.0)


def test_h_score_invariant_to_affine_maps_and_redundant_columns():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 120)
    F = rng.normal(size=(120, 3)) + y[:, None] * np.array([1.0, -0.5, 0.2])
    base = h_score(F, y)
    assert 0 < base < 3
    A = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    assert h_score(F @ A + 7.0, y) == pytest.approx(base, rel=1e-8)
    assert h_score(np.hstack([F, F @ A[:, :2]]), y) == pytest.approx(base, rel=1e-6)


def _log_evidence(F, t, alpha, beta):
    """Exact log p(t | F, alpha, beta) with t ~ N(0, I/beta + F F^T / alpha), vectorised over alpha, beta."""
    N = len(t)
    C = np.eye(N) / beta[:, None, None] + (F @ F.T) / alpha[:, None, None]
    _, logdet = np.linalg.slogdet(C)
    quad = np.einsum("i,kij,j->k", t, np.linalg.inv(C), t)
    return -0.5 * (N * np.log(2 * np.pi) + logdet + quad)


def _brute_force_max_log_evidence(F, t):
    """Grid search over (log alpha, log beta), refined five times around the best cell.

    Returns the best log evidence and where it is, (value, log alpha, log beta).
    """
    ca, cb, width = 0.0, 0.0, 12.0
    for _ in range(6):
        la, lb = np.meshgrid(np.linspace(ca - width, ca + width, 41), np.linspace(cb - width, cb + width, 41))
        values = _log_evidence(F, t, np.exp(la.ravel()), np.exp(lb.ravel()))
        best = int(np.argmax(values))
        ca, cb, width = la.ravel()[best], lb.ravel()[best], width / 8
    return values[best], ca, cb


def _features_and_labels(n, d, signal):
    rng = np.random.default_rng(n)
    y = np.arange(n) % 3
    return rng.normal(size=(n, d)) + signal * np.eye(3)[y] @ rng.normal(size=(3, d)), y


@pytest.mark.parametrize("n, d", [(20, 4), (8, 12)])  # n > d and the n < d case
def test_logme_matches_brute_force_evidence(n, d):
    F, y = _features_and_labels(n, d, signal=1.5 if n > d else 2.0)
    best = [_brute_force_max_log_evidence(F, (y == c).astype(float)) for c in range(3)]
    assert all(abs(la) < 10 and abs(lb) < 10 for _, la, lb in best)  # interior maxima: the fixed point reaches them
    assert logme(F, y) == pytest.approx(np.mean([v for v, _, _ in best]) / n, abs=1e-4)


def test_logme_never_exceeds_the_maximum_evidence():
    # one class here has its maximum at alpha -> infinity (w = 0); 11 fixed-point steps stop short of it
    F, y = _features_and_labels(6, 9, signal=0.8)
    best = np.mean([_brute_force_max_log_evidence(F, (y == c).astype(float))[0] for c in range(3)]) / 6
    assert best - 0.05 < logme(F, y) <= best + 1e-9


def test_logme_invariant_to_label_names():
    rng = np.random.default_rng(3)
    F, y = rng.normal(size=(40, 5)), rng.integers(0, 3, 40)
    assert logme(F, np.array(["c", "a", "b"])[y]) == pytest.approx(logme(F, y))


def test_nleep_is_leep_of_a_perfect_clustering_and_scale_free():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 40)
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    F = centres[y] + rng.normal(size=(120, 2))
    # far-apart clusters: every mixture component sits inside one class, so P(y | component) is 0 or 1
    assert nleep(F, y) == pytest.approx(0.0, abs=1e-6)
    noisy = rng.normal(size=(120, 6)) + 0.7 * np.eye(3)[y] @ rng.normal(size=(3, 6))
    for scale in (1e-3, 1e3):  # tiny features would otherwise drown in the mixture's covariance floor
        assert nleep(scale * noisy, y) == pytest.approx(nleep(noisy, y), abs=1e-6)
    # constant features carry no information: LEEP of the label prior, -H(Y) = log(1/3)
    assert nleep(np.ones((120, 4)), y) == pytest.approx(np.log(1 / 3))


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def digit_features(digits):
    Xtr, Xte, ytr, yte = digits
    model = LogisticRegression(max_iter=2000).fit(Xtr / 16, ytr)
    good = model.decision_function(Xte / 16)
    noise = np.random.default_rng(0).normal(size=good.shape)
    return good, model.predict_proba(Xte / 16), noise, yte


@pytest.mark.parametrize("score", FEATURE_SCORES + [neuralrank_silhouette], ids=lambda f: f.__name__)
def test_good_features_rank_above_noise_on_digits(score, digit_features):
    good, _, noise, y = digit_features
    assert score(good, y) > score(noise, y) + 0.1


def test_good_predictions_rank_above_noise_on_digits(digit_features):
    good, probs, noise, y = digit_features
    assert nce(good.argmax(axis=1), y) > nce(noise.argmax(axis=1), y) + 1.0
    random_probs = np.random.default_rng(1).dirichlet(np.ones(10), size=len(y))
    assert leep(probs, y) > leep(random_probs, y) + 1.0


def test_h_score_on_digits_is_bounded_by_classes_minus_one(digit_features):
    good, _, noise, y = digit_features
    for F in (good, noise):
        assert 0 <= h_score(F, y) <= 9 + 1e-9


# ------------------------------------------------------------------ bad inputs
GOOD_F = np.random.default_rng(5).normal(size=(12, 3))
GOOD_Y = [0, 1, 2] * 4


@pytest.mark.parametrize("score", FEATURE_SCORES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "features, labels, match",
    [
        (GOOD_F[:, 0], GOOD_Y, r"2-D \(n, d\)"),
        (GOOD_F[None], GOOD_Y, r"2-D \(n, d\)"),
        (np.zeros((0, 3)), [], "empty"),
        (np.zeros((12, 0)), GOOD_Y, "empty"),
        (np.where(np.arange(36).reshape(12, 3) == 4, np.nan, GOOD_F), GOOD_Y, "1 NaN or infinite"),
        (np.where(np.arange(36).reshape(12, 3) < 2, np.inf, GOOD_F), GOOD_Y, "2 NaN or infinite"),
        (GOOD_F, GOOD_Y[:-1], "11 labels but features has 12 rows"),
        (GOOD_F, [7] * 12, "at least 2 target classes"),
        (GOOD_F, [0, float("nan")] * 6, "non-finite label"),
        (GOOD_F, np.zeros((12, 2)), "one-dimensional"),
    ],
)
def test_feature_scores_reject_bad_input(score, features, labels, match):
    with pytest.raises(ValueError, match=match):
        score(features, labels)


@pytest.mark.parametrize("score", FEATURE_SCORES, ids=lambda f: f.__name__)
def test_feature_scores_reject_non_numeric_features(score):
    with pytest.raises(TypeError, match="must hold numbers"):
        score([["a", "b"], ["c", "d"]], [0, 1])


def test_nleep_rejects_bad_parameters():
    with pytest.raises(ValueError, match="component_ratio must be >= 1"):
        nleep(GOOD_F, GOOD_Y, component_ratio=0)
    with pytest.raises(ValueError, match=r"variance_kept must be in \(0, 1\]"):
        nleep(GOOD_F, GOOD_Y, variance_kept=1.5)
    with pytest.raises(ValueError, match="variance_kept must be a finite number > 0"):
        nleep(GOOD_F, GOOD_Y, variance_kept=0.0)


@pytest.mark.parametrize(
    "source, target, match",
    [
        ([], [], "source_labels is empty"),
        (np.zeros((4, 2)), [0, 1, 0, 1], "one-dimensional hard labels"),
        ([0, 1, 0], [0, 1, 0, 1], "3 rows"),
        ([0, 1, 0, 1], [0, 1, 0], "3 labels but source_labels has 4 rows"),
        ([0, 1, 0, 1], ["a"] * 4, "at least 2 target classes"),
        ([0.0, float("nan"), 1.0], [0, 1, 0], "non-finite label"),
        ([0, 1, 0], [0, float("inf"), 1], "non-finite label"),
    ],
)
def test_nce_rejects_bad_input(source, target, match):
    with pytest.raises(ValueError, match=match):
        nce(source, target)


def test_nce_rejects_unhashable_source_labels():
    with pytest.raises(TypeError, match="unhashable"):
        nce([[0], [1]], [0, 1])


@pytest.mark.parametrize(
    "probs, labels, match",
    [
        ([0.2, 0.8], [0, 1], r"\(n, Z\)"),
        (np.zeros((0, 2)), [], "non-empty"),
        ([[0.2, np.nan], [0.5, 0.5]], [0, 1], "finite and non-negative"),
        ([[-0.2, 1.2], [0.5, 0.5]], [0, 1], "finite and non-negative"),
        ([[0.0, 0.0], [0.5, 0.5]], [0, 1], "row summing to 0"),
        ([[0.2, 0.8], [0.5, 0.5]], [0, 1, 0], "3 labels"),
    ],
)
def test_leep_rejects_bad_input(probs, labels, match):
    with pytest.raises(ValueError, match=match):
        leep(probs, labels)


@pytest.mark.parametrize(
    "features, labels, match",
    [
        ([1.0, 2.0, 3.0], [0, 1, 0], r"\(n, d\)"),
        ([[1.0], [2.0]], [0, 1], "n >= 3"),
        ([[1.0], [np.nan], [3.0]], [0, 1, 0], "NaN or infinite"),
        ([[1.0], [2.0], [3.0]], [0, 1], "2 labels"),
        ([[1.0], [2.0], [3.0]], [0, 0, 0], "between 2 and n - 1"),
        ([[1.0], [2.0], [3.0]], [0, 1, 2], "between 2 and n - 1"),
    ],
)
def test_silhouette_rejects_bad_input(features, labels, match):
    with pytest.raises(ValueError, match=match):
        neuralrank_silhouette(features, labels)
