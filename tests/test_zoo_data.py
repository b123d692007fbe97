"""The retrieval zoo's data: UCI optdigits in full, and the checks on how the zoo splits it."""

from dataclasses import replace

import numpy as np
import pytest

from k2v_learnware import datasets
from k2v_learnware.bench.retrieval import RetrievalOptions
from k2v_learnware.bench.zoo_data import (FASHION_OFFSET, draw_queries, draw_query_rows, load_zoo_data,
                                         shown_and_held, split_half_agreement)


def test_optdigits_holds_every_row_of_scikit_learns_digits():
    X, y = datasets.load_optdigits()
    assert X.shape == (5620, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.bincount(y).min() > 500
    digits, labels = datasets.load_digits()
    rows = {(bytes(r.astype(np.uint8)), int(c)) for r, c in zip(X, y)}
    assert all((bytes(r.astype(np.uint8)), int(c)) in rows for r, c in zip(digits, labels))
    assert datasets.load_optdigits(images=True)[0].shape == (5620, 1, 8, 8)


def test_zoo_data_refuses_an_unknown_digits_source_or_probe_share():
    with pytest.raises(ValueError, match="digits must be one of"):
        load_zoo_data(10, 10, 10, digits="mnist")
    for share in (0, 1, -0.5):
        with pytest.raises(ValueError, match="digits_probe_share"):
            load_zoo_data(10, 10, 10, digits_probe_share=share)


def test_a_query_shows_some_rows_and_measures_the_truth_on_the_rest():
    rows = np.arange(10)
    shown, held = shown_and_held(rows, 3, None, "class 1")
    assert shown.tolist() == [0, 1, 2] and held.tolist() == list(range(3, 10))
    assert shown_and_held(rows, 3, 4, "class 1")[1].tolist() == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="class 7 of digits has 10 test rows; a query needs more"):
        shown_and_held(rows, 10, None, "class 7 of digits")


def test_split_half_agreement_says_how_reproducible_the_truths_best_model_is():
    rng = np.random.default_rng(0)
    clear = [rng.random((4, 400)) < np.array([[0.95], [0.6], [0.6], [0.6]]) for _ in range(10)]
    assert split_half_agreement(clear, seed=0) == 1.0  # one model far ahead: both halves name it
    alike = [rng.random((5, 400)) < 0.9 for _ in range(200)]  # five equal models: a pick is one of five
    assert 0.1 < split_half_agreement(alike, seed=0) < 0.35
    assert split_half_agreement([np.ones((3, 6), bool)], seed=0) == 1.0  # all tied on both halves: any pick is best
    assert split_half_agreement(alike, seed=1) != split_half_agreement(alike, seed=2)  # the halves follow the seed
    for bad in ([np.ones((3, 1), bool)], [np.ones(5, bool)]):
        with pytest.raises(ValueError, match="rows >= 2"):
            split_half_agreement(bad, seed=0)
    with pytest.raises(ValueError, match="at least one query"):
        split_half_agreement([], seed=0)


@pytest.mark.skipif(not datasets.FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_optdigits_pools_are_disjoint_and_every_unshown_test_row_is_held():
    options = RetrievalOptions(per_class_train=60, per_class_probe=40, per_class_test=1000, queries=4,
                               rows_per_class=10, digits="optdigits", digits_probe_share=0.4)
    data = options.zoo_data()
    train, probe, test = data.train["digits"][0], data.probe[0][data.probe[1] < FASHION_OFFSET], data.test["digits"][0]
    keys = [{r.tobytes() for r in pool} for pool in (train, probe, test)]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert len(probe) == 400 and len(test) > 1600  # 40 a class; 30 % of 5620 rows
    for dataset, X, y, X_held, y_held in draw_queries(data, options):
        pool_y = data.test[dataset][1]
        assert len(y_held) == sum(int((pool_y == c).sum()) - 10 for c in np.unique(y))
        assert not {r.tobytes() for r in X} & {r.tobytes() for r in X_held}


def test_the_wide_query_set_starts_with_the_tables_queries():
    """The cheap methods' wider set of queries holds the table's queries first, row for row."""
    options = RetrievalOptions(per_class_train=60, per_class_probe=40, per_class_test=100, queries=6, wide_queries=20,
                               rows_per_class=10)
    data = options.zoo_data()
    table, wide = draw_query_rows(data, options), draw_query_rows(data, replace(options, queries=20))
    assert len(table) == 6 and len(wide) == 20 and len({len(h) for _, _, h in wide}) > 1
    for (dataset, shown, held), (wide_dataset, wide_shown, wide_held) in zip(table, wide):
        assert dataset == wide_dataset and np.array_equal(shown, wide_shown) and np.array_equal(held, wide_held)
    assert RetrievalOptions().wide_queries == 400 and RetrievalOptions(protocol="paper").wide_queries == 0
    with pytest.raises(ValueError, match="must be at least queries"):
        RetrievalOptions(queries=80, wide_queries=40)
    with pytest.raises(ValueError, match="best-model protocol only"):
        RetrievalOptions(protocol="paper", wide_queries=400)
    with pytest.raises(TypeError, match="wide_queries"):
        RetrievalOptions(wide_queries=400.5)
    with pytest.raises(ValueError, match="queries"):
        RetrievalOptions(queries=0)


@pytest.mark.skipif(not datasets.FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_fashion_test_pool_is_topped_up_with_train_rows_no_other_pool_holds():
    def keys(X):
        return {r.tobytes() for r in X}

    def fashion(data):
        probe = data.probe[0][data.probe[1] >= FASHION_OFFSET]
        return data.train["fashion-mnist"], probe, data.test["fashion-mnist"]

    (train, y_train), probe, (test, y_test) = fashion(load_zoo_data(30, 20, 1050, seed=2))
    assert np.bincount(y_test - FASHION_OFFSET).tolist() == [1050] * 10 and len(train) == 300 and len(probe) == 200
    assert not (keys(train) & keys(probe) or keys(train) & keys(test) or keys(probe) & keys(test))
    assert len(keys(test)) == len(test)  # the top-up repeats none of the test set's own rows
    # up to the test set's 1000 rows a class nothing is topped up: the pools are those of the plain split
    (train_a, _), probe_a, (test_a, _) = fashion(load_zoo_data(30, 20, 1000, seed=2))
    (train_b, _), probe_b, (test_b, _) = fashion(load_zoo_data(30, 20, 900, seed=2))
    assert np.array_equal(train_a, train_b) and np.array_equal(probe_a, probe_b) and len(test_a) == 10000
    with pytest.raises(ValueError, match="6000 train rows a class"):
        load_zoo_data(3000, 2000, 2500)
    for bad, error in ((0, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="per_class_test"):
            load_zoo_data(10, 10, bad)
