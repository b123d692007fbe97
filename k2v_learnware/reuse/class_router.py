"""Reuse by routing each row through a selector over classes, with the user's class shares as its prior.

The paper's selector (:class:`~.job_selector.LANEJobSelectorReuser`) learns
*which learnware* a mimic sample came from, with as many mimic samples as the
user has rows, spread by the search's weights. This reuser (beyond the paper):

1. re-estimates the weights from the user's rows by label-shift EM over every
   class of the given learnwares, dropping learnwares BIC does not support
   (:mod:`.label_shift`);
2. trains a selector over *classes* (an RBF SVM with libsvm's probabilities:
   Platt scaling per class pair, then pairwise coupling) on an equal number of
   mimic samples per class, so its posteriors assume a uniform prior;
3. routes each row to the learnware whose classes hold the most of the
   selector's posterior times the estimated class shares (Bayes' rule with the
   user's prior, not the developers'). The class shares are those EM finds
   with the selector's own posteriors, started from step 1's and restricted
   to the learnwares it kept.

Measured on the reuse benchmark against RKME-median + our SVM reuser, paired
over the same users (``benchmarks/lane_label_shift.py``): above it at every
mixture count on digits, Fashion-MNIST and BBC News, where the selector over
learnwares (the paper's) was 0.3-5.8 points under; the README's reuse tables
have the ``make bench`` figures. scikit-learn's ``CalibratedClassifierCV(SVC(),
ensemble=False)`` (one-vs-rest sigmoids) in place of libsvm's coupling lost
0.6-3.0 points on Fashion-MNIST at m = 2-5.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._checks import positive_float, positive_int
from .job_selector import LANEJobSelectorReuser
from .label_shift import DEFAULT_C, DEFAULT_PER_CLASS, draw_mimic, em_class_priors, label_shift_weights


class LANEClassRouterReuser(LANEJobSelectorReuser):
    """Route each user row to a learnware by a class-level selector and label-shift class shares.

    Parameters
    ----------
    learnware_list : the learnwares a search returned (each with a LANESpecification).
    weights : the search's weights (one per learnware), used only to start EM; ``None`` starts uniform.
    per_class : mimic samples per class for both classifiers.
    C : strength of the logistic regression whose posteriors estimate the shares.
    selector : the class-level classifier (must offer ``predict_proba``); by default
        ``SVC(probability=True)``.
    random_state : seed for the mimic sampling.

    After :meth:`fit`, ``weights_`` holds the learnware weights reuse used and
    ``shift_`` the full :class:`~.label_shift.LabelShiftWeights`.
    """

    def __init__(self, learnware_list, weights=None, *, per_class: int = DEFAULT_PER_CLASS, C: float = DEFAULT_C,
                 selector=None, random_state: int = 0):
        super().__init__(learnware_list, weights, selector=selector, random_state=random_state)
        if selector is not None and not hasattr(selector, "predict_proba"):
            raise TypeError(f"selector must offer predict_proba (class posteriors); {type(selector).__name__} "
                            "does not (an SVC needs probability=True)")
        self.per_class = positive_int(per_class, "per_class")
        self.C = positive_float(C, "C")
        self.weights_ = None
        self.shift_ = None
        self.class_priors_ = None
        self.owner_ = None

    def chosen_weights(self, X) -> np.ndarray:
        """The learnware weights reuse works with for ``X`` (:meth:`fit` estimates them from its rows)."""
        return self.fit(X).weights_

    def fit(self, X):
        """Estimate the class shares of ``X`` and train the class-level selector."""
        from sklearn.base import clone

        X = self._user_rows(X)
        mimic = draw_mimic(self.specs, self.per_class, np.random.default_rng(self.random_state))
        self.owner_ = mimic[2]
        self.shift_ = label_shift_weights(X, self.specs, self.weights, per_class=self.per_class, C=self.C,
                                          random_state=self.random_state, mimic=mimic)
        priors = self.shift_.class_weights
        self.used_ = np.flatnonzero(np.bincount(self.owner_, weights=priors, minlength=len(self.specs)) > 0)
        self.selector_ = None
        if len(self.used_) > 1:
            rows, column, _ = mimic
            keep = np.isin(self.owner_[column], self.used_)
            self.selector_ = clone(self.selector) if self.selector is not None else _default_selector(
                self.random_state)
            with warnings.catch_warnings():  # scikit-learn 1.9 deprecates probability=True (pinned < 1.11)
                warnings.filterwarnings("ignore", message=".*probability.*", category=FutureWarning)
                self.selector_.fit(rows[keep], column[keep])
            posteriors = self._class_posteriors(X)
            priors, _ = em_class_priors(posteriors, priors)
        self.class_priors_ = priors
        self.weights_ = np.bincount(self.owner_, weights=priors, minlength=len(self.specs))
        return self

    def _class_posteriors(self, X) -> np.ndarray:
        """``(n, classes)`` selector posteriors, zero for the classes of learnwares not used."""
        out = np.zeros((len(X), len(self.owner_)))
        out[:, self.selector_.classes_] = self.selector_.predict_proba(X.reshape(len(X), -1))
        return out

    def _route(self, X) -> np.ndarray:
        """Each row to the learnware whose classes hold most of posterior x class share."""
        mass = np.zeros((len(X), len(self.specs)))
        np.add.at(mass.T, self.owner_, (self._class_posteriors(X) * self.class_priors_).T)
        return mass.argmax(axis=1)


def _default_selector(random_state):
    from sklearn.svm import SVC

    return SVC(probability=True, random_state=random_state)
