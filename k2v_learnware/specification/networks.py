"""Random neural networks that give LANE its embedding space.

LANE (Eq. 7) matches class-mean embeddings under networks whose weights are drawn
afresh from a fixed distribution. Two families are offered: ``ConvNetBN`` for
images (conv 3x3, BatchNorm, ReLU, average pooling) and ``RandomMLP`` for
feature vectors. Every network starts with a BatchNorm on its input, so inputs on
any scale (pixels in 0..255, embeddings in -1..1) are standardised.

BatchNorm statistics are never taken from the batch being embedded: they are
*calibrated* on a reference set first (:func:`calibrate_batchnorm`) and the network
then runs in eval mode. During condensation the reference is the real mini-batch,
so synthetic samples are normalised exactly like the real data they must match
and cannot drift by "overfitting" their own batch statistics; at search time the
reference is fixed once (for example the user's data), which makes the embedding
one deterministic function applied to every set being compared.

Weights are drawn from a ``torch.Generator`` seeded by the caller, never from the
global RNG, so a configuration plus a seed names one network exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._checks import one_of, positive_int

EMBEDDING_KINDS = ("convnet", "mlp")

# Bounds that keep a single embedding call's memory and time predictable.
MAX_REFERENCE_SAMPLES = 4096
CHUNK_SIZE = 2048
# Smallest variance a BatchNorm channel may have, relative to its layer's mean variance.
VARIANCE_FLOOR = 1e-2


class ConvNetBN(nn.Module):
    """``depth`` blocks of conv 3x3 -> BatchNorm -> ReLU -> AvgPool(2), flattened."""

    def __init__(self, in_channels: int, image_size: tuple[int, int], width: int = 32, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(in_channels, affine=False)]
        channels, (h, w) = in_channels, image_size
        for _ in range(depth):
            layers += [
                nn.Conv2d(channels, width, kernel_size=3, padding=1),
                nn.BatchNorm2d(width, affine=False),
                nn.ReLU(),
                nn.AvgPool2d(2),
            ]
            channels, h, w = width, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.out_features = width * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)


class RandomMLP(nn.Module):
    """``depth`` blocks of Linear -> BatchNorm -> ReLU on flat feature vectors."""

    def __init__(self, in_features: int, width: int = 256, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(in_features, affine=False)]
        size = in_features
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.BatchNorm1d(width, affine=False), nn.ReLU()]
            size = width
        self.features = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.flatten(1))


@dataclass(frozen=True)
class EmbeddingConfig:
    """Architecture of one random-network family; with a seed it names a network.

    ``input_shape`` is the shape of one sample: ``(d,)`` for vectors or
    ``(c, h, w)`` for images.
    """

    kind: str
    input_shape: tuple[int, ...]
    width: int
    depth: int

    def __post_init__(self):
        one_of(self.kind, "embedding kind", EMBEDDING_KINDS)
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        positive_int(self.width, "width")
        positive_int(self.depth, "depth")
        if self.kind == "mlp" and len(self.input_shape) != 1:
            raise ValueError(f"an 'mlp' embedding takes vectors (d,), got input shape {self.input_shape}")
        if self.kind == "convnet":
            if len(self.input_shape) != 3:
                raise ValueError(f"a 'convnet' embedding takes images (c, h, w), got input shape {self.input_shape}")
            smallest = min(self.input_shape[1:])
            if smallest >> self.depth < 1:
                raise ValueError(
                    f"depth {self.depth} halves a {self.input_shape[1]}x{self.input_shape[2]} image "
                    f"below one pixel; use depth <= {int(math.log2(smallest))}"
                )

    @classmethod
    def default_for(cls, input_shape: Sequence[int], width: int | None = None, depth: int | None = None):
        """The family LANE uses for data of this shape: ConvNetBN for images, an MLP for vectors."""
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) == 3:
            max_depth = int(math.log2(min(input_shape[1:])))
            return cls("convnet", input_shape, width or 32, depth or min(3, max_depth))
        return cls("mlp", input_shape, width or 256, depth or 2)

    def build(self, seed: int) -> nn.Module:
        """A network of this family with He-normal weights drawn from ``seed``."""
        if self.kind == "convnet":
            net = ConvNetBN(self.input_shape[0], self.input_shape[1:], self.width, self.depth)
        else:
            net = RandomMLP(self.input_shape[0], self.width, self.depth)
        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    fan_in = module.weight[0].numel()
                    module.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
                    module.bias.zero_()
        net.requires_grad_(False)
        return net.eval()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EmbeddingConfig":
        return cls(d["kind"], tuple(d["input_shape"]), int(d["width"]), int(d["depth"]))


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
    configuration, the seed and the reference set used to calibrate BatchNorm.
    """

    def __init__(self, config: EmbeddingConfig, seed: int = 0, num_nets: int = 8):
        self.config = config
        self.seed = int(seed)
        self.num_nets = positive_int(num_nets, "num_nets")
        self._nets = [config.build(self.seed + i) for i in range(self.num_nets)]

    @property
    def out_features(self) -> int:
        return self.num_nets * self._nets[0].out_features

    def _as_tensor(self, x, name: str) -> torch.Tensor:
        x = np.asarray(x, dtype=np.float32)
        expected = self.config.input_shape
        if x.ndim == 2 and len(expected) == 3 and x.shape[1] == int(np.prod(expected)):
            x = x.reshape((len(x),) + expected)  # flat images are accepted
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"{name} has sample shape {tuple(x.shape[1:])}, the embedding expects {expected}")
        return torch.from_numpy(np.ascontiguousarray(x))

    @torch.no_grad()
    def embed(self, arrays: Sequence[np.ndarray], reference: np.ndarray) -> list[np.ndarray]:
        """Embed each array with BatchNorm calibrated once on ``reference``.

        Returns float64 arrays of shape ``(n_i, out_features)``.
        """
        ref = self._as_tensor(_subsample(np.asarray(reference), MAX_REFERENCE_SAMPLES, self.seed), "reference")
        if len(ref) < 2:
            raise ValueError("the reference set needs at least 2 samples to calibrate BatchNorm")
        tensors = [self._as_tensor(a, f"array {i}") for i, a in enumerate(arrays)]
        outputs: list[list[torch.Tensor]] = [[] for _ in tensors]
        for net in self._nets:
            calibrate_batchnorm(net, ref)
            for out, t in zip(outputs, tensors):
                out.append(torch.cat([net(chunk) for chunk in t.split(CHUNK_SIZE)]) if len(t) else
                           torch.zeros(0, net.out_features))
        scale = 1.0 / math.sqrt(self.num_nets)
        return [torch.cat(out, dim=1).double().numpy() * scale for out in outputs]
