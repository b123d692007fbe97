"""The `learnware` package's RKME route, run fairly, and the simple reuse baselines.

- :func:`median_gamma`: the median-heuristic kernel width (the package's default
  ``gamma=0.1`` is badly scaled for pixel data).
- :func:`rkme_weights`: the package's own mixture QP (``rkme_solve_qp``) over the
  learnwares' RKMEs and the user's RKME, built with the learnwares' gamma.
- :func:`fair_job_selector`: the package's ``JobSelectorReuser`` with one fix:
  it builds the user's RKME with the learnwares' gamma (the stock one always uses 0.1).
- :func:`single_thread_lightgbm`: LightGBM pinned to one thread while the package's
  selector trains (it is many times slower with more threads on 2-core machines).
- :class:`RKMESVMReuser`: RKME weights with our SVM selector, trained on each
  learnware's reduced set (its points weighted by beta and the learnware's weight).
- :func:`max_confidence_predict` (MAX) and :func:`oracle_predict` (Oracle).
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._checks import as_data_array


def median_gamma(X, seed: int = 0, n: int = 1000) -> float:
    """1 / median squared distance between rows of ``X`` (a subsample of ``n`` rows)."""
    X = as_data_array(X, "X")
    if len(X) < 2:
        raise ValueError(f"the median heuristic needs at least 2 rows, got {len(X)}")
    rng = np.random.default_rng(seed)
    S = X[rng.choice(len(X), size=min(n, len(X)), replace=False)].reshape(min(n, len(X)), -1).astype(np.float64)
    sq = (S * S).sum(1)[:, None] + (S * S).sum(1)[None, :] - 2 * S @ S.T
    median = float(np.median(sq[np.triu_indices(len(S), 1)]))
    if not median > 0:
        raise ValueError("the median squared distance between rows is 0; every row is the same")
    return 1.0 / median


def rkme_spec(X, gamma: float, reduced_set_size: int = 100, reduce: bool = True):
    """The package's RKMETableSpecification of ``X`` (CPU, float gamma so that it saves).

    ``reduce=False`` keeps every row (the exact kernel mean embedding), as the
    package's JobSelectorReuser does with a user's data.
    """
    from learnware.specification import generate_rkme_table_spec

    X = as_data_array(X, "X")
    return generate_rkme_table_spec(X.reshape(len(X), -1), gamma=float(gamma), reduced_set_size=int(reduced_set_size),
                                    reduce=reduce, cuda_idx=-1)


def rkme_weights(user_spec, learnware_specs) -> np.ndarray:
    """Mixture weights by the package's QP: min_w w'Kw - 2 w'c on the simplex (RKME inner products)."""
    from learnware.specification.regular.table.rkme import rkme_solve_qp

    gammas = {float(s.gamma) for s in learnware_specs} | {float(user_spec.gamma)}
    if len(gammas) > 1:
        raise ValueError(f"RKMEs with different kernel widths {sorted(gammas)} cannot be mixed")
    n = len(learnware_specs)
    K = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            K[i, j] = K[j, i] = learnware_specs[i].inner_prod(learnware_specs[j])
    c = np.array([user_spec.inner_prod(s) for s in learnware_specs])
    solution, _ = rkme_solve_qp(K, c)
    w = np.clip(np.asarray(solution, dtype=float).reshape(-1), 0, None)
    return w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)


@contextlib.contextmanager
def single_thread_lightgbm():
    """Make ``lightgbm.LGBMClassifier`` default to ``n_jobs=1`` inside the block."""
    import lightgbm

    original = lightgbm.LGBMClassifier

    class SingleThreadLGBMClassifier(original):
        def __init__(self, **params):
            params.setdefault("n_jobs", 1)
            super().__init__(**params)

    lightgbm.LGBMClassifier = SingleThreadLGBMClassifier
    try:
        yield
    finally:
        lightgbm.LGBMClassifier = original


def _fair_job_selector_class():
    from learnware.reuse import JobSelectorReuser

    class FairJobSelectorReuser(JobSelectorReuser):
        """``JobSelectorReuser`` whose user RKME uses the learnwares' gamma (stock: always 0.1)."""

        def _calculate_rkme_spec_mixture_weight(self, user_data, task_rkme_list, task_rkme_matrix):
            from learnware.specification import generate_rkme_table_spec
            from learnware.specification.regular.table.rkme import rkme_solve_qp

            gamma = float(task_rkme_list[0].gamma)
            user = generate_rkme_table_spec(X=user_data, gamma=gamma, reduce=False, cuda_idx=-1)
            v = np.array([user.inner_prod(s) for s in task_rkme_list])
            solution, _ = rkme_solve_qp(task_rkme_matrix, v)
            return np.array(solution).reshape(-1)

    return FairJobSelectorReuser


