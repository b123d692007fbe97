"""Mixture weights from the user's own rows: label-shift EM over every class (beyond the paper).

Eq. 9 finds the weights by matching mean embeddings; the classes of different
learnwares that look alike (a T-shirt and a shirt) share that mean, and the
weights spread over both. Once the user's rows are at hand, reuse can do
better: a classifier over every class of the candidate learnwares, trained on
an equal number of mimic samples per class, gives each row's class posterior
under a uniform prior; the user's class shares are then the maximum-likelihood
priors of those posteriors, found by EM (Saerens, Latinne & Decaestecker,
*Neural Computation* 14, 2002: label-shift estimation). The likelihood is
concave in the priors, so EM started from the QP's weights ends where it would
from anywhere (the QP only saves iterations).

A learnware keeps its share only when its classes raise that log-likelihood by
more than BIC's penalty (half its class count times ``log n``); otherwise a
user served by one learnware would still be spread over look-alikes. The last
step, two learnwares against one, asks for ``SINGLE_LEARNWARE_FACTOR`` times
that penalty: BIC assumes calibrated posteriors, and a classifier trained on
mimic samples (draws from the specs' Gaussian class mixtures) is over-confident
on real rows of look-alike classes (a pullover read as a coat). Measured on
Fashion-MNIST: such a learnware's gain on a one-task user's real rows reached
1.0-1.7 times the penalty, on rows drawn from the same mixtures about zero. A
stronger penalty at every step also drops true small shares (digits m = 4:
+0.9 -> +0.3 points over RKME-median+SVM), so only the one-against-two step
pays it (README, "LANE reuse: what goes beyond the paper, and why").

Measured on the reuse benchmark's users (``benchmarks/lane_label_shift.py``,
with the class router's final EM): weight L1 0.053 on Fashion-MNIST, 0.030 on
digits and 0.018 on BBC News, against RKME-median's 0.122 / 0.114 / 0.148 and
Eq. 9's 0.194 / 0.125 / 0.165.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import as_data_array, positive_float, positive_int, seed_int

#: Logistic-regression strength for the class posteriors, on rows scaled to unit RMS distance from their
#: mean; measured on the reuse benchmark's three data sets (README, "Choosing the defaults").
DEFAULT_C = 2.0
DEFAULT_PER_CLASS = 200
MAX_EM_ITERATIONS = 2000
#: BIC's penalty is multiplied by this when two learnwares remain (one against two; see the module docstring).
SINGLE_LEARNWARE_FACTOR = 1.5


@dataclass
class LabelShiftWeights:
    """What :func:`label_shift_weights` found.

    ``class_weights`` holds every class's share, learnware after learnware
    (``owner[k]`` is the learnware of class ``k``); ``learnware_weights`` their
    sums; ``dropped`` the learnwares BIC removed; ``log_likelihood`` is that of
    the user's rows under the final shares, relative to the uniform prior.
    """

    learnware_weights: np.ndarray
    class_weights: np.ndarray
    owner: np.ndarray
    log_likelihood: float
    iterations: int
    dropped: list[int] = field(default_factory=list)


def em_class_priors(posteriors: np.ndarray, start=None, max_iterations: int = MAX_EM_ITERATIONS,
                    tol: float = 1e-9) -> tuple[np.ndarray, int]:
    """Maximum-likelihood class shares of rows whose posteriors (under a uniform prior) are ``posteriors``.

    Classes with a zero ``start`` stay at zero (how a class is excluded).
    """
    P = np.asarray(posteriors, dtype=np.float64)
    K = P.shape[1]
    pi = np.full(K, 1.0 / K) if start is None else np.asarray(start, dtype=np.float64) / np.sum(start)
    for iteration in range(1, max_iterations + 1):
        Q = P * pi
        Q /= np.maximum(Q.sum(axis=1, keepdims=True), 1e-300)
        new = Q.mean(axis=0)
        if np.abs(new - pi).sum() < tol:
            return new, iteration
        pi = new
    return pi, max_iterations


def log_likelihood(posteriors: np.ndarray, priors: np.ndarray) -> float:
    """Log-likelihood of the rows under ``priors``, relative to the uniform prior the classifier was trained with."""
    K = posteriors.shape[1]
    return float(np.log(np.maximum(posteriors @ priors * K, 1e-300)).sum())


def prune_by_bic(posteriors: np.ndarray, priors: np.ndarray, owner: np.ndarray,
                 single_factor: float = SINGLE_LEARNWARE_FACTOR) -> tuple[np.ndarray, list[int]]:
    """Drop, smallest share first, every learnware whose classes do not pay BIC's penalty; re-fit the rest.

    With two learnwares left the penalty is ``single_factor`` times BIC's.
    """
    single_factor = positive_float(single_factor, "single_factor")
    n = len(posteriors)
    shares = np.bincount(owner, weights=priors)
    kept = [int(i) for i in np.flatnonzero(shares > 0)]
    dropped = []
    current, _ = em_class_priors(posteriors, priors)
    while len(kept) > 1:
        full = log_likelihood(posteriors, current)
        factor = single_factor if len(kept) == 2 else 1.0  # the set changes only after a drop, which ends the pass
        for i in sorted(kept, key=lambda i: shares[i]):
            without = np.where(np.isin(owner, [k for k in kept if k != i]), current, 0.0)
            refit, _ = em_class_priors(posteriors, without + (without > 0) * 1e-9)
            if full - log_likelihood(posteriors, refit) < factor * 0.5 * np.sum(owner == i) * np.log(max(n, 2)):
                kept.remove(i)
                dropped.append(i)
                current = refit
                break
        else:
            break
    return current, dropped


def draw_mimic(specs, per_class: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``per_class`` mimic rows of every class of every spec, each row's class column, and each column's owner."""
    rows, column, owner = [], [], []
    for i, spec in enumerate(specs):
        for label in spec.classes:
            rows.append(spec.sample_class(label, per_class, random_state=rng).reshape(per_class, -1))
            column.append(np.full(per_class, len(owner)))
            owner.append(i)
    return np.concatenate(rows), np.concatenate(column), np.array(owner)


