"""A model zoo for retrieval: four kinds of classifier on class subsets of two image data sets.

Every model lives in one input space, 14x14 grey images flattened to 196
values in [0, 1]: Fashion-MNIST average-pooled, digits (8x8) resized
bilinearly. Labels are disjoint across data sets (digits 0-9, Fashion-MNIST
10-19), so a model of one data set scores 0 on a task of the other. As in
neuralRank's zoo, each data set gives models on all its classes, the first half,
the second half, and more subsets; each subset gets a logistic regression, an RBF
SVM, an MLP and a small CNN.

A model exposes ``predict``, ``predict_proba``, ``classes_`` and ``features``
(what the feature-based scores read: the CNN's and MLP's last hidden layer, the
class probabilities of the linear models and the SVM). The data pools and the
query tasks are :mod:`.zoo_data`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..specification.know2vec import BOUNDARY_QUERIES  # the bisections' budget beyond the probe set
from .zoo_data import SIDE, ZooData

KINDS = ("logreg", "svm", "mlp", "cnn")


class SmallCNN(nn.Module):
    """Two conv blocks and a 64-unit hidden layer for 1x14x14 inputs."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 3 * 3, 64), nn.ReLU())
        self.head = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.head(self.body(x))


class CNNClassifier:
    """scikit-learn style wrapper of :class:`SmallCNN` (Adam, cross-entropy, seeded)."""

    def __init__(self, epochs: int = 15, lr: float = 3e-3, batch_size: int = 64, seed: int = 0):
        self.epochs, self.lr, self.batch_size, self.seed = epochs, lr, batch_size, seed

    def _tensor(self, X):
        return torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(len(X), 1, SIDE, SIDE))

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        target = torch.as_tensor(np.searchsorted(self.classes_, y))
        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng():  # seeded weights without touching the caller's global RNG
            torch.manual_seed(self.seed)
            self.net_ = SmallCNN(len(self.classes_))
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        inputs = self._tensor(X)
        self.net_.train()
        for _ in range(self.epochs):
            for batch in torch.randperm(len(inputs), generator=generator).split(self.batch_size):
                loss = nn.functional.cross_entropy(self.net_(inputs[batch]), target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.net_.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, X):
        return torch.softmax(self.net_(self._tensor(X)), dim=1).numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    @torch.no_grad()
    def features(self, X):
        return self.net_.body(self._tensor(X)).numpy()


def _features(model, X):
    """The representation feature-based transferability scores read."""
    if hasattr(model, "features"):
        return model.features(X)
    if hasattr(model, "coefs_"):  # sklearn MLP: its last hidden layer
        activation = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "identity": lambda v: v,
                      "logistic": lambda v: 1 / (1 + np.exp(-v))}[model.activation]
        h = np.asarray(X, dtype=np.float64)
        for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
            h = activation(h @ W + b)
        return h
    return model.predict_proba(X)


@dataclass
class ZooModel:
    name: str
    kind: str
    dataset: str
    classes: tuple
    estimator: object

    def predict(self, X):
        return self.estimator.predict(X)

    def predict_proba(self, X):
        return self.estimator.predict_proba(X)

    @property
    def classes_(self):
        return self.estimator.classes_

    def features(self, X):
        return _features(self.estimator, X)


def class_subsets(classes: list, quick: bool) -> dict:
    """Named class subsets: all, first half, second half (and, in full runs, evens and odds)."""
    half = len(classes) // 2
    subsets = {"all": classes, "first-half": classes[:half], "second-half": classes[half:]}
    if not quick:
        subsets.update({"evens": classes[0::2], "odds": classes[1::2]})
    return subsets


def make_estimator(kind: str, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    if kind == "logreg":
        return LogisticRegression(max_iter=300)
    if kind == "svm":
        return SVC(probability=True, random_state=seed)
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
    if kind == "cnn":
        return CNNClassifier(seed=seed)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def build_zoo(data: ZooData, quick: bool, seed: int = 0, verbose: bool = True) -> list[ZooModel]:
    """Train every (data set, subset, kind) model of the zoo on its own random share of the training pool."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from .._progress import progress

    jobs = [(dataset, name, subset, kind) for dataset, classes in data.groups.items()
            for name, subset in class_subsets(classes, quick).items() for kind in KINDS]
    rng = np.random.default_rng(seed)
    models = []
    for dataset, name, subset, kind in progress(jobs, verbose=verbose, desc="model zoo"):
        X, y = data.train[dataset]
        rows = np.flatnonzero(np.isin(y, subset))
        rows = rng.choice(rows, size=int(len(rows) * rng.uniform(0.5, 1.0)), replace=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator = make_estimator(kind, seed).fit(X[rows], y[rows])
        models.append(ZooModel(f"{dataset}/{name}/{kind}", kind, dataset, tuple(subset), estimator))
    return models


def know2vec_spec_on_probe(model, probe_X):
    """``model``'s Know2Vec specification on the market's probe set. The probe set is the market's own and any
    size; the query cap bounds only what the boundary bisections add to it (as the spec's default does for a
    probe set of at most a few thousand rows)."""
    from ..specification.know2vec import generate_know2vec_spec

    return generate_know2vec_spec(model, probe_X, max_queries=len(probe_X) + BOUNDARY_QUERIES)


def zoo_with_know2vec_specs(options, verbose: bool = False):
    """``(data, models, specs)``: the zoo ``options`` (a :class:`~.retrieval.RetrievalOptions`) describe and
    each model's Know2Vec specification on the probe set, as the retrieval bench builds them; where the proxy
    benchmarks (``benchmarks/proxy_*.py``) start."""
    data = options.zoo_data()
    models = build_zoo(data, options.small_zoo, options.seed, verbose)
    return data, models, [know2vec_spec_on_probe(model, data.probe[0]) for model in models]


def bench_zoo(seed: int = 0, quick: bool = False):
    """``(options, data, models, specs)``: the best-model retrieval bench's zoo at ``seed`` (its ``--quick`` sizes
    with ``quick``) and its Know2Vec specifications, learnware's logging at warnings; where the proxy benchmarks
    (``benchmarks/proxy_*.py``) start."""
    import logging

    import learnware

    from .retrieval import RetrievalOptions

    learnware.init(logging_level=logging.WARNING)
    options = (RetrievalOptions.quick if quick else RetrievalOptions.full)(seed)
    return (options, *zoo_with_know2vec_specs(options))
