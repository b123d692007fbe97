"""The architecture of a random-network family, checked without importing torch.

:class:`EmbeddingConfig` says which networks LANE embeds samples with (kind,
sample shape, width, depth, normalization) and refuses a family that cannot be
built (a ConvNetBN over vectors, a depth that halves an image below one pixel).
A LANE file's loader builds one to check the file's ``embedding`` as it loads,
and a market lists its specifications without torch, so the networks
themselves (:mod:`.networks`) are imported only when a family is built.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from .._checks import one_of, positive_int

EMBEDDING_KINDS = ("convnet", "mlp")
#: "none": a fixed family (format 2); "calibrated": BatchNorm from a reference set (format 1).
NORMALIZATIONS = ("none", "calibrated")


@dataclass(frozen=True)
class EmbeddingConfig:
    """Architecture of one random-network family; with a seed it names a network.

    ``input_shape`` is the shape of one sample: ``(d,)`` for vectors or
    ``(c, h, w)`` for images. ``normalization`` is ``"none"`` (a fixed family)
    or ``"calibrated"`` (BatchNorm calibrated on a reference set, format 1).
    """

    kind: str
    input_shape: tuple[int, ...]
    width: int
    depth: int
    normalization: str = "none"

    def __post_init__(self):
        one_of(self.kind, "embedding kind", EMBEDDING_KINDS)
        one_of(self.normalization, "embedding normalization", NORMALIZATIONS)
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        positive_int(self.width, "width")
        positive_int(self.depth, "depth")
        if self.kind == "mlp" and len(self.input_shape) != 1:
            raise ValueError(f"an 'mlp' embedding takes vectors (d,), got input shape {self.input_shape}")
        if self.kind == "convnet":
            if len(self.input_shape) != 3:
                raise ValueError(f"a 'convnet' embedding takes images (c, h, w), got input shape {self.input_shape}")
            smallest = min(self.input_shape[1:])
            if smallest < 2:
                raise ValueError(
                    f"a 'convnet' embedding needs images of at least 2x2 pixels, got {self.input_shape[1]}x"
                    f"{self.input_shape[2]}; use embedding='mlp' (or give the rows as vectors)"
                )
            if smallest >> self.depth < 1:
                raise ValueError(
                    f"depth {self.depth} halves a {self.input_shape[1]}x{self.input_shape[2]} image "
                    f"below one pixel; use depth <= {int(math.log2(smallest))}"
                )

    @staticmethod
    def default_sizes(input_shape: Sequence[int], width: int | None = None, depth: int | None = None):
        """``(kind, width, depth)`` LANE uses for data of this shape: ConvNetBN for images, an MLP for vectors."""
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) == 3:  # a side of one pixel gets depth 1 here; a convnet over it is refused
            max_depth = max(1, int(math.log2(max(1, min(input_shape[1:])))))
            return "convnet", width or 32, depth or min(3, max_depth)
        return "mlp", width or 256, depth or 2

    @classmethod
    def default_for(cls, input_shape: Sequence[int], width: int | None = None, depth: int | None = None,
                    normalization: str = "none"):
        """The family LANE uses for data of this shape: ConvNetBN for images, an MLP for vectors."""
        kind, width, depth = cls.default_sizes(input_shape, width, depth)
        return cls(kind, tuple(input_shape), width, depth, normalization)

    @property
    def fixed(self) -> bool:
        """True when a network of this family depends on its seed alone (no calibration)."""
        return self.normalization == "none"

    def build(self, seed: int):
        """A network of this family (an ``nn.Module``) with He-normal weights drawn from ``seed``."""
        from .networks import ConvNetBN, RandomMLP

        batchnorm = not self.fixed
        if self.kind == "convnet":
            net = ConvNetBN(self.input_shape[0], self.input_shape[1:], self.width, self.depth, batchnorm)
        else:
            net = RandomMLP(self.input_shape[0], self.width, self.depth, batchnorm)
        net.requires_grad_(False)
        return self.redraw(net, seed).eval()

    @staticmethod
    def redraw(net, seed: int):
        """Give ``net`` (built by :meth:`build`) the weights of ``seed``, in place: ``build(seed)`` without
        constructing modules, which is most of a condensation step's cost on small inputs."""
        import torch
        from torch import nn

        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    fan_in = module.weight[0].numel()
                    module.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
                    module.bias.zero_()
        return net

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EmbeddingConfig":
        """A config from a spec's ``embedding`` dict; one without ``normalization`` is format 1 (calibrated)."""
        return cls(d["kind"], tuple(d["input_shape"]), int(d["width"]), int(d["depth"]),
                   d.get("normalization", "calibrated"))
