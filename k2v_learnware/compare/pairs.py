"""Comparison: how far apart two specifications are (:func:`compare_specifications`, :func:`compare_many`).

A market holds three kinds of specification: LANE and the ``learnware``
package's RKME (both weighted point sets in the data's feature space) and
Know2Vec (a model's boundary graph). :func:`compare_specifications` puts a
number on how far two of them are apart, :func:`compare_many` gives the
pairwise matrix, and :func:`~.fidelity.fidelity` says how well one specification
represents a data set.

Conventions, the same for every pair:

- ``distance`` of two point sets is the MMD itself, ``||mu_a - mu_b||`` (the
  square root of what ``dist`` returns, so it is a metric); ``details["mmd2"]``
  keeps the squared value. It is computed as the norm of the difference where
  the embeddings are explicit, so a specification compared with itself gives
  exactly 0; tiny negative squared values from the kernel expansion are
  clamped to 0.
- ``similarity`` of two point sets is ``2 <mu_a, mu_b> / (||mu_a||^2 + ||mu_b||^2)
  = 1 - MMD^2 / (||mu_a||^2 + ||mu_b||^2)``: 1 exactly when the distance is 0,
  decreasing in the distance for the pair's own scale, free of the embedding's
  units (so LANE and RKME numbers read alike), and in [0, 1] because both
  embeddings are non-negative (RBF kernels with non-negative weights, ReLU
  random features). Unlike a cosine it does not call ``mu`` and ``2 mu`` equal.
- Know2Vec pairs are compared by the cosine of the two models' embeddings in a
  fitted :class:`~k2v_learnware.retrieval.proxy.Know2VecProxy`: ``similarity`` is that
  cosine (in [-1, 1]) and ``distance = 1 - cosine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from learnware.specification import RKMETableSpecification

from ..specification.know2vec import Know2VecSpecification
from ..specification.lane import LANESpecification
from ..specification.networks import RandomEmbedding

#: Rows of the data the RBF-kernel MMD of an RKME spec uses at most (its cost is quadratic in them).
MAX_KERNEL_ROWS = 4096

_POINT_SET_TYPES = (LANESpecification, RKMETableSpecification)
_SUPPORTED = "LANESpecification, RKMETableSpecification or Know2VecSpecification"


@dataclass(frozen=True)
class Comparison:
    """How far apart two specifications are, and by which method (see the module docstring)."""

    distance: float
    similarity: float
    method: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ComparisonMatrix:
    """Pairwise comparisons of several specifications: symmetric, zero distance on the diagonal."""

    distance: np.ndarray
    similarity: np.ndarray
    methods: list
    labels: list


# --------------------------------------------------------------------- helpers
def _kind(spec) -> str:
    if isinstance(spec, LANESpecification):
        return "LANE"
    if isinstance(spec, RKMETableSpecification):
        return "RKME"
    if isinstance(spec, Know2VecSpecification):
        return "Know2Vec"
    raise TypeError(f"cannot compare a {type(spec).__name__}: expected a {_SUPPORTED}")


def _sample_shape(spec) -> tuple[int, ...]:
    """Shape of one sample of a point-set specification, after checking it has content."""
    if isinstance(spec, LANESpecification):
        return spec.input_shape  # raises ValueError when empty
    if isinstance(spec, RKMETableSpecification):
        if spec.z is None or spec.beta is None:
            raise ValueError("this RKMETableSpecification is empty: generate it from data or load it first")
        return tuple(int(s) for s in spec.z.shape[1:])
    return spec.input_shape  # Know2Vec; raises ValueError when empty


def _features(shape) -> int:
    return int(np.prod(shape))


def _check_same_features(a_shape, b_shape, a_name="a", b_name="b"):
    if _features(a_shape) != _features(b_shape):
        raise ValueError(
            f"feature dimensions differ: {a_name} has samples of shape {tuple(a_shape)} ({_features(a_shape)} "
            f"features), {b_name} of shape {tuple(b_shape)} ({_features(b_shape)} features)"
        )


def _rkme_points(spec: RKMETableSpecification) -> tuple[np.ndarray, np.ndarray]:
    """Flattened points ``(K, D)`` and weights ``beta`` of an RKME specification."""
    z = np.asarray(spec.get_z(), dtype=np.float64)
    return z.reshape(len(z), -1), np.asarray(spec.get_beta(), dtype=np.float64).reshape(-1)


def _lane_family(embedding, lane: LANESpecification) -> RandomEmbedding:
    if embedding is None:
        return lane.embedding_family()
    if not isinstance(embedding, RandomEmbedding):
        raise TypeError(f"embedding must be a RandomEmbedding (e.g. spec.embedding_family()), "
                        f"got {type(embedding).__name__}")
    if _features(embedding.config.input_shape) != _features(lane.input_shape):
        raise ValueError(f"the embedding takes samples of shape {embedding.config.input_shape}, the specification "
                         f"has samples of shape {lane.input_shape}")
    return embedding


def _family_description(family: RandomEmbedding) -> dict:
    return {**family.config.to_dict(), "seed": family.seed, "num_nets": family.num_nets}


def _as_family_input(points: np.ndarray, family: RandomEmbedding) -> np.ndarray:
    return np.asarray(points, dtype=np.float32).reshape((len(points),) + family.config.input_shape)


def _lane_mean(spec: LANESpecification, family: RandomEmbedding, reference: np.ndarray) -> np.ndarray:
    """A LANE spec's mean embedding (class means weighted by class share) in any family of its feature size."""
    (emb,) = family.embed([_as_family_input(spec.get_z(), family)], reference)
    return spec.class_weights @ spec.class_mean_rows(emb)


