"""What a LANE build will do, decided and checked before any work starts.

:meth:`LANESpecification.generate_stat_spec_from_data` takes many options whose
defaults depend on each other and on the data (whether the spec keeps its rows'
class means decides how long the condensation runs). :func:`plan_build` checks
every argument, resolves those defaults and the embedding, and returns one
:class:`BuildPlan`, so that the spec's own module holds only what a spec is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_data_array, as_labels, one_of, positive_float, positive_int, seed_int
from .class_mixtures import MAX_COMPONENTS, MAX_RANK, MIN_COMPONENT_ROWS
from .condensation import INITS, OPTIMIZERS
from .formats import MAX_FILE_BYTES
from .lane_file import LIMITS, family_output_width
from .networks import EMBEDDING_KINDS, NORMALIZATIONS, EmbeddingConfig

#: Defaults measured on digits and Fashion-MNIST (see README, "Choosing the defaults"). 20 steps from k-means
#: centres: a search reads the rows' own class means (format 4) and mimic data come from the class mixtures, so
#: the points no longer carry the search; 20 steps keep a spec within ~1-1.5x RKME's time, and k-means centres
#: leak membership no more than 200 steps from real rows did (fidelity's privacy gap).
DEFAULT_ITERATIONS = 20
DEFAULT_INIT = "kmeans"
#: Steps when the points carry the search (classes too small to keep their rows' means, or data_means=False).
POINTS_ITERATIONS = 200
DEFAULT_LR = 0.05
DEFAULT_BATCH_REAL = 128
# An unlabelled requirement (y=None) too small to keep its rows' mean only has to carry its mean embedding
# into the mixture-weight QP; matching it on whole batches for longer halves the weight error.
REQUIREMENT_ITERATIONS = 600
REQUIREMENT_BATCH_REAL = 1024
DEFAULT_NUM_NETS = 8
#: Fewest rows every class needs before a spec keeps its rows' class means: a class mean of few rows tells its
#: rows apart from fresh ones (measured membership signal, digits: 3/10/30/90 rows 0.55/0.32/0.10/0.00).
DATA_MEANS_MIN_ROWS = 100
#: The seed of the one fixed search family per feature space (format 2): every spec and requirement
#: built with the defaults shares it, so a market's stored class means serve every search.
FAMILY_SEED = 0


@dataclass(frozen=True)
class BuildPlan:
    """Checked arguments and resolved defaults of one LANE build."""

    X: np.ndarray  # the developer's rows as given (float32)
    data: np.ndarray  # the same rows shaped as the embedding takes them
    classes: list  # distinct labels, in order of first appearance ([None] for a requirement)
    class_index: np.ndarray  # each row's position in ``classes``
    counts: np.ndarray  # rows per class
    config: EmbeddingConfig
    num_per_class: int
    iterations: int
    batch_real: int
    lr: float
    optimizer: str
    init: str
    seed: int
    family_seed: int
    num_nets: int  # networks in the search family (lane.py passes the spec's own when none is given)
    keeps_means: bool  # keep the rows' class means (format 4)
    mixture_components: int
    mixture_rank: int
    labelled: bool
    fits_mixtures: bool  # fit class mixtures: labelled, asked for, and every class has MIN_COMPONENT_ROWS rows


def plan_build(X, y, num_per_class, *, iterations, batch_real, lr, optimizer, init, embedding, width, depth,
               num_nets, normalization, seed, family_seed, mixture_components, mixture_rank, data_means,
               data_means_min_rows) -> BuildPlan:
    """Check every argument of a build (ValueError / TypeError naming the problem) and resolve its defaults."""
    X = as_data_array(X)
    mixture_components = positive_int(mixture_components, "mixture_components", minimum=0, maximum=MAX_COMPONENTS)
    mixture_rank = positive_int(mixture_rank, "mixture_rank", maximum=MAX_RANK)
    data_means_min_rows = positive_int(data_means_min_rows, "data_means_min_rows", minimum=1)
    if not isinstance(data_means, bool):
        raise TypeError(f"data_means must be True or False, got {type(data_means).__name__} ({data_means!r})")
    num_per_class = positive_int(num_per_class, "num_per_class", maximum=LIMITS["num_per_class"])
    if iterations is not None:
        iterations = positive_int(iterations, "iterations", minimum=0, maximum=LIMITS["iterations"])
    if batch_real is not None:
        batch_real = positive_int(batch_real, "batch_real", maximum=LIMITS["batch_real"])
    lr = positive_float(lr, "lr")
    one_of(optimizer, "optimizer", OPTIMIZERS)
    one_of(init, "init", INITS)
    seed = seed_int(seed, "seed")
    if embedding is not None:
        one_of(embedding, "embedding", EMBEDDING_KINDS)
    one_of(normalization, "normalization", NORMALIZATIONS)
    family_seed = (FAMILY_SEED if normalization == "none" else seed) if family_seed is None else \
        seed_int(family_seed, "family_seed")
    num_nets = positive_int(num_nets, "num_nets", maximum=LIMITS["num_nets"])
    if width is not None:
        width = positive_int(width, "width", maximum=LIMITS["width"])
    if depth is not None:
        depth = positive_int(depth, "depth", maximum=LIMITS["depth"])

    labels = [None] * len(X) if y is None else as_labels(y, len(X))
    classes = list(dict.fromkeys(labels))
    _check_file_limits(X, len(classes), num_per_class)
    index_of = {c: i for i, c in enumerate(classes)}
    class_index = np.array([index_of[v] for v in labels])
    counts = np.bincount(class_index, minlength=len(classes))
    needed = 1 if init == "noise" else num_per_class
    short = [(c, int(n)) for c, n in zip(classes, counts) if n < needed]
    if short:
        raise ValueError(
            f"class(es) {', '.join(f'{c!r} ({n} samples)' for c, n in short)} have fewer than "
            f"num_per_class={num_per_class} samples to initialise from; lower num_per_class or use init='noise'"
        )
    # 'kmeans' and 'noise' promise no real row in the spec, but Eq. 7 matches a one-row class's embedding by
    # moving its points onto that row whatever the start (noise, 200 steps: a digit within 0.1 % of its norm).
    if init in ("kmeans", "noise") and int(counts.min()) < 2:
        lone = [c for c, n in zip(classes, counts) if n < 2]
        raise ValueError(f"init={init!r} needs at least 2 samples per class: it stores no real row, and a class "
                         f"of one row is condensed into that row whatever the start; class(es) "
                         f"{', '.join(repr(c) for c in lone)} have 1: use init='real' (which keeps real rows)")

    # When the spec keeps its rows' class means the search reads those, and a few steps only shape the
    # points; otherwise the points carry the search, and the condensation runs as long as it did before.
    keeps_means = data_means and normalization == "none" and int(counts.min()) >= data_means_min_rows
    if iterations is None:
        iterations = DEFAULT_ITERATIONS if keeps_means else REQUIREMENT_ITERATIONS if y is None else \
            POINTS_ITERATIONS
    if batch_real is None:
        batch_real = REQUIREMENT_BATCH_REAL if y is None and not keeps_means else DEFAULT_BATCH_REAL
    # the default kind's sizes serve an overriding kind too (so an 'mlp' over images never builds the convnet)
    kind, width, depth = EmbeddingConfig.default_sizes(X.shape[1:], width, depth)
    kind = embedding or kind
    shape = (int(np.prod(X.shape[1:])),) if kind == "mlp" else X.shape[1:]
    config = EmbeddingConfig(kind, shape, width, depth, normalization)
    # a row of data_class_means is the family's whole output; a file holds rows of at most LIMITS["family_output"]
    keeps_means = keeps_means and family_output_width(
        {**config.to_dict(), "num_nets": num_nets}) <= LIMITS["family_output"]
    if config.kind == "mlp" and len(X) < 2:
        raise ValueError("X has 1 sample; an MLP-embedded LANE specification needs at least 2 (the condensation "
                         "normalises each real batch, which one row cannot)")
    return BuildPlan(
        X=X, data=X.reshape((len(X),) + config.input_shape), classes=classes, class_index=class_index,
        counts=counts, config=config, num_per_class=num_per_class, iterations=iterations, batch_real=batch_real,
        lr=lr, optimizer=optimizer, init=init, seed=int(seed), family_seed=int(family_seed), num_nets=num_nets,
        keeps_means=keeps_means, mixture_components=mixture_components, mixture_rank=mixture_rank,
        labelled=y is not None,
        # A file holds one mixture per class or none, and a mixture of fewer rows would describe those rows:
        # one class under the minimum leaves the whole spec without mixtures (mimic data from the points).
        fits_mixtures=bool(mixture_components) and y is not None and int(counts.min()) >= MIN_COMPONENT_ROWS,
    )


def _check_file_limits(X: np.ndarray, num_classes: int, num_per_class: int) -> None:
    """Refuse, before any work, a spec whose file its loader would refuse (the schema's maxima, ``LIMITS``)."""
    features = int(np.prod(X.shape[1:]))
    points = num_classes * num_per_class
    if features > LIMITS["features"]:
        raise ValueError(f"X has {features} features per sample, more than the {LIMITS['features']} a LANE "
                         "specification file may hold")
    if num_classes > LIMITS["classes"]:
        raise ValueError(f"y has {num_classes} classes, more than the {LIMITS['classes']} a LANE specification "
                         "file may hold")
    if points > LIMITS["points"]:
        raise ValueError(f"{num_classes} classes x num_per_class={num_per_class} would be {points} points, more "
                         f"than the {LIMITS['points']} a LANE specification file may hold; lower num_per_class")
    if 2 * points * features > MAX_FILE_BYTES:  # each number takes at least 2 bytes of JSON ("0,")
        raise ValueError(f"{points} points of {features} features would make a file over the {MAX_FILE_BYTES} "
                         "bytes a LANE specification file may have; lower num_per_class")