def _start_from(weights, owner: np.ndarray, specs) -> np.ndarray:
    """A class-level start from learnware weights: each spread over its classes by class share, half uniform."""
    K = len(owner)
    if weights is None:
        return np.full(K, 1.0 / K)
    class_share = np.concatenate([spec.class_weights for spec in specs])
    start = np.asarray(weights, dtype=float)[owner] * class_share
    return 0.5 * start / start.sum() + 0.5 / K


def _checked_specs(specs) -> list:
    """``specs`` as a non-empty list of LANE specifications with content, all of one feature size."""
    from ..search.mixture_qp import lane_spec_list

    specs = lane_spec_list(specs, "specs")
    for i, spec in enumerate(specs):
        if int(np.prod(spec.input_shape)) != int(np.prod(specs[0].input_shape)):  # input_shape: empty is refused
            raise ValueError(f"specs[{i}] has samples of shape {spec.input_shape}, specs[0] of shape "
                             f"{specs[0].input_shape}; the feature dimensions differ")
    return specs


def label_shift_weights(X, specs, start=None, *, per_class: int = DEFAULT_PER_CLASS, C: float = DEFAULT_C,
                        random_state: int = 0, mimic=None, prune: bool = True) -> LabelShiftWeights:
    """Weights over ``specs`` (LANESpecifications) that explain the user rows ``X``, by label-shift EM.

    ``start`` is the search's weights (one per spec), used only to start EM.
    ``mimic`` is a :func:`draw_mimic` result to train on (drawn here otherwise).
    ``prune=False`` keeps every learnware EM gives a share (no BIC step).
    """
    from sklearn.linear_model import LogisticRegression

    X = as_data_array(X, "user_data")
    specs = _checked_specs(specs)
    random_state = seed_int(random_state, "random_state")
    per_class = positive_int(per_class, "per_class")
    C = positive_float(C, "C")
    if start is not None:
        start = as_data_array(start, "start", allowed_ndim=(1,), dtype=np.float64)  # numbers, not "0.5"
        if start.shape != (len(specs),) or not np.all(np.isfinite(start)) or np.any(start < 0) or start.max() <= 0:
            raise ValueError(f"start must be {len(specs)} finite non-negative weights, not all zero")
        start = start / start.max()  # weights of 1e308 would sum to inf
    rows, column, owner = mimic if mimic is not None else draw_mimic(specs, per_class, np.random.default_rng(
        random_state))
    if rows.shape[1] != X[0].size:
        raise ValueError(f"user_data rows have {X[0].size} features; the specifications {rows.shape[1]}")
    # One scale for every feature (the mimic rows' RMS distance to their mean), so that C means the same
    # for pixels in 0..1 and for unit-norm sentence embeddings, and the geometry is left as it is.
    centre = rows.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((rows - centre) ** 2, axis=1)))) or 1.0
    if len(owner) == 1:  # a single class explains every row
        P = np.ones((len(X), 1))
    else:
        classifier = LogisticRegression(C=C, max_iter=1000).fit((rows - centre) / scale, column)
        P = classifier.predict_proba((X.reshape(len(X), -1) - centre) / scale)
    priors, iterations = em_class_priors(P, _start_from(start, owner, specs))
    priors, dropped = prune_by_bic(P, priors, owner) if prune else (priors, [])
    return LabelShiftWeights(learnware_weights=np.bincount(owner, weights=priors, minlength=len(specs)),
                             class_weights=priors, owner=owner, log_likelihood=log_likelihood(P, priors),
                             iterations=iterations, dropped=sorted(dropped))
