"""The zoo's data: digits and Fashion-MNIST pools in one input space, and the query tasks drawn from them.

Both data sets live in one space, 14x14 grey images flattened to 196 values in
[0, 1] (Fashion-MNIST average-pooled, digits resized bilinearly), with disjoint
labels (digits 0-9, Fashion-MNIST 10-19). The pools are disjoint: the models
train on one, the market's labelled probe set is another, and query tasks come
from the third, whose rows a query does not show measure its truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SIDE = 14
FASHION_OFFSET = 10


@dataclass
class ZooData:
    """The shared-space training, probe and query pools of both data sets."""

    train: dict  # dataset -> (X, y)
    probe: tuple  # (X, y): the market's own labelled probe set
    test: dict  # dataset -> (X, y): where query tasks come from
    groups: dict  # dataset -> its classes in the shared label space


DIGITS_SOURCES = ("sklearn", "optdigits")


def load_zoo_data(per_class_train: int, per_class_probe: int, per_class_test: int, seed: int = 0, *,
                  digits: str = "sklearn", digits_probe_share: float = 0.25) -> ZooData:
    """Digits and Fashion-MNIST in the shared 14x14 space, split into train, probe and test pools.

    ``digits`` is scikit-learn's 1797 digits or all 5620 rows of UCI optdigits
    (of which scikit-learn's are the test part): 30 % of them are the test
    pool, ``digits_probe_share`` of the rest the probe pool. Fashion-MNIST's
    training and probe pools are ``per_class_*`` rows of its train set; its
    test pool is ``per_class_test`` rows of its test set, topped up with train
    rows that neither other pool holds when its 1000 a class are too few (a
    truth measured on more rows tells near-tied models apart more often).
    """
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    from .. import datasets
    from .._checks import positive_int

    per_class_train = positive_int(per_class_train, "per_class_train")
    per_class_probe = positive_int(per_class_probe, "per_class_probe")
    per_class_test = positive_int(per_class_test, "per_class_test")
    if digits not in DIGITS_SOURCES:
        raise ValueError(f"digits must be one of {DIGITS_SOURCES}, got {digits!r}")
    if not 0 < digits_probe_share < 1:
        raise ValueError(f"digits_probe_share must be in (0, 1), got {digits_probe_share!r}")
    Xd, yd = (datasets.load_optdigits if digits == "optdigits" else datasets.load_digits)(images=True)
    Xd = F.interpolate(torch.as_tensor(Xd / 16.0), size=(SIDE, SIDE), mode="bilinear",
                       align_corners=False).numpy().clip(0, 1)
    d_rest, d_test, yd_rest, yd_test = train_test_split(Xd, yd, test_size=0.3, random_state=seed, stratify=yd)
    d_train, d_probe, yd_train, yd_probe = train_test_split(d_rest, yd_rest, test_size=digits_probe_share,
                                                            random_state=seed, stratify=yd_rest)

    Xf, yf = datasets.load_fashion_mnist("train")
    Xf_test, yf_test = datasets.load_fashion_mnist("test")
    spare = max(0, per_class_test - int(np.bincount(yf_test).min()))  # test rows a class the test set lacks
    wanted, available = per_class_train + per_class_probe + spare, int(np.bincount(yf).min())
    if wanted > available:
        raise ValueError(f"Fashion-MNIST has {available} train rows a class; per_class_train ({per_class_train}), "
                         f"per_class_probe ({per_class_probe}) and the test pool's top-up ({spare}) ask for {wanted}")
    Xf, yf = datasets.stratified_subset(Xf, yf, wanted, seed)
    if spare:
        Xf, f_spare, yf, yf_spare = train_test_split(Xf, yf, test_size=spare * 10, random_state=seed, stratify=yf)
    f_train, f_probe, yf_train, yf_probe = train_test_split(Xf, yf, test_size=per_class_probe * 10,
                                                            random_state=seed, stratify=yf)
    f_test, yf_test = datasets.stratified_subset(Xf_test, yf_test, per_class_test, seed)
    if spare:
        f_test, yf_test = np.concatenate([f_test, f_spare]), np.concatenate([yf_test, yf_spare])
    pool = lambda X: datasets.pool_images(X).reshape(len(X), -1)  # noqa: E731
    flat = lambda X: np.asarray(X, dtype=np.float32).reshape(len(X), -1)  # noqa: E731

    d_train, yd_train = datasets.stratified_subset(flat(d_train), yd_train, per_class_train, seed)
    d_probe, yd_probe = datasets.stratified_subset(flat(d_probe), yd_probe, per_class_probe, seed)
    d_test, yd_test = datasets.stratified_subset(flat(d_test), yd_test, per_class_test, seed)
    o = FASHION_OFFSET
    return ZooData(
        train={"digits": (d_train, yd_train), "fashion-mnist": (pool(f_train), yf_train + o)},
        probe=(np.concatenate([d_probe, pool(f_probe)]), np.concatenate([yd_probe, yf_probe + o])),
        test={"digits": (d_test, yd_test), "fashion-mnist": (pool(f_test), yf_test + o)},
        groups={"digits": list(range(10)), "fashion-mnist": list(range(o, o + 10))},
    )


def shown_and_held(rows, shown: int, held: int | None, what: str):
    """A query's rows of one class (``what`` names it in the error): the ``shown`` ones the user labels,
    then ``held`` more (None: all the rest) that measure the truth, which no method sees."""
    if len(rows) < shown + 1:
        raise ValueError(f"{what} has {len(rows)} test rows; a query needs more")
    return rows[:shown], rows[shown:None if held is None else shown + held]


def draw_query_rows(data: ZooData, options):
    """Query tasks as ``(dataset, shown rows, held rows)``: indices into ``data.test[dataset]``, disjoint.

    ``options`` (a :class:`~.retrieval.RetrievalOptions`) gives the number of queries, rows shown per class,
    held rows per class and the seed; queries alternate between the data sets."""
    rng = np.random.default_rng(options.seed + 1)
    names = sorted(data.test)
    queries = []
    for q in range(options.queries):
        dataset = names[q % len(names)]
        y = data.test[dataset][1]
        classes = rng.choice(data.groups[dataset], size=int(rng.integers(2, 6)), replace=False)
        shown, held = [], []
        for c in classes:
            rows = rng.permutation(np.flatnonzero(y == c))
            s, h = shown_and_held(rows, options.rows_per_class, options.eval_rows_per_class, f"class {c} of {dataset}")
            shown.append(s), held.append(h)
        queries.append((dataset, np.concatenate(shown), np.concatenate(held)))
    return queries


def draw_queries(data: ZooData, options):
    """Query tasks ``(dataset, X, y, X_eval, y_eval)`` from the test pools: :func:`draw_query_rows`' rows."""
    queries = []
    for dataset, shown, held in draw_query_rows(data, options):
        X, y = data.test[dataset]
        queries.append((dataset, X[shown], y[shown], X[held], y[held]))
    return queries


def split_half_agreement(held_correct, seed: int) -> float:
    """How reproducible "the most accurate model" is: over queries, the chance that a model most accurate on
    one half of the held rows (ties broken at random) is most accurate on the other half too.

    ``held_correct`` holds one ``(models, held rows)`` boolean array per query; the halves are every other row
    of one random order. A method whose evidence is smaller or noisier than half the truth's rows cannot be
    expected to reach a higher R@1: it is the reference that says how much of a miss is the truth's own noise."""
    if not len(held_correct):
        raise ValueError("split_half_agreement needs at least one query's held rows")
    rng = np.random.default_rng(seed + 3)
    hits = []
    for correct in held_correct:
        correct = np.asarray(correct, dtype=bool)
        if correct.ndim != 2 or correct.shape[1] < 2:
            raise ValueError(f"each query needs a (models, rows >= 2) array, got shape {correct.shape}")
        order = rng.permutation(correct.shape[1])
        a, b = correct[:, order[0::2]].mean(axis=1), correct[:, order[1::2]].mean(axis=1)
        picked = np.flatnonzero(a >= a.max() - 1e-12)
        hits.append(float(np.mean(b[picked] >= b.max() - 1e-12)))
    return float(np.mean(hits))
