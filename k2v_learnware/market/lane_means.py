"""Market stage: each LANE learnware's class-mean embeddings, computed once when it is added and stored.

A search in a fixed embedding family reads every learnware's ``(K, D)`` class
means (see :mod:`k2v_learnware.search.class_mean_index`). The market computes
them when a learnware is added or updated and stores them beside its files
(``lane_class_means.npz``: float32 ``means`` and the ``family`` key they belong
to, numpy without pickle). A reload reads them; a missing, unreadable or
out-of-date file is rebuilt from the specification and written again, never
silently dropped.

A format-2 specification's means are stored in its own family. A format-1
specification (whose family calibrates BatchNorm on each user) gets them in the
fixed twin of its family (same architecture and network count, the fixed
family's seed, no calibration): the family a format-2 requirement with the same
settings uses.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
from learnware.logger import get_module_logger

from ..specification.lane import FAMILY_SEED, LANESpecification, lane_spec_of
from ..specification.networks import EmbeddingConfig, RandomEmbedding

logger = get_module_logger("k2v_learnware.market")


def stored_family(spec: LANESpecification) -> RandomEmbedding:
    """The fixed family a market stores this spec's class means in."""
    family = spec.embedding_family()
    if family.fixed:
        return family
    config = EmbeddingConfig(**{**family.config.to_dict(), "normalization": "none"})
    return RandomEmbedding.of(config, seed=FAMILY_SEED, num_nets=family.num_nets)


def write_lane_means(learnware, path: Path) -> None:
    """Compute and save the learnware's class means (nothing for a learnware without a LANE spec)."""
    spec = lane_spec_of(learnware)
    if spec is None:
        return
    family = stored_family(spec)
    _save(path, spec.class_mean_embeddings(family), family.key)


def attach_lane_means(learnware, path: Path | None) -> None:
    """Give the learnware's LANE spec its stored class means; rebuild (and store, when ``path``) if missing."""
    spec = lane_spec_of(learnware)
    if spec is None:
        return
    family = stored_family(spec)
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                key, means = str(stored["family"]), stored["means"]
            if key == family.key:
                spec.set_class_mean_embeddings(key, means)
                return
            logger.warning(f"{path} holds class means of another family: rebuilt")
        except Exception as err:  # a damaged file is rebuilt from the spec, which is the truth
            logger.warning(f"{path} could not be read ({type(err).__name__}: {err}): rebuilt")
    means = spec.class_mean_embeddings(family)
    if path is not None:
        try:
            _save(path, means, family.key)
        except OSError as err:
            logger.warning(f"class means of learnware {learnware.id} kept in memory only: {err}")


def _save(path: Path, means: np.ndarray, key: str) -> None:
    """Write to a fresh name, then rename into place: a reader never sees half a file."""
    partial = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.npz")
    try:
        np.savez(partial, means=np.asarray(means, dtype=np.float32), family=np.array(key))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
