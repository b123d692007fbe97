"""LANE condensation does what Eq. 7 promises, measured on real data (digits).

Each comparison pits the condensed set against the random real samples it
started from (same seed, zero iterations), so the only difference is the
optimisation.
"""

import numpy as np
import pytest
from sklearn.svm import SVC

from k2v_learnware import generate_lane_spec
from k2v_learnware.specification.networks import EmbeddingConfig, RandomEmbedding

from .conftest import as_images

SEEDS = (0, 1, 2)
# Small sizes keep the suite fast; the images run fewer iterations on smaller batches.
SETTINGS = {
    "vectors": dict(iterations=200, batch_real=128),
    "images": dict(iterations=100, batch_real=64),
}
HELD_OUT_SEED = 987_654  # a family never drawn during condensation


def _pair(kind, X, y, seed):
    data = as_images(X) if kind == "images" else X
    start = generate_lane_spec(data, y, iterations=0, init="real", seed=seed, verbose=False)
    condensed = generate_lane_spec(data, y, init="real", seed=seed, verbose=False, **SETTINGS[kind])
    return start, condensed


@pytest.fixture(scope="module", params=["vectors", "images"])
def condensed_pairs(request, digits):
    Xtr, _, ytr, _ = digits
    return request.param, [_pair(request.param, Xtr, ytr, s) for s in SEEDS]


def test_start_is_real_samples(condensed_pairs, digits):
    Xtr = digits[0]
    kind, pairs = condensed_pairs
    start = pairs[0][0].get_z().reshape(-1, 64)
    rows = {tuple(r) for r in Xtr}
    assert all(tuple(r) in rows for r in start)


def test_condensed_closer_to_held_out_data_under_unseen_networks(condensed_pairs, digits):
    _, Xte, _, yte = digits
    kind, pairs = condensed_pairs
    held = as_images(Xte) if kind == "images" else Xte
    config = EmbeddingConfig.default_for(held.shape[1:])
    family = RandomEmbedding(config, seed=HELD_OUT_SEED, num_nets=8)
    better, gaps = 0, []
    total = 0
    for start, condensed in pairs:
        for label in condensed.classes:
            real = held[yte == label]
            s_rows, c_rows = start.get_labels() == label, condensed.get_labels() == label
            e_real, e_start, e_cond = family.embed(
                [real, start.get_z()[s_rows], condensed.get_z()[c_rows]], reference=held
            )
            mmd_start = np.sum((e_real.mean(0) - e_start.mean(0)) ** 2)
            mmd_cond = np.sum((e_real.mean(0) - e_cond.mean(0)) ** 2)
            better += mmd_cond < mmd_start
            gaps.append(mmd_start - mmd_cond)
            total += 1
    # Every seed and class: the condensed set should win nearly always, and clearly on average.
    assert better >= 0.9 * total, f"condensed closer for only {better}/{total} classes"
    assert np.mean(gaps) > 0


def test_svm_on_condensed_at_least_as_accurate_as_on_random_real(condensed_pairs, digits):
    _, Xte, _, yte = digits
    kind, pairs = condensed_pairs
    acc_start, acc_cond = [], []
    for start, condensed in pairs:
        for spec, accs in ((start, acc_start), (condensed, acc_cond)):
            z = spec.get_z().reshape(len(spec.get_z()), -1)
            accs.append(SVC().fit(z, spec.get_labels()).score(Xte, yte))
    assert np.mean(acc_cond) >= np.mean(acc_start), (acc_start, acc_cond)
