"""Reuse stage: predict with the learnwares the market returned.

- :class:`~.job_selector.LANEJobSelectorReuser` (the paper's Algorithm 2, Eq. 10)
  draws mimic data from each learnware's class distributions in proportion to
  its weight, trains a selector over learnwares on it and routes every user row
  to the chosen learnware's model.
- :class:`~.class_router.LANEClassRouterReuser` (beyond the paper, the default
  of the CLI and the demo) re-estimates the weights from the user's rows by
  label-shift EM (:mod:`.label_shift`) and routes by a selector over classes
  with those class shares as its prior.
"""

from .class_router import LANEClassRouterReuser
from .job_selector import LANEJobSelectorReuser
from .label_shift import LabelShiftWeights, label_shift_weights

__all__ = ["LANEClassRouterReuser", "LANEJobSelectorReuser", "LabelShiftWeights", "label_shift_weights"]
