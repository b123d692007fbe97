"""Comparison: specifications against each other and against the data they stand for.

:mod:`.pairs` gives the distance and similarity of two specifications (LANE,
RKME, Know2Vec, in any supported pair) and the pairwise matrix of many;
:mod:`.fidelity` how well one specification represents a data set.
"""

from .fidelity import Fidelity, class_means_privacy_gap, fidelity, privacy_gap
from .pairs import MAX_KERNEL_ROWS, Comparison, ComparisonMatrix, compare_many, compare_specifications

__all__ = ["MAX_KERNEL_ROWS", "Comparison", "ComparisonMatrix", "Fidelity", "compare_many",
           "class_means_privacy_gap", "compare_specifications", "fidelity", "privacy_gap"]
