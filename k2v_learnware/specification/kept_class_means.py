"""A specification's class-mean embeddings under fixed families: computed once, adopted, or read on demand.

What a market search reads of a LANE specification (see
:mod:`k2v_learnware.search.class_mean_index`): the ``(K, D)`` float32 mean
embedding of each class under a fixed random-network family. In the spec's own
family they are, when the spec carries them, the class means of the developer's
rows themselves (``data_class_means``, format 4, beyond the paper: an aggregate
statistic like RKME's, measured to give better search weights than the
condensed points, which need hundreds of steps to approach them); otherwise, and
in any other family, the means of the condensed points. They are computed once
per family and kept, adopted from a market's stored copy, or, in a market
worker, read from that copy each time an index is built, so they are never held
twice.
"""

from __future__ import annotations

import numpy as np

from .networks import EmbeddingConfig, RandomEmbedding, checked_family, family_key as key_of_family, finite_embedding


#: Rows embedded at a time when the developer's class means are computed (bounds the memory to ~CHUNK x D floats).
DATA_CHUNK = 4096


def data_class_means(family: RandomEmbedding, X: np.ndarray, class_index: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, D)`` float32 mean embedding of each class's rows of ``X`` under the fixed ``family``, in chunks."""
    sums = np.zeros((num_classes, family.out_features))
    for start in range(0, len(X), DATA_CHUNK):
        embedded = family.embed_fixed(X[start: start + DATA_CHUNK]).astype(np.float64)
        members = class_index[start: start + DATA_CHUNK][None, :] == np.arange(num_classes)[:, None]
        sums += members @ embedded
    counts = np.bincount(class_index, minlength=num_classes)
    return (sums / counts[:, None]).astype(np.float32)


class KeptClassMeans:
    """Class-mean embeddings per family key; needs ``classes``, ``embedding``, ``_family``, ``_rows_of``,
    ``_family_input`` and ``data_class_means`` (the developer rows' class means in ``_family``, or None)."""

    def class_mean_embeddings(self, family: RandomEmbedding | None = None) -> np.ndarray:
        """``(K, D)`` float32 mean embedding of each class's points under a fixed ``family``.

        Defaults to the spec's own family (which must be fixed: format 2).
        In that family, the developer rows' means when the spec carries them.
        Computed once per family and kept; this is what a market stores when
        the learnware is added, so a search never embeds the points again.
        """
        self._require_content()
        family = self._family if family is None else checked_family(family, self.input_shape)
        key = family.key
        cache = self._class_mean_cache_for(key)
        if key not in cache:
            rows = [self._rows_of(c) for c in self.classes]
            cache[key] = finite_embedding(family.class_means(self._family_input(family), rows),
                                          "the class-mean embedding of this specification's points")
        if callable(cache[key]):
            return self._checked_means(cache[key]())
        return cache[key]

    def has_class_mean_embeddings(self, family_key: str) -> bool:
        """Whether the class means in the family ``family_key`` are kept or stored already (no embedding needed).

        The developer rows' means count as kept in the spec's own family: an
        index that asked this before :meth:`class_mean_embeddings` had adopted
        them computed the points' means instead, and kept those in their place.
        """
        return family_key in self._class_mean_cache_for(family_key)

    def _class_mean_cache_for(self, family_key: str) -> dict:
        """The cache of class means by family key, holding the developer rows' means first when ``family_key``
        is the spec's own family and it carries them."""
        cache = self.__dict__.setdefault("_class_mean_cache", {})
        # the key first: it needs no network, and a worker's released means are read back only for their family
        if family_key not in cache and family_key == self._own_family_key() and self.data_class_means is not None:
            cache[family_key] = self.data_class_means
        return cache

    def _own_family_key(self) -> str:
        e = self.embedding
        return key_of_family(EmbeddingConfig.from_dict(e), e["seed"], e["num_nets"])

    def kept_class_mean_families(self) -> tuple[str, ...]:
        """The keys of the families whose class means are kept or stored (a market's: its stored family)."""
        return tuple(self.__dict__.get("_class_mean_cache", {}))

    def class_means_read_on_demand(self, family_key: str) -> bool:
        """Whether the class means of ``family_key`` are read from where they are stored each time (not held)."""
        return callable(self.__dict__.get("_class_mean_cache", {}).get(family_key))

    def set_class_mean_embeddings(self, family_key: str, means) -> None:
        """Adopt class-mean embeddings computed earlier for the family ``family_key``.

        ``means`` is the ``(K, D)`` array, or a callable that reads it from
        where a market stores it (read when an index is built, not held twice).
        """
        self._require_content()
        if not callable(means):
            means = self._checked_means(means)
        self.__dict__.setdefault("_class_mean_cache", {})[family_key] = means

    def _checked_means(self, means) -> np.ndarray:
        means = np.asarray(means)
        expected = f"stored class-mean embeddings must be a finite ({len(self.classes)}, D) array"
        if not (np.issubdtype(means.dtype, np.floating) or np.issubdtype(means.dtype, np.integer)):
            raise TypeError(f"{expected} of real numbers, got dtype {means.dtype}")
        if means.ndim != 2 or len(means) != len(self.classes) or not np.all(np.isfinite(means)):
            raise ValueError(f"{expected}, got shape {means.shape}")
        with np.errstate(over="ignore"):
            converted = means.astype(np.float32, copy=False)
        if not np.all(np.isfinite(converted)):
            raise ValueError(f"{expected}, got values beyond the float32 range")
        return converted

