"""The Know2Vec paper's retrieval setting: every model on a task of its own, every query from one model's task.

Know2Vec's Table 1 builds its hub as TANS does: each of 58 models is trained on
a data set of its own, and each of 232 query tasks is new data of one model's
task, whose truth is that model. Here a task is 4 classes of digits or of
Fashion-MNIST in the zoo's shared 14x14 space (:mod:`.zoo`); no two models share
a class set, the model kinds (logistic regression, RBF SVM, MLP, small CNN)
take turns, and each model learns from its own random share of its classes'
training rows. A query shows new test rows of every class of one model's task;
other test rows of the same classes give each model's accuracy, for top-1
accuracy and the correlations, and say how often the source model is in fact
the most accurate one.
"""

from __future__ import annotations

import numpy as np

from .zoo import KINDS, ZooModel, make_estimator
from .zoo_data import ZooData, shown_and_held

CLASSES_PER_TASK = 4


def draw_task_class_sets(groups: dict, count: int, seed: int = 0) -> list[tuple[str, tuple]]:
    """``count`` distinct ``(dataset, classes)`` tasks of 4 classes, data sets taking turns."""
    from math import comb

    names = sorted(groups)
    capacity = {n: comb(len(groups[n]), CLASSES_PER_TASK) for n in names}
    wanted = {n: count // len(names) + (i < count % len(names)) for i, n in enumerate(names)}
    short = [n for n in names if wanted[n] > capacity[n]]
    if short:
        raise ValueError(f"{short[0]} has only {capacity[short[0]]} distinct {CLASSES_PER_TASK}-class tasks; "
                         f"{wanted[short[0]]} were asked for")
    rng = np.random.default_rng([seed, 3])
    tasks = {n: [] for n in names}
    for n in names:
        seen = set()
        while len(tasks[n]) < wanted[n]:
            classes = tuple(sorted(int(c) for c in rng.choice(groups[n], size=CLASSES_PER_TASK, replace=False)))
            if classes not in seen:
                seen.add(classes)
                tasks[n].append(classes)
    return [(n, tasks[n][i]) for i in range(max(wanted.values())) for n in names if i < wanted[n]]


def build_task_zoo(data: ZooData, count: int, seed: int = 0, verbose: bool = True) -> list[ZooModel]:
    """One model per task of :func:`draw_task_class_sets`, kinds in turn, each on its own share of the rows."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from .._progress import progress

    rng = np.random.default_rng([seed, 4])
    models = []
    tasks = draw_task_class_sets(data.groups, count, seed)
    for i, (dataset, classes) in enumerate(progress(tasks, verbose=verbose, desc="model zoo")):
        kind = KINDS[i % len(KINDS)]
        X, y = data.train[dataset]
        rows = np.flatnonzero(np.isin(y, classes))
        rows = rng.choice(rows, size=int(len(rows) * rng.uniform(0.5, 1.0)), replace=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator = make_estimator(kind, seed + i).fit(X[rows], y[rows])
        name = f"{dataset}/{'-'.join(map(str, classes))}/{kind}"
        models.append(ZooModel(name, kind, dataset, classes, estimator))
    return models


def draw_model_queries(data: ZooData, models: list[ZooModel], per_model: int, rows_per_class: int,
                       eval_rows_per_class: int | None, seed: int = 0):
    """``per_model`` query tasks of each model's classes: ``(source, X, y, X_eval, y_eval)``, rows disjoint."""
    rng = np.random.default_rng([seed, 5])
    queries = []
    for source, model in enumerate(models):
        X, y = data.test[model.dataset]
        for _ in range(per_model):
            shown, held = [], []
            for c in model.classes:
                rows = rng.permutation(np.flatnonzero(y == c))
                s, h = shown_and_held(rows, rows_per_class, eval_rows_per_class, f"class {c} of {model.dataset}")
                shown.append(s), held.append(h)
            shown, held = np.concatenate(shown), np.concatenate(held)
            queries.append((source, X[shown], y[shown], X[held], y[held]))
    return queries
