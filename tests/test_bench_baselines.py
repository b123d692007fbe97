"""The RKME-route baselines of the reuse benchmark and the LANE single ranking used for retrieval."""

import numpy as np
import pytest

from k2v_learnware.bench import rkme_baselines as rb


def test_median_gamma_is_one_over_the_median_squared_distance():
    X = np.array([[0.0], [1.0], [3.0]])  # squared distances 1, 9, 4 -> median 4
    assert rb.median_gamma(X) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="every row is the same"):
        rb.median_gamma(np.ones((4, 2)))


def test_rkme_weights_recover_a_mixture_and_refuse_mixed_gammas():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (300, 4)), rng.normal(6, 1, (300, 4))
    gamma = rb.median_gamma(np.vstack([a, b]))
    specs = [rb.rkme_spec(a, gamma, 20), rb.rkme_spec(b, gamma, 20)]
    user = rb.rkme_spec(np.vstack([a[:210], b[:90]]), gamma, 20)
    w = rb.rkme_weights(user, specs)
    assert w.sum() == pytest.approx(1.0) and np.abs(w - [0.7, 0.3]).sum() < 0.1
    with pytest.raises(ValueError, match="different kernel widths"):
        rb.rkme_weights(rb.rkme_spec(a, 0.1, 20), specs)


class _Const:
    classes_ = np.array([0, 1])

    def __init__(self, label, confidence):
        self.label, self.confidence = label, confidence

    def predict(self, X):
        return np.full(len(X), self.label)

    def predict_proba(self, X):
        p = np.full((len(X), 2), 1 - self.confidence)
        p[:, self.label] = self.confidence
        return p


def test_max_and_oracle_by_hand():
    X = np.zeros((3, 2))
    models = [_Const(0, 0.6), _Const(1, 0.9)]
    assert rb.max_confidence_predict(models, X).tolist() == [1, 1, 1]
    assert rb.oracle_predict(models, X, [0, 1, 0]).tolist() == [0, 1, 0]


def test_single_lightgbm_thread_inside_the_block_only():
    import lightgbm

    original = lightgbm.LGBMClassifier
    with rb.single_thread_lightgbm():
        assert lightgbm.LGBMClassifier().get_params()["n_jobs"] == 1
        assert lightgbm.LGBMClassifier(n_jobs=2).get_params()["n_jobs"] == 2
    assert lightgbm.LGBMClassifier is original


def test_single_residuals_rank_the_source_learnware_first():
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.datasets import load_digits
    from k2v_learnware.search import single_residuals

    X, y = load_digits()
    tasks = [(0, 1), (2, 3), (4, 5)]
    specs = [generate_lane_spec(X[np.isin(y, t)][::2], y[np.isin(y, t)][::2], num_per_class=5, iterations=30,
                                verbose=False) for t in tasks]
    for i, t in enumerate(tasks):
        residuals = single_residuals(X[np.isin(y, t)][1::2], specs)
        assert residuals.shape == (3,) and int(np.argmin(residuals)) == i
    with pytest.raises(ValueError, match="feature dimensions differ"):
        single_residuals(X[:, :10], specs)
