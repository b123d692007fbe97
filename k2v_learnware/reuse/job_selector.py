"""Reusing the learnwares a search returned (LANE Algorithm 2, steps 2-15).

Mimic data are drawn from each useful learnware's class Gaussians
N(mean(Z_ij), Sigma_ij) (Eq. 10, Ledoit-Wolf shrunk covariance), in amounts set
by the learnware's total weight, so no learnware's classes are starved by small
per-class weights; a learnware's share of the mimic data is its weight (the
paper's counts make it K_i times the weight, see ``num_mimic``). An SVM learns
to tell which learnware each mimic sample came from; each user row then goes to
the model its predicted learnware holds.
"""

from __future__ import annotations

import numpy as np
from learnware.reuse.base import BaseReuser

from .._checks import as_data_array, positive_float, positive_int, seed_int
from ..specification.lane import lane_spec_of


def _lane_spec(learnware, i: int):
    if not callable(getattr(learnware, "get_specification", None)):
        raise TypeError(f"learnware_list[{i}] is a {type(learnware).__name__}, not a learnware (learnware.Learnware)")
    spec = lane_spec_of(learnware)
    if spec is None:
        raise ValueError(f"learnware {learnware.id} has no LANESpecification; it cannot be reused by LANE")
    return spec


class LANEJobSelectorReuser(BaseReuser):
    """Route each user row to one learnware's model, chosen by an SVM trained on mimic data.

    Parameters
    ----------
    learnware_list : the learnwares a search returned.
    weights : their mixture weights (one per learnware, e.g. the ``weights`` of a
        ``LANEMultipleSearchItem``); ``None`` solves Eq. 9 on the user's data at predict time.
    num_mimic : total mimic samples N; by default as many as the user has rows (Eq. 10's N-hat). Learnware i
        gets N * w_i of them, N * w_i / K_i a class (at least ``min_per_class``); Eq. 10 draws N * w_i for
        each class, which tilts the selector's prior towards learnwares with more classes.
    min_weight : learnwares below this weight are dropped before reuse (weights are renormalised).
    selector : any scikit-learn classifier; by default ``SVC()`` (RBF kernel).
    random_state : seed for the mimic sampling.
    """

    def __init__(self, learnware_list, weights=None, *, num_mimic: int | None = None, min_weight: float = 0.05,
                 min_per_class: int = 5, selector=None, random_state: int = 0):
        super().__init__(learnware_list=list(learnware_list or []))
        if not self.learnware_list:
            raise ValueError("learnware_list is empty: there is nothing to reuse")
        self.specs = [_lane_spec(lw, i) for i, lw in enumerate(self.learnware_list)]
        shapes = {int(np.prod(s.input_shape)) for s in self.specs}
        if len(shapes) > 1:
            raise ValueError(f"the learnwares take inputs of different sizes {sorted(shapes)}; reuse needs one")
        if weights is not None:
            weights = as_data_array(weights, "weights", allowed_ndim=(1,), dtype=np.float64)  # numbers, not "0.5"
            if weights.shape != (len(self.learnware_list),):
                raise ValueError(f"weights has shape {weights.shape}; expected one weight per learnware "
                                 f"({len(self.learnware_list)})")
            if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.max() <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
        self.weights = weights
        self.num_mimic = None if num_mimic is None else positive_int(num_mimic, "num_mimic")
        self.min_weight = positive_float(min_weight, "min_weight") if min_weight else 0.0
        self.min_per_class = positive_int(min_per_class, "min_per_class")
        self.selector = selector
        self.random_state = seed_int(random_state, "random_state")
        self.selector_ = None
        self.used_ = None

    def _weights_for(self, X) -> np.ndarray:
        if self.weights is not None:
            w = self.weights / self.weights.max()  # weights of 1e308 would sum to inf
            return w / w.sum()
        from ..search import mixture_weights

        return mixture_weights(X, self.specs).learnware_weights

    def mimic_data(self, weights: np.ndarray, n_total: int):
        """Mimic samples and the index (into ``learnware_list``) of the learnware each came from."""
        rng = np.random.default_rng(self.random_state)
        X, idx = [], []
        for i, w in enumerate(weights):
            if w <= 0:
                continue
            spec = self.specs[i]
            per_class = max(self.min_per_class, int(round(n_total * w / len(spec.classes))))
            for c in spec.classes:
                X.append(spec.sample_class(c, per_class, random_state=rng).reshape(per_class, -1))
                idx.append(np.full(per_class, i))
        return np.concatenate(X), np.concatenate(idx)

    def chosen_weights(self, X) -> np.ndarray:
        """The weights reuse works with: those under ``min_weight`` dropped (the best one kept), renormalised."""
        found = self._weights_for(X)
        weights = np.where(found >= self.min_weight, found, 0.0)
        if weights.sum() <= 0:  # nothing reaches the threshold: keep the best one
            weights = np.eye(len(found))[int(np.argmax(found))]
        return weights / weights.sum()

    def _user_rows(self, X) -> np.ndarray:
        """``X`` checked: finite rows of the learnwares' feature size."""
        X = as_data_array(X, "user_data")
        expected = int(np.prod(self.specs[0].input_shape))
        if X[0].size != expected:
            raise ValueError(f"user_data rows have {X[0].size} features; the learnwares take {expected}")
        return X

    def fit(self, X):
        """Choose the learnwares and train the selector for the user data ``X``."""
        X = self._user_rows(X)
        weights = self.chosen_weights(X)
        self.used_ = np.flatnonzero(weights > 0)
        if len(self.used_) == 1:
            self.selector_ = None
            return self
        from sklearn.svm import SVC
        from sklearn.base import clone

        mimic, index = self.mimic_data(weights, self.num_mimic or len(X))
        self.selector_ = clone(self.selector) if self.selector is not None else SVC()
        self.selector_.fit(mimic, index)
        return self

    def job_assignment(self, X) -> np.ndarray:
        """Index (into ``learnware_list``) of the learnware chosen for each row."""
        X = self._user_rows(X)
        if self.used_ is None:
            self.fit(X)
        if self.selector_ is None:
            return np.full(len(X), self.used_[0])
        return self._route(X)

    def _route(self, X) -> np.ndarray:
        """The trained selector's choice for each row (more than one learnware in use)."""
        return np.asarray(self.selector_.predict(X.reshape(len(X), -1)))

    def predict(self, user_data) -> np.ndarray:
        """Predictions for every row of ``user_data``, each by its assigned learnware's model."""
        X = self._user_rows(user_data)
        self.fit(X)
        assignment = self.job_assignment(X)
        parts = []
        for i in np.unique(assignment):
            rows = assignment == i
            inputs = X[rows].reshape((int(rows.sum()),) + self.specs[i].input_shape)
            parts.append((rows, np.asarray(self.learnware_list[i].predict(inputs))))
        predictions = np.empty((len(X),) + parts[0][1].shape[1:], dtype=np.result_type(*[p.dtype for _, p in parts]))
        for rows, out in parts:
            predictions[rows] = out
        return predictions
