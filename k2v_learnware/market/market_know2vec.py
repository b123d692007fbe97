"""Market stage: the market's own Know2Vec parts, its probe set and the boundary graph of each learnware.

The market owns a probe set (``<market>/know2vec/probe.npy``, numpy without
pickle) and queries every submitted model on it as a black box, storing the
resulting Know2VecSpecification with the learnware's own files, as the stock
hetero organizer does for its system specifications.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from .._logging import module_logger

from .._checks import as_data_array
from ..specification.know2vec import generate_know2vec_spec

logger = module_logger("k2v_learnware.market")


def probe_set(probe_file: Path, probe_X=None):
    """The market's probe set: ``probe_X`` saved (atomically) when given, else the stored one, else None."""
    if probe_X is None:
        return np.load(probe_file, allow_pickle=False) if probe_file.exists() else None
    probe_X = as_data_array(probe_X, "probe_X")
    partial = probe_file.with_name(f".probe-{os.getpid()}-{threading.get_ident()}.npy")
    np.save(partial, probe_X, allow_pickle=False)
    os.replace(partial, probe_file)
    return probe_X


def write_know2vec_spec(learnware, probe_X, path: Path, options: dict) -> None:
    """Query the learnware's model on the probe set and save its boundary graph at ``path``."""
    learnware.instantiate_model()
    model = learnware.get_model()
    shape = tuple(getattr(model, "input_shape", ()) or ())
    probe = probe_X
    if shape and int(np.prod(shape)) != int(np.prod(probe.shape[1:])):
        logger.warning(f"no Know2Vec specification: the model's input shape {shape} differs from the probe "
                       f"set's {probe.shape[1:]}")
        return
    if shape:
        probe = probe.reshape((len(probe),) + shape)
    generate_know2vec_spec(model, probe, **options).save(path)
