"""The LANE specification: a few condensed, labelled samples per class.

A developer's labelled data set is condensed (Eq. 7, Algorithm 1) into
``num_per_class`` synthetic samples per class. The specification keeps those
samples, their labels, the class counts of the original data and the exact
random-network family they were matched under, so a market can place every
specification and every user requirement in one shared embedding space.

It follows the ``learnware`` specification contract: it subclasses
``RegularStatSpecification``, its ``type`` is its class name, it is saved as JSON,
and it offers ``dist`` / ``inner_prod`` like the package's RKME specifications.
"""

from __future__ import annotations

import time
from functools import cached_property

import numpy as np
from learnware.specification import RegularStatSpecification

from .._checks import positive_int
from .condensation import condense
from .class_gaussians import ClassGaussians
from .class_mixtures import DEFAULT_COMPONENTS, DEFAULT_RANK, fit_class_mixture
from .formats import read_json, write_json
from .lane_file import FORMAT_VERSION, LIMITS, READABLE_VERSIONS, lane_fields_from_dict, lane_to_dict  # noqa: F401
from .networks import EmbeddingConfig, RandomEmbedding, checked_family, finite_embedding
from .kept_class_means import KeptClassMeans, data_class_means
from .lane_build import (  # noqa: F401  (the defaults are part of this module's interface)
    DATA_MEANS_MIN_ROWS, DEFAULT_BATCH_REAL, DEFAULT_INIT, DEFAULT_ITERATIONS, DEFAULT_LR, DEFAULT_NUM_NETS,
    FAMILY_SEED, POINTS_ITERATIONS, REQUIREMENT_BATCH_REAL, REQUIREMENT_ITERATIONS, plan_build,
)
from .released_points import ReleasablePoints