def _from_mean_embeddings(mu_a: np.ndarray, mu_b: np.ndarray, method: str, details: dict) -> Comparison:
    """Distance and similarity of two explicit mean embeddings."""
    kaa, kab, kbb = float(mu_a @ mu_a), float(mu_a @ mu_b), float(mu_b @ mu_b)
    mmd2 = float(np.sum((mu_a - mu_b) ** 2))
    return _from_inner_products(kaa, kab, kbb, mmd2, method, details)


def _from_inner_products(kaa, kab, kbb, mmd2, method, details) -> Comparison:
    mmd2 = max(float(mmd2), 0.0)
    norms = kaa + kbb
    similarity = 1.0 if mmd2 == 0.0 else (float(np.clip(1.0 - mmd2 / norms, 0.0, 1.0)) if norms > 0 else 0.0)
    details = {**details, "mmd2": mmd2, "inner_products": {"aa": kaa, "ab": kab, "bb": kbb}}
    return Comparison(distance=float(np.sqrt(mmd2)), similarity=similarity, method=method, details=details)


# ----------------------------------------------------------------- the pairs
def _lane_lane(a: LANESpecification, b: LANESpecification, embedding) -> Comparison:
    """MMD of the two specs' mean embeddings in one random-network family, as ``LANESpecification.dist`` (with
    the default family, the square root of ``a.dist(b)``): ``mean_embedding``, so the rows' class means a spec
    keeps (format 4) stand for it in its own family, as in the search; a calibrated family takes BatchNorm from
    both point sets."""
    family = _lane_family(embedding, a)
    reference = np.concatenate([_as_family_input(a.get_z(), family), _as_family_input(b.get_z(), family)])
    mu_a, mu_b = (np.asarray(s.mean_embedding(family, reference), dtype=np.float64) for s in (a, b))
    return _from_mean_embeddings(mu_a, mu_b, "lane-mmd", {"embedding": _family_description(family)})


def _lane_rkme(lane: LANESpecification, rkme: RKMETableSpecification, embedding, lane_first: bool) -> Comparison:
    """LANE points weighted by class share, RKME points by beta, both in the LANE spec's random family.

    The LANE family is used whichever order the two come in, and BatchNorm is
    calibrated on the union of both point sets (LANE first), so the result does
    not depend on the order.
    """
    family = _lane_family(embedding, lane)
    z, beta = _rkme_points(rkme)
    z = _as_family_input(z, family)
    reference = np.concatenate([_as_family_input(lane.get_z(), family), z])
    mu_lane = _lane_mean(lane, family, reference)
    (emb,) = family.embed([z], reference)
    mu_rkme = beta @ emb
    details = {"embedding": _family_description(family), "rkme_gamma": float(rkme.gamma)}
    mu_a, mu_b = (mu_lane, mu_rkme) if lane_first else (mu_rkme, mu_lane)
    return _from_mean_embeddings(mu_a, mu_b, "lane-rkme-mmd", details)


def _rkme_rkme(a: RKMETableSpecification, b: RKMETableSpecification) -> Comparison:
    """The package's own RBF-kernel MMD; both specs must use one bandwidth to share a kernel space."""
    if not np.isclose(float(a.gamma), float(b.gamma), rtol=1e-12, atol=0.0):
        raise ValueError(
            f"the RKME specifications use different kernel bandwidths (gamma {a.gamma} and {b.gamma}): their "
            "embeddings live in different kernel spaces; generate both with one gamma"
        )
    kaa, kab, kbb = a.inner_prod(a), a.inner_prod(b), b.inner_prod(b)
    mmd2 = a.dist(b)
    return _from_inner_products(kaa, kab, kbb, mmd2, "rkme-mmd", {"gamma": float(a.gamma)})


