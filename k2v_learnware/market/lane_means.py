"""Market stage: each LANE learnware's class-mean embeddings, computed once when it is added and stored.

A search in a fixed embedding family reads every learnware's ``(K, D)`` class
means (see :mod:`k2v_learnware.search.class_mean_index`). The market computes
them when a learnware is added or updated and stores them beside its files
(``lane_class_means-<family>.npy``: float32, one row per class, numpy without
pickle; ``<family>`` is a digest of the family key, so means of another family
are another file). A reload checks them and keeps a reader, not a
copy: a search index reads them straight into its matrix, and the spec's points
are released (read back from the spec file when the learnware is reused), so a
worker holds every class mean once and no points. A missing, unreadable or
out-of-date file is rebuilt from the specification and written again, never
silently dropped.

A format-2 specification's means are stored in its own family. A format-1
specification (whose family calibrates BatchNorm on each user) gets them in the
fixed twin of its family (same architecture and network count, the fixed
family's seed, no calibration): the family a format-2 requirement with the same
settings uses.
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

from .._logging import module_logger
from ..specification.lane import FAMILY_SEED, LANESpecification, lane_spec_of
from ..specification.networks import EmbeddingConfig, RandomEmbedding

logger = module_logger("k2v_learnware.market")

#: Stored class means are ``<version folder>/lane_class_means-<family digest>.npy``.
MEANS_PREFIX = "lane_class_means"


def stored_family(spec: LANESpecification) -> RandomEmbedding:
    """The fixed family a market stores this spec's class means in."""
    config, seed, num_nets = stored_family_settings(spec.embedding)
    return RandomEmbedding.of(config, seed=seed, num_nets=num_nets)


def stored_family_settings(embedding: dict) -> tuple:
    """``(config, seed, num_nets)`` of :func:`stored_family` from a spec's ``embedding`` field, without building
    a network: a fixed family is itself, a calibrated (format-1) one maps to its fixed twin. The service
    compares a requirement's with the market's before any network is built."""
    config = EmbeddingConfig.from_dict(embedding)
    if config.fixed:
        return config, int(embedding["seed"]), int(embedding["num_nets"])
    return EmbeddingConfig(**{**config.to_dict(), "normalization": "none"}), FAMILY_SEED, int(embedding["num_nets"])


def means_file(folder: Path, family_key: str) -> Path:
    """Where a version folder keeps its class means in the family ``family_key`` (the name carries the family)."""
    return Path(folder) / f"{MEANS_PREFIX}-{hashlib.sha256(family_key.encode()).hexdigest()[:16]}.npy"


def write_lane_means(learnware, folder: Path) -> None:
    """Compute and save the learnware's class means in ``folder`` (nothing for a learnware without a LANE spec)."""
    spec = lane_spec_of(learnware)
    if spec is None:
        return
    family = stored_family(spec)
    _save(means_file(folder, family.key), spec.class_mean_embeddings(family))


def attach_lane_means(learnware, folder: Path | None, release_points: bool = True) -> None:
    """Give the learnware's LANE spec its stored class means; rebuild (and store, when ``folder``) if missing.

    A worker does not hold what it can read back: the spec keeps a reader of
    the checked file (an index reads it straight into its matrix) and, with
    ``release_points``, drops its points, read back from the spec file when the
    learnware is reused (:mod:`k2v_learnware.specification.released_points`).
    """
    spec = lane_spec_of(learnware)
    if spec is None:
        return
    family = stored_family(spec)
    reader = None
    if folder is not None:
        path = means_file(folder, family.key)
        reader = functools.partial(read_means, path, len(spec.classes), family.out_features)
        try:
            reader()
        except Exception as err:  # missing (or of another family: another name) or damaged: rebuilt from the spec
            if path.exists():
                logger.warning(f"{path} could not be used ({type(err).__name__}: {err}): rebuilt")
            reader = _rebuild(learnware, spec, family, path)
    if reader is None:
        spec.class_mean_embeddings(family)  # computed and kept in memory
    else:
        spec.set_class_mean_embeddings(family.key, reader)
    if release_points and spec.source_file is not None:
        spec.release_points()


def _rebuild(learnware, spec: LANESpecification, family: RandomEmbedding, path: Path):
    """Compute the class means and store them again; the reader of the new file, or None if it cannot be written."""
    try:
        _save(path, spec.class_mean_embeddings(family))
    except OSError as err:
        logger.warning(f"class means of learnware {learnware.id} kept in memory only: {err}")
        return None
    return functools.partial(read_means, path, len(spec.classes), family.out_features)


def read_means(path: Path, classes: int, dim: int) -> np.ndarray:
    """The class means stored at ``path``, checked: a finite float32 ``(classes, dim)`` array (numpy, never pickle)."""
    means = np.load(path, allow_pickle=False)
    if means.dtype != np.float32 or means.shape != (classes, dim) or not np.all(np.isfinite(means)):
        raise ValueError(f"{path} must hold finite float32 means of shape ({classes}, {dim}), got {means.dtype} "
                         f"{means.shape}")
    return means


def _save(path: Path, means: np.ndarray) -> None:
    """Write to a fresh name, then rename into place: a reader never sees half a file."""
    partial = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.partial")
    try:
        with open(partial, "wb") as f:
            np.save(f, np.asarray(means, dtype=np.float32), allow_pickle=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