class LANESpecification(ReleasablePoints, KeptClassMeans, ClassGaussians, RegularStatSpecification):
    """Label-aware neural embedding specification (LANE).

    Build one with :func:`generate_lane_spec` or
    :meth:`generate_stat_spec_from_data`; read one with :meth:`load`. A market
    worker may :meth:`release_points` once the class means are stored: they are
    read back from the file when needed.
    """

    def __init__(self, num_nets: int = DEFAULT_NUM_NETS):
        self.num_nets = positive_int(num_nets, "num_nets", maximum=LIMITS["num_nets"])
        self.z = None  # (M, *input_shape) float32 synthetic samples
        self.labels: list = []  # label of each synthetic sample, as given by the developer
        self.classes: list = []  # distinct labels, in order of first appearance
        self.class_counts: list[int] = []  # real samples per class in the developer data
        self.embedding: dict = {}  # EmbeddingConfig.to_dict() plus "seed" and "num_nets"
        self.condensation: dict = {}  # the settings and measured cost of the condensation
        self.feature_range: list[float] = []  # [min, max] of the developer data, for clipping samples
        self.class_mixtures = None  # per class a ClassMixture of the developer's rows (mimic data), or None
        self.data_class_means = None  # (K, D) float32 class means of the developer's rows in the fixed family, or None
        super().__init__(type=self.__class__.__name__)

    # ------------------------------------------------------------------ build
    def generate_stat_spec_from_data(
        self,
        X,
        y=None,
        num_per_class: int = 10,
        *,
        iterations: int | None = None,
        batch_real: int | None = None,
        lr: float = DEFAULT_LR,
        optimizer: str = "adam",
        init: str = DEFAULT_INIT,
        embedding: str | None = None,
        width: int | None = None,
        depth: int | None = None,
        num_nets: int | None = None,
        normalization: str = "none",
        seed: int = 0,
        family_seed: int | None = None,
        mixture_components: int = DEFAULT_COMPONENTS,
        mixture_rank: int = DEFAULT_RANK,
        data_means: bool = True,
        data_means_min_rows: int = DATA_MEANS_MIN_ROWS,
        verbose: bool = True,
    ) -> "LANESpecification":
        """Condense ``(X, y)`` into ``num_per_class`` synthetic samples per class.

        ``X`` is ``(n, d)`` (vectors, random-MLP embedding) or ``(n, c, h, w)``
        (images, ConvNetBN embedding); ``embedding`` overrides that choice.
        ``y=None`` treats the whole set as one class (a user's unlabelled data).
        ``iterations`` and ``batch_real`` (real samples per class per iteration)
        default to 20 and 128 when the spec keeps its rows' class means (below);
        otherwise the points carry the search, and they default to 200 and 128
        for labelled data, 600 and 1024 for an unlabelled requirement (see
        README, "Choosing the defaults").
        ``init`` chooses the starting points: ``"kmeans"`` (per-class k-means
        centres, each an average of at least two rows: the default), ``"real"``
        (random real samples, as in the paper) or ``"noise"`` (Gaussian noise
        around the data mean); ``"kmeans"`` and ``"noise"`` never copy a real
        sample into the specification, so they need 2 rows a class (a class of
        one row is condensed into that row whatever the start). ``normalization="none"`` (the default)
        matches in the market's fixed embedding family; ``"calibrated"`` gives
        the format-1 family whose BatchNorm is calibrated on each batch.
        ``seed`` drives the condensation; ``family_seed`` names the search
        family's networks: by default the market's one family per feature space
        (``FAMILY_SEED``) for a fixed family, ``seed`` for a calibrated one (as
        format 1 did). ``mixture_components`` / ``mixture_rank`` size the class
        mixtures that mimic data are drawn from (:mod:`.class_mixtures`; beyond the
        paper); ``mixture_components=0`` keeps only the condensed points (Eq. 10
        then fits its Gaussians to them, as the paper does), and so does a spec
        with a class of fewer than ``MIN_COMPONENT_ROWS`` (20) rows. An unlabelled
        requirement carries no mixtures. ``data_means`` (the default; beyond the
        paper) keeps each class's mean embedding of ``X`` itself in a fixed
        family, which a search then reads instead of the points' means
        (:mod:`.kept_class_means`), when every class has at least
        ``data_means_min_rows`` rows (fewer would let the means reveal which rows
        were used: :func:`~k2v_learnware.compare.class_means_privacy_gap`); a
        calibrated family keeps none.
        """
        plan = plan_build(
            X, y, num_per_class, iterations=iterations, batch_real=batch_real, lr=lr, optimizer=optimizer,
            init=init, embedding=embedding, width=width, depth=depth,
            num_nets=self.num_nets if num_nets is None else num_nets, normalization=normalization, seed=seed,
            family_seed=family_seed, mixture_components=mixture_components, mixture_rank=mixture_rank,
            data_means=data_means, data_means_min_rows=data_means_min_rows,
        )
        X, classes, class_index = plan.X, plan.classes, plan.class_index
        start = time.perf_counter()
        result = condense(
            plan.data, class_index, len(classes), plan.num_per_class, plan.config,
            iterations=plan.iterations, batch_real=plan.batch_real, lr=plan.lr, optimizer=plan.optimizer,
            init=plan.init, seed=plan.seed, verbose=verbose,
        )
        seconds = time.perf_counter() - start
        if not np.all(np.isfinite(result.z)):
            raise ValueError(f"the condensation diverged (non-finite points) with lr={plan.lr} on data of magnitude "
                             f"up to {float(np.max(np.abs(X))):.3g}; lower lr or rescale X")

        self.num_nets = plan.num_nets  # only now: a failed build leaves the spec as it was
        self.z = result.z.reshape((len(result.z),) + X.shape[1:])
        self.labels = [classes[k] for k in result.z_class]
        self.classes = classes
        self.class_counts = [int(n) for n in plan.counts]
        self.embedding = {**plan.config.to_dict(), "seed": plan.family_seed, "num_nets": self.num_nets}
        self.condensation = {
            "num_per_class": plan.num_per_class, "iterations": plan.iterations, "batch_real": plan.batch_real,
            "lr": plan.lr, "optimizer": plan.optimizer, "init": plan.init, "seed": plan.seed,
            "final_loss": float(np.mean(result.losses[-10:])) if result.losses else None,
            "seconds": seconds,
        }
        self.feature_range = [float(X.min()), float(X.max())]
        self.class_mixtures = None
        self.data_class_means = None
        self._forget_derived()
        if plan.keeps_means:
            start = time.perf_counter()
            self.data_class_means = data_class_means(self._family, plan.data, class_index, len(classes))
            self.condensation["data_means_seconds"] = time.perf_counter() - start
        if plan.fits_mixtures:
            flat = X.reshape(len(X), -1)
            start = time.perf_counter()
            self.class_mixtures = [fit_class_mixture(flat[class_index == k], plan.mixture_components,
                                                     plan.mixture_rank, seed=plan.seed) for k in range(len(classes))]
            self.condensation["mixture_seconds"] = time.perf_counter() - start
        self._forget_derived()
        return self

    # ------------------------------------------------------------- accessors
    def _forget_derived(self):
        """Drop what was computed from the samples (embedding family, covariance factors)."""
        for derived in ("_family", "_factor_cache", "_class_mean_cache"):
            self.__dict__.pop(derived, None)

    def _require_content(self):
        if self._points_shape() is None:
            raise ValueError("this LANESpecification is empty: generate it from data or load it from a file")

    def get_z(self) -> np.ndarray:
        """The synthetic samples, shaped like the developer's data: ``(M, d)`` or ``(M, c, h, w)``."""
        self._require_content()
        return self.z.copy()

    def get_labels(self) -> np.ndarray:
        """The label of each synthetic sample, of the type the developer gave."""
        self._require_content()
        return np.array(self.labels) if self.classes != [None] else np.array(self.labels, dtype=object)

    @property
    def input_shape(self) -> tuple[int, ...]:
        self._require_content()
        return self._points_shape()[1:]

    @property
    def class_weights(self) -> np.ndarray:
        """Share of each class (in ``classes`` order) in the developer's data."""
        counts = np.asarray(self.class_counts, dtype=float)
        return counts / counts.sum()

    def _class_index(self, label) -> int:
        """Where ``label`` stands in ``classes``; an unknown label is a ValueError naming the classes."""
        self._require_content()
        if label not in self.classes:
            raise ValueError(f"label {label!r} is not a class of this specification; classes are {self.classes}")
        return self.classes.index(label)

    def _rows_of(self, label) -> np.ndarray:
        return np.array([v == label for v in self.labels])

    # ------------------------------------------------------------- distances
    @cached_property
    def _family(self) -> RandomEmbedding:
        self._require_content()
        e = self.embedding
        return RandomEmbedding.of(EmbeddingConfig.from_dict(e), seed=e["seed"], num_nets=e["num_nets"])

    def embedding_family(self) -> RandomEmbedding:
        """The seeded random-network family this specification was built for."""
        return self._family

    def mean_embedding(self, family: RandomEmbedding, reference: np.ndarray | None = None) -> np.ndarray:
        """Kernel mean embedding of the data this spec stands for: class means weighted by class share.

        ``reference`` calibrates a format-1 family; a fixed family ignores it.
        """
        self._require_content()
        family = checked_family(family, self.input_shape)
        if family.fixed:
            return self.class_weights @ self.class_mean_embeddings(family).astype(np.float64)
        (emb,) = family.embed([self._family_input(family)], reference)
        return finite_embedding(self.class_weights @ self.class_mean_rows(emb), "this specification's mean embedding")

    def _family_input(self, family: RandomEmbedding) -> np.ndarray:
        """The points shaped as ``family`` takes them (flat vectors for an 'mlp' over images)."""
        return self.z.reshape((len(self.z),) + family.config.input_shape)

    def class_mean_rows(self, rows: np.ndarray) -> np.ndarray:
        """``(K, ...)`` mean of ``rows`` (one per synthetic sample, e.g. their embeddings) per class."""
        return np.stack([rows[self._rows_of(c)].mean(axis=0) for c in self.classes])

    def _pair_embeddings(self, other) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(other, LANESpecification):
            raise TypeError(f"can only compare a LANESpecification with another, got {type(other).__name__}")
        self._require_content()
        other._require_content()
        if other.input_shape != self.input_shape:
            raise ValueError(
                f"feature dimensions differ: this specification has samples of shape {self.input_shape}, "
                f"the other {other.input_shape}"
            )
        family = self._family
        reference = None if family.fixed else np.concatenate([self._family_input(family), other._family_input(family)])
        return self.mean_embedding(family, reference), other.mean_embedding(family, reference)

    def inner_prod(self, other: "LANESpecification") -> float:
        """<mu_self, mu_other> in this spec's random embedding (format 1: BatchNorm calibrated on both point sets)."""
        a, b = self._pair_embeddings(other)
        return float(a @ b)

    def dist(self, other: "LANESpecification", omit_term1: bool = False) -> float:
        """Squared MMD between the two specifications in the shared random embedding.

        With ``omit_term1`` the ``<mu_self, mu_self>`` term is left out, as the
        ``learnware`` package's RKME specifications do.
        """
        a, b = self._pair_embeddings(other)
        term1 = 0.0 if omit_term1 else float(a @ a)
        return term1 - 2.0 * float(a @ b) + float(b @ b)

    # ------------------------------------------------------------------- I/O
    def to_dict(self) -> dict:
        self._require_content()
        return lane_to_dict(self)

    def save(self, filepath) -> None:
        """Write the specification as JSON (see ``specs/lane-specification.schema.json``)."""
        write_json(filepath, self.to_dict())

    def load(self, filepath) -> bool:
        """Read a specification written by :meth:`save` (format 1 or 2), checking schema, version and consistency."""
        data = read_json(filepath, self.type, supported_versions=READABLE_VERSIONS)
        self._set_from_dict(data, where=str(filepath))
        self.__dict__["_source_file"] = str(filepath)  # where release_points reads the points back from
        return True

    def _set_from_dict(self, data: dict, where: str) -> None:
        for name, value in lane_fields_from_dict(data, where).items():
            setattr(self, name, value)
        self.num_nets = int(self.embedding["num_nets"])
        self._forget_derived()

    def __repr__(self) -> str:
        shape = self._points_shape()
        if shape is None:
            return "LANESpecification(empty)"
        return (f"LANESpecification({len(self.classes)} classes, {shape[0]} samples of shape "
                f"{self.input_shape}, embedding={self.embedding['kind']})")


def lane_spec_of(learnware) -> LANESpecification | None:
    """The LANE specification a ``learnware.Learnware`` carries, or None."""
    spec = learnware.get_specification().get_stat_spec().get("LANESpecification")
    return spec if isinstance(spec, LANESpecification) else None


def generate_lane_spec(X, y=None, **options) -> LANESpecification:
    """Build a :class:`LANESpecification` from data; ``options`` go to
    :meth:`LANESpecification.generate_stat_spec_from_data`."""
    return LANESpecification().generate_stat_spec_from_data(X, y, **options)