def _know2vec_pair(a, b, proxy) -> Comparison:
    from ..retrieval.proxy import Know2VecProxy

    if proxy is None:
        raise ValueError("comparing two Know2Vec specifications needs a fitted Know2VecProxy: pass proxy=... "
                         "(e.g. the one market.fit_know2vec_proxy() trained)")
    if not isinstance(proxy, Know2VecProxy):
        raise TypeError(f"proxy must be a fitted Know2VecProxy, got {type(proxy).__name__}")
    h = proxy.embed_models([a, b])  # raises when the proxy is not fitted or its input size differs
    cosine = float(np.clip(h[0] @ h[1], -1.0, 1.0))
    return Comparison(distance=max(0.0, 1.0 - cosine), similarity=cosine, method="know2vec-cosine",
                      details={"embedding_dim": int(h.shape[1])})


# ------------------------------------------------------------------- public
def compare_specifications(a, b, *, proxy=None, embedding: RandomEmbedding | None = None) -> Comparison:
    """Compare two specifications of the kinds LANE, RKME (``learnware``'s table spec) and Know2Vec.

    - LANE-LANE: MMD in a shared random embedding (``embedding``, default the
      family of ``a``), method ``"lane-mmd"``.
    - RKME-RKME: the package's ``dist`` (RBF kernel), method ``"rkme-mmd"``.
    - LANE-RKME, either order: MMD of the two weighted point sets (LANE by class
      share, RKME by beta) in the LANE spec's random family (or ``embedding``),
      method ``"lane-rkme-mmd"``.
    - Know2Vec-Know2Vec: cosine in a fitted ``proxy``, method ``"know2vec-cosine"``.

    Raises ``ValueError`` when the feature dimensions differ or a Know2Vec pair
    has no proxy, and ``TypeError`` for a Know2Vec spec against a LANE or RKME
    one (a model's decision boundaries against a data distribution) or an
    unsupported object.
    """
    kind_a, kind_b = _kind(a), _kind(b)
    if (kind_a == "Know2Vec") != (kind_b == "Know2Vec"):
        data_kind = kind_b if kind_a == "Know2Vec" else kind_a
        raise TypeError(
            f"cannot compare a Know2Vec specification with a {data_kind} one: Know2Vec describes a model's decision "
            f"boundaries, {data_kind} a data distribution; compare Know2Vec specifications with each other"
        )
    _check_same_features(_sample_shape(a), _sample_shape(b))
    if kind_a == "Know2Vec":
        return _know2vec_pair(a, b, proxy)
    if kind_a == kind_b == "LANE":
        return _lane_lane(a, b, embedding)
    if kind_a == kind_b == "RKME":
        return _rkme_rkme(a, b)
    if kind_a == "LANE":
        return _lane_rkme(a, b, embedding, lane_first=True)
    return _lane_rkme(b, a, embedding, lane_first=False)


def compare_many(specs, labels=None, **options) -> ComparisonMatrix:
    """All pairwise comparisons of ``specs`` (``options`` go to :func:`compare_specifications`).

    Each pair is compared once and mirrored, so the matrix is symmetric; the
    diagonal is distance 0, similarity 1. Unless ``embedding`` is given, every
    pair involving a LANE spec uses the random family of the first LANE spec in
    the list, so all MMD entries live in one space.
    """
    specs = list(specs)
    if len(specs) < 2:
        raise ValueError(f"compare_many needs at least 2 specifications, got {len(specs)}")
    kinds = [_kind(s) for s in specs]
    if labels is None:
        labels = [f"{i}: {k}" for i, k in enumerate(kinds)]
    elif isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
        raise TypeError(f"labels must be a sequence of one name per specification, got {type(labels).__name__}")
    labels = [str(v) for v in labels]
    if len(labels) != len(specs):
        raise ValueError(f"{len(labels)} labels for {len(specs)} specifications; give one per specification")
    if options.get("embedding") is None and "LANE" in kinds:
        options["embedding"] = specs[kinds.index("LANE")].embedding_family()

    n = len(specs)
    distance, similarity = np.zeros((n, n)), np.ones((n, n))
    methods = [["self"] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            try:
                result = compare_specifications(specs[i], specs[j], **options)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"specs[{i}] ({labels[i]}) vs specs[{j}] ({labels[j]}): {exc}") from exc
            distance[i, j] = distance[j, i] = result.distance
            similarity[i, j] = similarity[j, i] = result.similarity
            methods[i][j] = methods[j][i] = result.method
    return ComparisonMatrix(distance=distance, similarity=similarity, methods=methods, labels=labels)
