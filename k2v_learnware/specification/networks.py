"""Random neural networks that give LANE its embedding space.

LANE (Eq. 7) matches class-mean embeddings under networks whose weights are drawn
afresh from a fixed distribution. Two families are offered: ``ConvNetBN`` for
images (conv 3x3, [BatchNorm,] ReLU, average pooling) and ``RandomMLP`` for
feature vectors.

A family is *fixed* (``normalization="none"``, format version 2, the default): no
BatchNorm, so a network is one function of its seed alone. Every learnware's
class-mean embeddings can then be computed once, when it is added, and a search
over 10,000 learnwares reads them instead of re-embedding every point. Weights
are He-normal and biases zero, so each network is positively homogeneous: inputs
on any scale (pixels in 0..255, embeddings in -1..1) give the same geometry up to
one factor, which the mixture-weight QP does not see.

The earlier family (``normalization="calibrated"``, version 1 specs) starts every
network with a BatchNorm whose statistics are *calibrated* on a reference set
(:func:`calibrate_batchnorm`): during condensation the real mini-batch, at search
time the user's data. That makes the embedding depend on who is searching; it is
kept so that version 1 specifications load and search as before.

Weights are drawn from a ``torch.Generator`` seeded by the caller, never from the
global RNG, so a configuration plus a seed names one network exactly.
"""

from __future__ import annotations

import math
from functools import cached_property, lru_cache
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._checks import positive_int
from .embedding_config import EMBEDDING_KINDS, NORMALIZATIONS, EmbeddingConfig  # noqa: F401  (this module's API)

# Bounds that keep a single embedding call's memory and time predictable.
MAX_REFERENCE_SAMPLES = 4096
CHUNK_SIZE = 2048
# Smallest variance a BatchNorm channel may have, relative to its layer's mean variance.
VARIANCE_FLOOR = 1e-2


class ConvNetBN(nn.Module):
    """``depth`` blocks of conv 3x3 -> [BatchNorm ->] ReLU -> AvgPool(2), flattened."""

    def __init__(self, in_channels: int, image_size: tuple[int, int], width: int = 32, depth: int = 3,
                 batchnorm: bool = True):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(in_channels, affine=False)] if batchnorm else []
        channels, (h, w) = in_channels, image_size
        for _ in range(depth):
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width, affine=False))
            layers += [nn.ReLU(), nn.AvgPool2d(2)]
            channels, h, w = width, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.out_features = width * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)


class RandomMLP(nn.Module):
    """``depth`` blocks of Linear -> [BatchNorm ->] ReLU on flat feature vectors."""

    def __init__(self, in_features: int, width: int = 256, depth: int = 2, batchnorm: bool = True):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(in_features, affine=False)] if batchnorm else []
        size = in_features
        for _ in range(depth):
            layers.append(nn.Linear(size, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width, affine=False))
            layers.append(nn.ReLU())
            size = width
        self.features = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.flatten(1))


