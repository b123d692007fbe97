"""Retrieval: the stream of training tasks a proxy learns from, and the held-out tasks that stop it.

Training draws fresh tasks every step; a fixed set of validation tasks, cut
from a share of the probe rows training never sees (or drawn afresh from LANE
specifications, which hold no rows), tells :class:`~.proxy.Know2VecProxy` when
more steps stop helping. Early stopping is ours, not the paper's: the paper
trains for a fixed budget, which on 2 cores costs minutes the proxy does not need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..specification.lane import LANESpecification
from .tasks import LabelledTaskSampler, TaskSampler, probe_fingerprint_for


@dataclass
class TaskBatch:
    """Class means of ``B`` tasks and the ``(B, M)`` mask of each task's positive models."""

    means: list
    positive: torch.Tensor


def split_probe_rows(probe_y, count: int, validation: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation row indices; with labels, each class keeps rows on both sides
    (a class with a single row lends it to both: tasks of every class stay possible)."""
    order = rng.permutation(count)
    if validation <= 0:
        return np.sort(order), np.array([], dtype=int)
    if probe_y is None:
        held = max(1, int(round(validation * count)))
        return np.sort(order[held:]), np.sort(order[:held])
    labels = np.array([repr(v) for v in probe_y], dtype=object)[order]
    train, held = [], []
    for c in dict.fromkeys(labels.tolist()):
        rows = order[labels == c]
        if len(rows) == 1:
            held.append(rows), train.append(rows)
            continue
        k = min(max(int(round(validation * len(rows))), 1), len(rows) - 1)
        held.append(rows[:k]), train.append(rows[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


class TaskStream:
    """Draws batches of training tasks for ``M`` models, and one fixed validation batch.

    With ``probe_y`` the sources are models and tasks are cut from the labelled
    probe set (:class:`~.tasks.LabelledTaskSampler`, positives = the most accurate
    models); otherwise each task belongs to one source (the paper's identity
    positives): drawn from its LANE specification or from the probe rows it labels.
    """

    def __init__(self, task_sources, probe_X=None, probe_y=None, *, task_groups=None, task_class_sets=None,
                 classes_per_task=(2, 5), validation: float = 0.2, validation_tasks: int = 200,
                 samples_per_class=(5, 30), seed: int = 0):
        self.num_models = len(task_sources)
        self.samples_per_class = samples_per_class
        split_rng = np.random.default_rng([seed, 1])
        count = 0 if probe_X is None else len(probe_X)
        train_rows, held_rows = split_probe_rows(probe_y, count, validation, split_rng) if count else (None, None)
        if probe_y is not None:  # the models predict the probe set once, for both samplers
            every = LabelledTaskSampler(task_sources, probe_X, probe_y, groups=task_groups,
                                        classes_per_task=classes_per_task, class_sets=task_class_sets)
            self._train = every.with_rows(train_rows)
            self._held = every.with_rows(held_rows) if validation > 0 else None
        else:  # each model labels the probe set once (or its Know2Vec specification's stored answers do)
            fingerprint = probe_fingerprint_for(task_sources, probe_X) if count else None
            every = [TaskSampler(src) if isinstance(src, LANESpecification) else TaskSampler(src, probe_X, fingerprint)
                     for src in task_sources]
            self._train = [s.with_rows(train_rows) for s in every] if count else every
            self._held = (self._train if all(isinstance(s, LANESpecification) for s in task_sources)
                          else [s.with_rows(held_rows) for s in every]) if validation > 0 else None
        self.validation = self._draw(self._held, np.random.default_rng([seed, 2]), validation_tasks) \
            if self._held is not None else None

    def _draw(self, source, rng, size: int) -> TaskBatch:
        if isinstance(source, LabelledTaskSampler):
            drawn = [source.draw(rng, self.samples_per_class) for _ in range(size)]
            return TaskBatch([m for m, _ in drawn], torch.from_numpy(np.stack([p for _, p in drawn])))
        owners = torch.from_numpy(rng.integers(0, self.num_models, size=size))
        means = [source[k].draw(rng, self.samples_per_class) for k in owners.tolist()]
        return TaskBatch(means, torch.nn.functional.one_hot(owners, self.num_models).bool())

    def batch(self, rng, size: int) -> TaskBatch:
        """``size`` fresh training tasks."""
        return self._draw(self._train, rng, size)
