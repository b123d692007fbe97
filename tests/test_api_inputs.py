"""Public API calls that once failed on valid input or left an object changed by a failed call (fast)."""

from __future__ import annotations

import numpy as np

from k2v_learnware import generate_lane_spec


def _rows(n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32), np.arange(n) % 3


def test_an_mlp_spec_over_images_of_one_pixel_is_built():
    X, y = _rows(d=16)
    spec = generate_lane_spec(X.reshape(-1, 16, 1, 1), y, num_per_class=2, iterations=1, embedding="mlp",
                              verbose=False)
    assert spec.embedding["kind"] == "mlp" and spec.input_shape == (16, 1, 1)


def test_a_failed_build_leaves_the_spec_as_it_was():
    import pytest

    X, y = _rows()
    spec = generate_lane_spec(X, y, num_per_class=2, iterations=1, verbose=False)
    before = spec.to_dict()
    with pytest.raises(ValueError, match="diverged"):
        spec.generate_stat_spec_from_data(X * 1e30, y, num_per_class=2, iterations=2, num_nets=3, verbose=False)
    assert spec.num_nets == spec.embedding["num_nets"] == 8 and spec.to_dict() == before


def test_reuse_weights_as_large_as_a_float_are_shared_out_not_lost():
    from learnware.learnware import Learnware
    from learnware.specification import Specification
    from sklearn.linear_model import LogisticRegression

    from k2v_learnware.reuse import LANEJobSelectorReuser

    X, y = _rows()
    spec = generate_lane_spec(X, y, num_per_class=2, iterations=1, verbose=False)
    learnware = Learnware("lw", LogisticRegression().fit(X, y), Specification(stat_spec={"LANESpecification": spec}),
                          "")
    reuser = LANEJobSelectorReuser([learnware, learnware], [1e308, 1e308])
    assert np.allclose(reuser.chosen_weights(X), [0.5, 0.5])  # the sum overflowed: [1, 0] before


def test_scale_free_transferability_scores_do_not_depend_on_extreme_scales():
    from k2v_learnware.retrieval.transferability import h_score, leep, neuralrank_silhouette, nleep

    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(30, 4)), np.arange(30) % 3
    for score in (h_score, nleep, neuralrank_silhouette):  # 1e200 overflowed or read as constant, 1e-300 as zero
        reference = score(F, y)
        assert np.allclose([score(F * 1e200, y), score(F * 1e-300, y)], reference), score.__name__
    probs = rng.random((30, 3))
    assert np.isclose(leep(probs * 1e308, y), leep(probs, y))  # rows of 1e308 summed to inf: -690 before