def fair_job_selector(learnware_list, herding_num: int = 1000, use_herding: bool = True):
    """The package's JobSelectorReuser, with the user's RKME built at the learnwares' gamma."""
    return _fair_job_selector_class()(learnware_list=learnware_list, herding_num=herding_num,
                                      use_herding=use_herding)


class RKMESVMReuser:
    """Our SVM selector on RKME: learnware ``i`` contributes its reduced set, weighted by beta * w_i.

    Learnwares under ``min_weight`` are dropped (as in our LANE reuser); with one
    left, every row goes to it.
    """

    def __init__(self, models, specs, weights, min_weight: float = 0.05, selector=None):
        if not (len(models) == len(specs) == len(weights)) or not len(models):
            raise ValueError("models, specs and weights must be non-empty and of one length")
        self.models, self.specs = list(models), list(specs)
        self.weights = np.asarray(weights, dtype=float)
        self.min_weight = float(min_weight)
        self.selector = selector

    def fit(self):
        from sklearn.base import clone
        from sklearn.svm import SVC

        w = np.where(self.weights >= self.min_weight, self.weights, 0.0)
        if w.sum() <= 0:
            w = np.eye(len(w))[int(np.argmax(self.weights))]
        self.used_ = np.flatnonzero(w > 0)
        self.selector_ = None
        if len(self.used_) > 1:
            X, index, sample_weight = [], [], []
            for i in self.used_:
                z = np.asarray(self.specs[i].get_z(), dtype=np.float64).reshape(len(self.specs[i].get_z()), -1)
                beta = np.clip(np.asarray(self.specs[i].get_beta(), dtype=float).reshape(-1), 0, None)
                beta = beta / beta.sum() if beta.sum() > 0 else np.full(len(z), 1.0 / len(z))
                X.append(z), index.append(np.full(len(z), i)), sample_weight.append(beta * w[i] * len(z))
            sample_weight = np.concatenate(sample_weight)
            self.selector_ = clone(self.selector) if self.selector is not None else SVC()
            self.selector_.fit(np.concatenate(X), np.concatenate(index),
                               sample_weight=sample_weight / sample_weight.mean())
        return self

    def predict(self, X) -> np.ndarray:
        X = as_data_array(X, "X")
        if not hasattr(self, "used_"):
            self.fit()
        flat = X.reshape(len(X), -1)
        route = np.full(len(X), self.used_[0]) if self.selector_ is None else self.selector_.predict(flat)
        return route_predictions(self.models, X, route)


def route_predictions(models, X, route) -> np.ndarray:
    """Each row of ``X`` predicted by ``models[route[row]]``."""
    out = np.empty(len(X), dtype=object)
    for i in np.unique(route):
        rows = route == i
        out[rows] = np.asarray(models[int(i)].predict(X[rows])).reshape(-1)
    return _as_array(out)


def max_confidence_predict(models, X) -> np.ndarray:
    """MAX: every model predicts each row; the answer of the most confident model (top probability)."""
    if not len(models):
        raise ValueError("MAX needs at least one model")
    best = np.full(len(X), -np.inf)
    out = np.empty(len(X), dtype=object)
    for model in models:
        proba = np.asarray(model.predict_proba(X))
        top = proba.max(axis=1)
        better = top > best
        out[better] = np.asarray(model.classes_)[proba.argmax(axis=1)][better]
        best = np.maximum(best, top)
    return _as_array(out)


def oracle_predict(models, X, true_task) -> np.ndarray:
    """Oracle: each row predicted by the model of the task it truly came from."""
    true_task = np.asarray(true_task)
    if true_task.shape != (len(X),):
        raise ValueError(f"true_task needs one task index per row ({len(X)}), got shape {true_task.shape}")
    return route_predictions(models, X, true_task)


def _as_array(values) -> np.ndarray:
    try:
        return np.array(values.tolist())
    except (TypeError, ValueError):
        return values