@torch.no_grad()
def calibrate_batchnorm(net: nn.Module, reference: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's statistics to those of ``reference`` and switch to eval mode.

    A channel with (almost) no variance in the reference - a pixel that is always
    blank, a ReLU unit that never fires - gets its variance raised to
    ``VARIANCE_FLOOR`` times the layer's mean variance, so that a small deviation
    in another set is not blown up by ``1 / sqrt(eps)``.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # cumulative average: one pass gives the batch's exact statistics
    net.train()
    net(reference)
    for module in norms:
        module.running_var.clamp_(min=VARIANCE_FLOOR * float(module.running_var.mean()))
    return net.eval()


def _subsample(x: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(x) <= limit:
        return x
    idx = np.random.default_rng(seed).choice(len(x), size=limit, replace=False)
    return x[np.sort(idx)]


class RandomEmbedding:
    """A fixed, seeded set of ``num_nets`` random networks; their outputs concatenated.

    The feature map is ``psi(x) = [net_1(x), ..., net_m(x)] / sqrt(m)`` so that
    inner products average over networks. It is deterministic given the
    configuration and the seed (and, for a calibrated family, the reference set
    used to calibrate BatchNorm).
    """

    @classmethod
    def of(cls, config: EmbeddingConfig, seed: int = 0, num_nets: int = 8) -> "RandomEmbedding":
        """The family for these settings; a fixed family is built once per process and shared.

        Fixed networks are never modified after they are built (eval mode, no
        gradients), so every spec and every search thread may use the same ones;
        a calibrated family changes its BatchNorm on each call and is built anew.
        """
        if config.fixed:
            return _shared_family(config, int(seed), int(num_nets))
        return cls(config, seed, num_nets)

    def __init__(self, config: EmbeddingConfig, seed: int = 0, num_nets: int = 8):
        self.config = config
        self.seed = int(seed)
        self.num_nets = positive_int(num_nets, "num_nets")
        self._nets = [config.build(self.seed + i) for i in range(self.num_nets)]

    @property
    def out_features(self) -> int:
        return self.num_nets * self._nets[0].out_features

    @property
    def fixed(self) -> bool:
        """True when embeddings need no reference set (and can be computed ahead and stored)."""
        return self.config.fixed

    @cached_property
    def key(self) -> str:
        """A string that names this family exactly: stored embeddings are valid for the same key only."""
        return family_key(self.config, self.seed, self.num_nets)

    def _as_tensor(self, x, name: str) -> torch.Tensor:
        x = np.asarray(x, dtype=np.float32)
        expected = self.config.input_shape
        if x.ndim == 2 and len(expected) == 3 and x.shape[1] == int(np.prod(expected)):
            x = x.reshape((len(x),) + expected)  # flat images are accepted
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"{name} has sample shape {tuple(x.shape[1:])}, the embedding expects {expected}")
        return torch.from_numpy(np.ascontiguousarray(x))

    @torch.no_grad()
    def embed(self, arrays: Sequence[np.ndarray], reference: np.ndarray | None = None) -> list[np.ndarray]:
        """Embed each array; a calibrated family first calibrates BatchNorm once on ``reference``.

        A fixed family ignores ``reference``. Returns float64 arrays of shape
        ``(n_i, out_features)``.
        """
        ref = None
        if not self.fixed:
            if reference is None:
                raise ValueError("this embedding family calibrates BatchNorm (format 1): give a reference set")
            ref = self._as_tensor(_subsample(np.asarray(reference), MAX_REFERENCE_SAMPLES, self.seed), "reference")
            if len(ref) < 2:
                raise ValueError("the reference set needs at least 2 samples to calibrate BatchNorm")
        tensors = [self._as_tensor(a, f"array {i}") for i, a in enumerate(arrays)]
        outputs: list[list[torch.Tensor]] = [[] for _ in tensors]
        for net in self._nets:
            if ref is not None:
                calibrate_batchnorm(net, ref)
            for out, t in zip(outputs, tensors):
                out.append(torch.cat([net(chunk) for chunk in t.split(CHUNK_SIZE)]) if len(t) else
                           torch.zeros(0, net.out_features))
        scale = 1.0 / math.sqrt(self.num_nets)
        return [torch.cat(out, dim=1).double().numpy() * scale for out in outputs]

    @torch.no_grad()
    def embed_fixed(self, points: np.ndarray) -> np.ndarray:
        """``(n, out_features)`` float32 embedding under a fixed family (no reference, no float64 copy)."""
        if not self.fixed:
            raise ValueError("embed_fixed needs a fixed family (normalization 'none')")
        t = self._as_tensor(points, "points")
        out = torch.empty((len(t), self.out_features), dtype=torch.float32)
        width = self._nets[0].out_features
        for i, net in enumerate(self._nets):
            for start in range(0, len(t), CHUNK_SIZE):
                out[start: start + CHUNK_SIZE, i * width: (i + 1) * width] = net(t[start: start + CHUNK_SIZE])
        out *= 1.0 / math.sqrt(self.num_nets)
        return out.numpy()

    def class_means(self, points: np.ndarray, class_rows: Sequence[np.ndarray]) -> np.ndarray:
        """``(K, out_features)`` float32 mean embedding of each group of rows of ``points`` (a fixed family).

        What a market stores per learnware: computed once, a search then reads
        ``K * out_features`` floats instead of embedding every point again.
        """
        return means_of_rows(self.embed_fixed(points), class_rows)


def family_key(config: EmbeddingConfig, seed: int, num_nets: int) -> str:
    """The :attr:`RandomEmbedding.key` of these settings, known without building a network (a spec asks
    whether a family is its own for every learnware of a market)."""
    import json

    return json.dumps({**config.to_dict(), "seed": int(seed), "num_nets": int(num_nets)}, sort_keys=True)


def checked_family(family, input_shape, name: str = "family") -> RandomEmbedding:
    """``family`` when it is a :class:`RandomEmbedding` taking samples of ``input_shape``'s size, else a
    TypeError / ValueError naming ``name``."""
    if not isinstance(family, RandomEmbedding):
        raise TypeError(f"{name} must be a RandomEmbedding (e.g. spec.embedding_family()), got {type(family).__name__}")
    if math.prod(family.config.input_shape) != math.prod(input_shape):
        raise ValueError(f"{name} takes samples of shape {family.config.input_shape}, not of shape "
                         f"{tuple(input_shape)}; the feature dimensions differ")
    return family


def finite_embedding(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` if finite, else a ValueError: inputs within float32 may still overflow the networks."""
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} is not finite: its values overflow the random networks' float32 arithmetic; "
                         "rescale the data (e.g. to unit scale)")
    return values


def means_of_rows(embedded: np.ndarray, class_rows: Sequence[np.ndarray]) -> np.ndarray:
    """``(K, D)`` float32 mean of each group of rows of ``embedded`` (accumulated in float64)."""
    return np.stack([embedded[rows].mean(axis=0, dtype=np.float64) for rows in class_rows]).astype(np.float32)


@lru_cache(maxsize=32)
def _shared_family(config: EmbeddingConfig, seed: int, num_nets: int) -> RandomEmbedding:
    return RandomEmbedding(config, seed, num_nets)
