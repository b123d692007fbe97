"""Reuse stage: predict with the learnwares the market returned (LANE Algorithm 2, Eq. 10).

:class:`~.job_selector.LANEJobSelectorReuser` draws mimic data from each
learnware's LANE class Gaussians in proportion to its weight, trains a selector
on it and routes every user row to the chosen learnware's model.
"""

from .job_selector import LANEJobSelectorReuser

__all__ = ["LANEJobSelectorReuser"]
