"""How Know2Vec's proxy trains: task streams, held-out validation, early stopping, and the paper's zoo."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from k2v_learnware.datasets import load_digits
from k2v_learnware.know2vec import generate_know2vec_spec
from k2v_learnware.proxy import Know2VecProxy, LabelledTaskSampler
from k2v_learnware.retrieval.task_streams import TaskStream, split_probe_rows


class PerClassModel:
    """A black box right on the classes it is told, always wrong (label -1) elsewhere."""

    def __init__(self, right_on, labels):
        self.right_on, self.labels = set(right_on), np.asarray(labels)
        self.calls = 0

    def predict(self, X):
        self.calls += 1
        rows = np.asarray(X)[:, 0].astype(int)  # feature 0 is the row's index into labels
        truth = self.labels[rows]
        return np.where(np.isin(truth, list(self.right_on)), truth, -1)


def _indexed_probe(labels):
    X = np.zeros((len(labels), 3), dtype=np.float32)
    X[:, 0] = np.arange(len(labels))
    X[:, 1] = np.asarray(labels, dtype=float)
    return X


def test_split_probe_rows_keeps_every_class_on_both_sides():
    y = np.repeat([0, 1, 2, 3], [10, 5, 2, 1])
    train, held = split_probe_rows(y, len(y), 0.2, np.random.default_rng(0))
    assert set(train) & set(held) == {17}  # the one row of class 3 serves both sides
    assert set(np.concatenate([train, held])) == set(range(len(y)))
    for c in (0, 1, 2, 3):
        assert (y[train] == c).any() and (y[held] == c).any()
    assert (y[held] == 0).sum() == 2
    train, held = split_probe_rows(None, 10, 0.3, np.random.default_rng(0))
    assert len(held) == 3 and len(train) == 7
    train, held = split_probe_rows(y, len(y), 0.0, np.random.default_rng(0))
    assert len(held) == 0 and list(train) == list(range(len(y)))


def test_positives_use_every_labelled_row_of_the_task_classes():
    labels = np.repeat([0, 1, 2], 20)
    X = _indexed_probe(labels)
    # model 0 is right on class 0 only, model 1 on classes 1 and 2, model 2 on class 2 only
    models = [PerClassModel({0}, labels), PerClassModel({1, 2}, labels), PerClassModel({2}, labels)]
    sampler = LabelledTaskSampler(models, X, labels, class_sets=[[2, 1]]).with_rows(np.arange(0, 60, 2))
    rng = np.random.default_rng(0)
    for _ in range(5):
        means, best = sampler.draw(rng, (1, 1))  # one row per class: the positives must not depend on it
        assert means.shape == (2, 3) and best.tolist() == [False, True, False]
        assert sorted(means[:, 1].tolist()) == [1.0, 2.0] and all(m[0] % 2 == 0 for m in means)  # rows 0::2 only
    # a stream's training and validation samplers share one pass of each model over the probe set
    for model in models:
        model.calls = 0
    stream = TaskStream(models, X, labels, task_class_sets=[[0, 1], [1, 2]], validation=0.25, validation_tasks=10)
    assert [m.calls for m in models] == [1, 1, 1]
    train_rows = set(np.concatenate(list(stream._train.rows.values())).tolist())
    held_rows = set(np.concatenate(list(stream._held.rows.values())).tolist())
    assert not train_rows & held_rows and len(held_rows) == 15
    with pytest.raises(ValueError, match="no rows among the given ones"):
        sampler.with_rows([0, 1])
    with pytest.raises(ValueError, match="groups or class_sets"):
        LabelledTaskSampler(models, X, labels, groups=[[0, 1]], class_sets=[[0, 1]])
    with pytest.raises(ValueError, match="lacks"):
        LabelledTaskSampler(models, X, labels, class_sets=[[0, 7]])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelledTaskSampler(models, X, labels, class_sets=[[1]])


def _zoo():
    X, y = load_digits()
    subsets = [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (0, 5), (1, 7)]
    models = [LogisticRegression(max_iter=500).fit(X[np.isin(y, s)], y[np.isin(y, s)]) for s in subsets]
    return X, y, models, [generate_know2vec_spec(m, X[::5]) for m in models]


def test_early_stopping_keeps_the_weights_of_the_best_validation_check():
    X, y, models, specs = _zoo()
    probe_X, probe_y = X[1::5], y[1::5]
    settings = dict(hidden=16, embedding_dim=32, epochs=400, batch_size=16, eval_every=10, patience=2,
                    validation_tasks=60, verbose=False)
    proxy = Know2VecProxy(**settings).fit(specs, models, probe_X=probe_X, probe_y=probe_y)
    steps = [h["step"] for h in proxy.history_]
    assert steps == list(range(10, len(proxy.losses_) + 1, 10)) and len(proxy.losses_) <= 400
    best, last_improvement = None, 0
    for i, record in enumerate(proxy.history_):  # the stopping rule, replayed on the recorded checks
        if best is None or Know2VecProxy._better(record, best):
            best, last_improvement = record, i
    assert len(steps) - 1 - last_improvement == 2 or len(proxy.losses_) == 400
    assert len(proxy.losses_) < 400  # this small zoo stops well before the budget
    # the same held-out tasks, drawn again, score the kept weights as the best check did
    stream = TaskStream(models, probe_X, probe_y, validation=0.2, validation_tasks=60,
                        samples_per_class=proxy.samples_per_class, seed=proxy.seed)
    graphs = [proxy._graph_tensors(s) for s in specs]
    kept = proxy._validate(graphs, [proxy._query_tensor(m) for m in stream.validation.means],
                           stream.validation.positive)
    assert kept["r@1"] == max(h["r@1"] for h in proxy.history_)
    proxy.network.eval()

    plain = Know2VecProxy(**{**settings, "epochs": 30}, validation=0).fit(specs, models, probe_X=probe_X,
                                                                            probe_y=probe_y)
    assert len(plain.losses_) == 30 and plain.history_ == []


def test_identity_training_holds_out_probe_rows_and_lane_tasks_validate_too():
    from k2v_learnware.specification.lane import generate_lane_spec

    X, y, models, specs = _zoo()
    proxy = Know2VecProxy(hidden=16, embedding_dim=32, epochs=40, batch_size=16, eval_every=20, verbose=False)
    proxy.fit(specs, models, probe_X=X[1::5])
    assert [h["step"] for h in proxy.history_] == [20, 40]
    lanes = [generate_lane_spec(X[np.isin(y, m.classes_)], y[np.isin(y, m.classes_)], num_per_class=3,
                                iterations=5, verbose=False) for m in models]
    stream = TaskStream(lanes, validation=0.2, validation_tasks=12, seed=3)
    assert len(stream.validation.means) == 12 and stream.validation.positive.sum(1).tolist() == [1] * 12


@pytest.mark.parametrize("bad, message", [
    ({"validation": 1.0}, "validation must be a share"), ({"validation": -0.1}, "validation must be a share"),
    ({"validation": "0.2"}, "validation must be a share"), ({"eval_every": 0}, "eval_every"),
    ({"patience": 0}, "patience"), ({"validation_tasks": 0}, "validation_tasks"),
])
def test_bad_training_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        Know2VecProxy(verbose=False, **bad)


def test_the_paper_zoo_gives_each_model_its_own_four_classes():
    from k2v_learnware.bench.paper_zoo import draw_task_class_sets

    groups = {"digits": list(range(10)), "fashion-mnist": list(range(10, 20))}
    tasks = draw_task_class_sets(groups, 60, seed=0)
    assert len(tasks) == 60 and len(set(tasks)) == 60
    assert [d for d, _ in tasks[:4]] == ["digits", "fashion-mnist"] * 2
    for dataset, classes in tasks:
        assert len(classes) == 4 and set(classes) <= set(groups[dataset]) and list(classes) == sorted(classes)
    assert draw_task_class_sets(groups, 60, seed=0) == tasks
    with pytest.raises(ValueError, match="only 210 distinct 4-class tasks"):
        draw_task_class_sets(groups, 500)
