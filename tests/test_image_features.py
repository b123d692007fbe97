"""The packaged EfficientNet-Lite0 as a fixed feature extractor, and the 10-task reuse setting built on it."""

import numpy as np
import pytest

from k2v_learnware import datasets
from k2v_learnware.datasets import FASHION_MNIST_DIR


@pytest.fixture(scope="module")
def digit_images():
    X, y = datasets.load_digits(images=True)
    return np.clip(X[:60, 0] * 16, 0, 255), y[:60]


def test_features_are_pretrained_cached_and_recomputed_when_the_cache_is_damaged(tmp_path, digit_images):
    images, y = digit_images
    first = datasets.image_features(images, cache_dir=tmp_path, verbose=False)
    assert first.shape == (60, 1280) and first.dtype == np.float32 and np.all(np.isfinite(first))
    # ImageNet features separate the digits far better than chance (10 classes) on 60 images
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    assert cross_val_score(KNeighborsClassifier(3), first, y, cv=3).mean() > 0.6
    (cached,) = tmp_path.glob("efficientnet-lite0-64px-*.npz")
    with np.load(cached, allow_pickle=False) as data:
        assert np.array_equal(data["X"], first)
    np.savez(cached, X=np.zeros((3, 1280), np.float32))  # wrong shape: not trusted, recomputed
    again = datasets.image_features(images, cache_dir=tmp_path, verbose=False)
    assert np.allclose(again, first, atol=1e-5)
    other = datasets.image_features(images[:10], cache_dir=tmp_path, verbose=False)  # other images, other file
    assert np.allclose(other, first[:10], atol=1e-4) and len(list(tmp_path.glob("*.npz"))) == 2


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 8)), "(n, h, w)"),
    (np.zeros((0, 8, 8)), "non-empty"),
    (np.full((2, 8, 8), 300.0), "0..255"),
    (np.full((2, 8, 8), np.nan), "0..255"),
])
def test_bad_images_are_refused(tmp_path, images, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        datasets.image_features(images, cache_dir=tmp_path, verbose=False)


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST (Debian package dataset-fashion-mnist) is not installed")
def test_the_ten_task_setting_puts_both_data_sets_in_one_feature_space():
    from k2v_learnware.bench.reuse import ReuseOptions
    from k2v_learnware.bench.settings import EFFICIENTNET_DIMS, load_setting

    setting = load_setting("fashion-digits-efficientnet", quick=True, verbose=False)
    assert setting.X_train.shape[1] == setting.X_test.shape[1] == EFFICIENTNET_DIMS
    assert len(setting.tasks) == 10 and sorted(c for t in setting.tasks for c in t) == list(range(20))
    assert set(np.unique(setting.y_train)) == set(np.unique(setting.y_test)) == set(range(20))
    assert np.bincount(setting.y_train).min() == 20 and np.bincount(setting.y_test).min() == 10
    # each task's rows are its two classes only, and train and test rows never coincide
    rows = setting.task_rows(7, "test")
    assert set(setting.y_test[rows]) == {14, 15}
    assert not (set(map(bytes, setting.X_train)) & set(map(bytes, setting.X_test)))
    full = ReuseOptions.full(0, "fashion-digits-efficientnet")
    small = ReuseOptions.full(0, "digits")
    assert full.users_per_count == small.users_per_count == 50
    assert full.lane_sizes == (10,) and len(small.lane_sizes) > 1 and full.jobselector_users < small.jobselector_users
