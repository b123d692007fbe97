"""Real data sets that load with no network: the ones the demo, tests and benchmarks use.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 samples, 10 classes, values 0..16).
- ``fashion-mnist``: Fashion-MNIST from the Debian package ``dataset-fashion-mnist``
  (60000 + 10000 images of 28x28, 10 classes, values 0..255).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Digits as ``(X, y)``: X is ``(1797, 64)`` float32, or ``(1797, 1, 8, 8)`` with ``images=True``."""
    from sklearn.datasets import load_digits as _load

    X, y = _load(return_X_y=True)
    X = X.astype(np.float32)
    return (X.reshape(-1, 1, 8, 8) if images else X), y


def read_idx(path) -> np.ndarray:
    """Read an MNIST-style IDX file (optionally gzipped) into a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(split: str = "train", images: bool = True, root=FASHION_MNIST_DIR):
    """Fashion-MNIST ``(X, y)`` of one split; X is float32 in 0..1, ``(n, 1, 28, 28)`` or ``(n, 784)``."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    images_file = root / f"{prefix}-images-idx3-ubyte.gz"
    if not images_file.is_file():
        raise FileNotFoundError(
            f"Fashion-MNIST not found at {root}; install it with `apt-get install dataset-fashion-mnist`"
        )
    X = read_idx(images_file).astype(np.float32) / 255.0
    y = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return (X[:, None] if images else X.reshape(len(X), -1)), y


def stratified_subset(X, y, per_class: int, seed: int = 0):
    """``per_class`` random samples of every class (all of a class if it has fewer)."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([
        rng.choice(np.flatnonzero(y == c), size=min(per_class, int(np.sum(y == c))), replace=False)
        for c in np.unique(y)
    ])
    idx.sort()
    return X[idx], y[idx]
