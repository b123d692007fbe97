"""A Know2Vec proxy on disk: ``proxy.json`` (settings, normalisation) beside ``proxy.pt`` (weights).

A market's proxy is saved again each time it is retrained, while other
processes (service workers, command-line searches) may be reading it. So both
files are written under fresh names and moved into place, weights first, and
``proxy.json`` names the SHA-256 of the weights it belongs to: a reader never
sees half a file, and never pairs the settings of one save with the weights of
another (it gets a :class:`SpecificationFormatError` instead and can try
again). The weights load from the very bytes that were hashed, as plain
tensors (``weights_only=True``).
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path

import torch

from ..specification.formats import SpecificationFileNotFound, SpecificationFormatError, finite_float32, read_json, \
    write_json

FORMAT_VERSION = 1
WEIGHTS_FILE = "proxy.pt"
META_FILE = "proxy.json"


def save_proxy(proxy, folder) -> None:
    """Write a fitted proxy's weights, then its settings naming their hash; each file moved into place whole."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; a proxy is saved as a folder of {META_FILE} and {WEIGHTS_FILE}")
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(proxy.network.state_dict(), buffer)
    weights = buffer.getvalue()
    partial = folder / f".{WEIGHTS_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        partial.write_bytes(weights)
        os.replace(partial, folder / WEIGHTS_FILE)
    finally:
        partial.unlink(missing_ok=True)
    write_json(folder / META_FILE, {
        "type": "Know2VecProxy", "format_version": FORMAT_VERSION, "in_features": proxy.in_features,
        "num_models": proxy.identity_head.out_features, "hidden": proxy.hidden,
        "embedding_dim": proxy.embedding_dim, "margin": proxy.margin, "alpha": proxy.alpha, "lr": proxy.lr,
        "epochs": proxy.epochs, "samples_per_class": list(proxy.samples_per_class), "batch_size": proxy.batch_size,
        "seed": proxy.seed, "validation": proxy.validation, "eval_every": proxy.eval_every,
        "patience": proxy.patience, "validation_tasks": proxy.validation_tasks, "steps_run": len(proxy.losses_),
        "shift": [float(v) for v in proxy.shift_], "scale": [float(v) for v in proxy.scale_],
        "final_loss": proxy.losses_[-1] if proxy.losses_ else None, "training": getattr(proxy, "training_", None),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    })


def load_proxy(cls, folder, verbose: bool = False):
    """The proxy ``save_proxy`` wrote in ``folder``, as a ``cls``; refuses weights of another save."""
    folder = Path(folder)
    meta = read_json(folder / META_FILE, "Know2VecProxy", supported_versions=(FORMAT_VERSION,))
    try:
        proxy = cls(hidden=meta["hidden"], embedding_dim=meta["embedding_dim"], margin=meta["margin"],
                    alpha=meta["alpha"], lr=meta["lr"], epochs=meta["epochs"],
                    samples_per_class=meta["samples_per_class"], batch_size=meta["batch_size"],
                    seed=meta["seed"], verbose=verbose, **{k: meta[k] for k in (
                        "validation", "eval_every", "patience", "validation_tasks") if k in meta})
    except (TypeError, ValueError) as err:
        raise SpecificationFormatError(f"{folder / META_FILE}: {err}") from None
    for name in ("shift", "scale"):
        values = finite_float32(meta[name])
        if values is None or values.shape != (meta["in_features"],):
            raise SpecificationFormatError(f"{folder / META_FILE}: {name} must be {meta['in_features']} finite "
                                           "float32 numbers (one per input feature)")
        setattr(proxy, f"{name}_", values)
    if not (proxy.scale_ > 0).all():  # inputs are divided by it: 0 would score every model NaN
        raise SpecificationFormatError(f"{folder / META_FILE}: scale must be > 0 for every feature (inputs are "
                                       "divided by it)")
    proxy._build(meta["in_features"], meta["num_models"])
    proxy.training_ = meta.get("training")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise SpecificationFileNotFound(f"proxy weights not found: {weights}")
    data = weights.read_bytes()
    expected = meta.get("weights_sha256")  # absent in proxies saved before it existed
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise SpecificationFormatError(f"{weights} is not the weights {folder / META_FILE} was saved with (another "
                                       "save of the proxy replaced one of them; read it again)")
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        proxy.network.load_state_dict(state)
    except Exception as err:  # torch's messages suggest unsafe loading; ours name the file
        raise SpecificationFormatError(f"{weights} is not the state dict of this proxy "
                                       f"({type(err).__name__}); it is loaded as plain tensors only") from err
    if not all(torch.isfinite(t).all() for t in proxy.network.state_dict().values() if t.is_floating_point()):
        raise SpecificationFormatError(f"{weights} holds non-finite weights")
    proxy.network.eval()
    return proxy
