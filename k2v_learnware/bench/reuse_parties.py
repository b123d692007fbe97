"""The parties of a reuse run: the developers' models and the users who mix their tasks.

Shared by :mod:`.reuse` and the scripts in ``benchmarks/`` that study one part of
the reuse route (label shift, specification time, paired users): each builds the
same developers and draws the same users from one seed, so their numbers are
comparable with the reuse table's.
"""

from __future__ import annotations

import numpy as np

from .settings import ReuseSetting


def in_memory_learnware(learnware_id, model, input_dim, stat_specs: dict):
    """A learnware held in memory (no zip, no folder): ``model`` predicts flattened rows, ``stat_specs`` its
    statistical specifications by type, for searchers and reusers that take learnware objects."""
    from learnware.learnware import Learnware
    from learnware.model import BaseModel
    from learnware.specification import Specification

    class EstimatorModel(BaseModel):
        def __init__(self):
            super().__init__(input_shape=(input_dim,), output_shape=(1,))

        def fit(self, X, y):
            raise NotImplementedError("benchmark models are trained before they are wrapped")

        def finetune(self, X, y):
            raise NotImplementedError("benchmark models are not fine-tuned")

        def predict(self, X):
            return np.asarray(model.predict(np.asarray(X).reshape(len(X), -1)))

    return Learnware(id=learnware_id, model=EstimatorModel(), specification=Specification(stat_spec=stat_specs),
                     learnware_dirpath="")


def train_developers(setting: ReuseSetting, seed: int = 0):
    """Each task's model (an RBF SVM with probabilities) and its training ``(X, y)``."""
    from sklearn.svm import SVC

    models, task_data = [], []
    for t in range(len(setting.tasks)):
        rows = setting.task_rows(t)
        X, y = setting.X_train[rows], setting.y_train[rows]
        models.append(SVC(probability=True, random_state=seed).fit(X, y))
        task_data.append((X, y))
    return models, task_data


def draw_users(setting: ReuseSetting, counts, users_per_count: int, seed: int):
    """Users as (m, row indices into the test split, true task of each row, true proportions over tasks)."""
    rng = np.random.default_rng(seed)
    users = []
    for m in counts:
        for _ in range(users_per_count):
            chosen = rng.choice(len(setting.tasks), size=m, replace=False)
            shares = rng.dirichlet(np.ones(m))
            sizes = np.maximum(1, np.floor(shares * setting.user_rows).astype(int))
            sizes[np.argmax(sizes)] += setting.user_rows - sizes.sum()
            rows, truth = [], []
            for task, size in zip(chosen, sizes):
                pool = setting.task_rows(int(task), "test")
                rows.append(rng.choice(pool, size=min(int(size), len(pool)), replace=False))
                truth.append(np.full(len(rows[-1]), int(task)))
            rows, truth = np.concatenate(rows), np.concatenate(truth)
            proportions = np.bincount(truth, minlength=len(setting.tasks)) / len(truth)
            users.append((m, rows, truth, proportions))
    return users


def without_mixtures(spec):
    """A copy of a LANE spec that keeps its condensed points and drops its class mixtures and data class means
    (the paper's spec)."""
    import copy

    plain = copy.copy(spec)
    plain.class_mixtures = None
    plain.data_class_means = None
    plain._forget_derived()
    return plain
