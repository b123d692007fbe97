"""Search stage: the mixture weights of Eq. 9 that the market's LANE searcher uses.

:mod:`.mixture_qp` solves the simplex-constrained least squares that finds how
much of each learnware's class-mean embeddings explain the user's mean
embedding; the market's searcher lives in :mod:`k2v_learnware.market.searchers`.
"""

from .mixture_qp import SOLVERS, MixtureWeights, embed_requirement_and_classes, mixture_weights, single_residuals

__all__ = ["SOLVERS", "MixtureWeights", "embed_requirement_and_classes", "mixture_weights", "single_residuals"]
