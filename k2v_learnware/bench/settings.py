"""The data of the reuse benchmark: each data set split into developer tasks and a user pool.

Developer tasks are disjoint groups of classes. A developer trains on the
training split of their classes; users draw their rows from the test split, so
no user row was ever seen by a model or a specification.

- ``digits``: scikit-learn's 8x8 digits, 64-d in [0, 1]; 5 tasks of 2 classes.
- ``fashion-mnist``: Fashion-MNIST average-pooled to 14x14, 196-d in [0, 1]; 5 tasks
  of 2 classes (pooling keeps the package's JobSelectorReuser, whose herding is
  cubic in its sample count, affordable for every user).
- ``bbc-news``: BBC News articles as 384-d all-MiniLM-L6-v2 embeddings; 2 tasks
  (business, politics, tech / entertainment, sports), since 5 classes give no more
  disjoint groups that an SVM can learn.
- ``fashion-digits-efficientnet``: the larger setting of the LANE paper's form
  (a fixed pretrained feature extractor, at least 10 learnwares): Fashion-MNIST
  (labels 0-9) and the 8x8 digits (labels 10-19) as EfficientNet-Lite0 features
  (1280-d, then one PCA to 128-d) in one space; 10 tasks of 2 classes, users
  mixing up to all ten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "fashion-mnist", "bbc-news", "fashion-digits-efficientnet")
#: Settings with many tasks: a full run draws 50 users per mixture count, as the paper does (see ReuseOptions.full).
LARGE_SETTINGS = ("fashion-digits-efficientnet",)
#: Dimensions the EfficientNet-Lite0 features are projected to (PCA) in ``fashion-digits-efficientnet``.
EFFICIENTNET_DIMS = 128


@dataclass
class ReuseSetting:
    """Training and test data of one data set, its developer tasks and the size of a user's data."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    tasks: list[tuple[int, ...]]
    user_rows: int
    description: str

    def task_rows(self, task: int, split: str = "train") -> np.ndarray:
        """Row indices of ``task``'s classes in the ``"train"`` or ``"test"`` split."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        y = self.y_train if split == "train" else self.y_test
        return np.flatnonzero(np.isin(y, self.tasks[task]))


def _split(X, y, test_size, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def load_setting(dataset: str, quick: bool = False, seed: int = 0, verbose: bool = True) -> ReuseSetting:
    """The :class:`ReuseSetting` of ``dataset``; ``quick`` uses a small share of the data."""
    from .. import datasets

    if dataset == "digits":
        X, y = datasets.load_digits()
        Xtr, Xte, ytr, yte = _split(X / 16.0, y, 0.4, seed)
        return ReuseSetting("digits", Xtr, ytr, Xte, yte, [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)],
                            user_rows=60 if quick else 100,
                            description="sklearn digits 8x8 (64-d, [0, 1]), 60/40 split, 5 tasks of 2 classes")
    if dataset == "fashion-mnist":
        per_class_train, per_class_test = (150, 60) if quick else (1000, 400)
        Xtr, ytr = datasets.load_fashion_mnist("train")
        Xte, yte = datasets.load_fashion_mnist("test")
        Xtr, ytr = datasets.stratified_subset(Xtr, ytr, per_class_train, seed)
        Xte, yte = datasets.stratified_subset(Xte, yte, per_class_test, seed)
        pool = lambda X: datasets.pool_images(X).reshape(len(X), -1)  # noqa: E731
        return ReuseSetting("fashion-mnist", pool(Xtr), ytr, pool(Xte), yte,
                            [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)], user_rows=100 if quick else 300,
                            description=f"Fashion-MNIST pooled to 14x14 (196-d, [0, 1]), {per_class_train} train "
                                        f"and {per_class_test} test images per class, 5 tasks of 2 classes")
    if dataset == "bbc-news":
        X, y = datasets.load_bbc_news(per_class=40 if quick else None, verbose=verbose)
        Xtr, Xte, ytr, yte = _split(X, y, 0.5, seed)
        return ReuseSetting("bbc-news", Xtr, ytr, Xte, yte, [(0, 2, 4), (1, 3)], user_rows=60 if quick else 200,
                            description="BBC News, 384-d all-MiniLM-L6-v2 embeddings, 50/50 split, tasks "
                                        "{business, politics, tech} and {entertainment, sports}")
    if dataset == "fashion-digits-efficientnet":
        return _fashion_digits_efficientnet(quick, seed, verbose)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def _fashion_digits_efficientnet(quick: bool, seed: int, verbose: bool) -> ReuseSetting:
    """Fashion-MNIST and digits images through EfficientNet-Lite0 (features cached on disk)."""
    from .. import datasets

    per_class_train, per_class_test = (20, 10) if quick else (500, 250)
    Ftr, ytr_f = datasets.stratified_subset(*datasets.load_fashion_mnist("train"), per_class_train, seed)
    Fte, yte_f = datasets.stratified_subset(*datasets.load_fashion_mnist("test"), per_class_test, seed)
    D, yd = datasets.load_digits(images=True)
    Dtr, Dte, ytr_d, yte_d = _split(np.clip(D[:, 0] * 16, 0, 255), yd, 0.4, seed)
    if quick:
        Dtr, ytr_d = datasets.stratified_subset(Dtr, ytr_d, per_class_train, seed)
        Dte, yte_d = datasets.stratified_subset(Dte, yte_d, per_class_test, seed)
    features = lambda images: datasets.image_features(images, verbose=verbose)  # noqa: E731
    X_train = np.concatenate([features(Ftr[:, 0] * 255), features(Dtr)])
    X_test = np.concatenate([features(Fte[:, 0] * 255), features(Dte)])
    y_train, y_test = np.concatenate([ytr_f, ytr_d + 10]), np.concatenate([yte_f, yte_d + 10])
    # One fixed projection for everyone, as the paper's 64-d ResNet110 features are: the market's PCA of the
    # developers' training features (1280-d made the package's JobSelectorReuser, a LightGBM grid search,
    # take minutes per user).
    from sklearn.decomposition import PCA

    pca = PCA(n_components=EFFICIENTNET_DIMS, random_state=seed).fit(X_train)
    X_train, X_test = pca.transform(X_train).astype(np.float32), pca.transform(X_test).astype(np.float32)
    return ReuseSetting("fashion-digits-efficientnet", X_train, y_train, X_test, y_test,
                        [(2 * t, 2 * t + 1) for t in range(10)], user_rows=60 if quick else 300,
                        description=f"Fashion-MNIST ({per_class_train} train / {per_class_test} test images per "
                                    f"class, labels 0-9) and sklearn digits ({'the same' if quick else '60/40 split'}"
                                    f", labels 10-19) as EfficientNet-Lite0 features (64 px, ImageNet "
                                    f"weights, 1280-d, PCA to {EFFICIENTNET_DIMS} on the training split), "
                                    f"10 tasks of 2 classes")
