"""A Know2Vec proxy on disk: ``proxy.json`` (settings, normalisation) beside its weights.

A market's proxy is saved again each time it is retrained, while other
processes (service workers, command-line searches) may be reading it. So a
save first builds and checks ``proxy.json``'s content (a setting the schema
refuses, a NaN final loss: nothing is written), then writes the weights under
a name of their own, ``proxy-<sha256>.pt``, and only then swaps ``proxy.json``
(written under a fresh name and moved into place), which names that hash;
the previous save's weights are removed after the swap, and saves by
several processes take turns (a lock beside the folder). Until the swap the
folder holds the previous pair, whole: a failed save never leaves a proxy that
no longer loads, a reader never sees half a file, and never pairs the settings
of one save with the weights of another (it gets a
:class:`SpecificationFormatError` instead and can try again). Proxies saved
before the weights were named by their hash keep theirs in ``proxy.pt``, which
still loads. The weights load from the very bytes that were hashed, as plain
tensors (``weights_only=True``).
"""

from __future__ import annotations

import hashlib
import io

import torch

from .._checks import as_path
from ..specification.formats import SpecificationFileNotFound, SpecificationFormatError, file_lock, finite_float32, \
    json_text, read_json, replace_atomically, validator_for, write_json

FORMAT_VERSION = 1
#: Where proxies saved before their weights were named by hash keep them (still read).
WEIGHTS_FILE = "proxy.pt"
META_FILE = "proxy.json"
#: Bounds on a proxy's sizes, the maxima of ``specs/know2vec-proxy.schema.json`` (a test keeps them equal): the
#: constructor and fit refuse what a saved proxy.json could not hold.
LIMITS = {
    "in_features": 1_000_000,
    "num_models": 1_000_000,
    "hidden": 4096,
    "embedding_dim": 4096,
    "epochs": 1_000_000,
    "batch_size": 1_000_000,
    "eval_every": 1_000_000,
    "patience": 1_000_000,
    "validation_tasks": 1_000_000,
}


def weights_name(sha256: str) -> str:
    """The file a save writes its weights to: named by their hash, so two saves never write the same name."""
    return f"proxy-{sha256}.pt"


def _metadata(proxy, sha256: str, name) -> dict:
    """``proxy.json``'s content, checked against its schema before any file is touched (ValueError naming
    the field otherwise)."""
    meta = {
        "type": "Know2VecProxy", "format_version": FORMAT_VERSION, "in_features": proxy.in_features,
        "num_models": proxy.identity_head.out_features, "hidden": proxy.hidden,
        "embedding_dim": proxy.embedding_dim, "margin": proxy.margin, "alpha": proxy.alpha, "lr": proxy.lr,
        "epochs": proxy.epochs, "samples_per_class": list(proxy.samples_per_class), "batch_size": proxy.batch_size,
        "seed": proxy.seed, "validation": proxy.validation, "eval_every": proxy.eval_every,
        "patience": proxy.patience, "validation_tasks": proxy.validation_tasks, **_training_record(proxy),
        "shift": [float(v) for v in proxy.shift_], "scale": [float(v) for v in proxy.scale_],
        "training": getattr(proxy, "training_", None),
        "weights_sha256": sha256,
    }
    bad = [k for k, v in meta.items() if not all(map(_finite, v if isinstance(v, list) else [v]))]
    if bad:
        raise ValueError(f"cannot save this proxy: {', '.join(bad)} hold(s) a NaN or infinite number (did the "
                         "training diverge?); nothing was written") from None
    from jsonschema.exceptions import best_match

    error = best_match(validator_for("Know2VecProxy").iter_errors(meta))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"cannot save this proxy: its {META_FILE} would not match the Know2VecProxy schema at "
                         f"{where}: {error.message}; nothing was written")
    json_text(meta, name)  # and not over the size a file may have
    return meta


def _training_record(proxy) -> dict:
    """``steps_run`` and ``final_loss``: from the proxy's own training, else as the file it was loaded from said
    (a loaded proxy holds no losses; saved again, it was recorded as never trained: 0 steps, no loss)."""
    if proxy.losses_:
        return {"steps_run": len(proxy.losses_), "final_loss": proxy.losses_[-1]}
    return dict(getattr(proxy, "loaded_training_", {"steps_run": 0, "final_loss": None}))


def _finite(value) -> bool:
    return not isinstance(value, float) or value == value and abs(value) != float("inf")


def save_proxy(proxy, folder) -> None:
    """Check the settings, write the weights under their hash's name, swap in ``proxy.json``, drop old weights."""
    folder = as_path(folder, "folder")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; a proxy is saved as a folder of {META_FILE} and its weights")
    buffer = io.BytesIO()
    torch.save(proxy.network.state_dict(), buffer)
    weights = buffer.getvalue()
    sha256 = hashlib.sha256(weights).hexdigest()
    meta = _metadata(proxy, sha256, folder / META_FILE)
    # Saves take turns: two at once interleaved so that one's clean-up deleted the weights the other's proxy.json
    # (the one left) names, and the market had no proxy until trained again. The lock file sits beside the
    # folder, which holds only the proxy's pair (a rebuild removes the folder, not the lock).
    with file_lock(folder.parent / f".{folder.name}.lock"):
        replace_atomically(folder / weights_name(sha256), weights)
        write_json(folder / META_FILE, meta)  # the swap: until here the previous pair is whole
        for old in [folder / WEIGHTS_FILE, *folder.glob("proxy-*.pt")]:
            if old.name != weights_name(sha256):
                try:
                    old.unlink(missing_ok=True)
                except OSError:  # a stale file does no harm: proxy.json names the weights it belongs to
                    pass


def load_proxy(cls, folder, verbose: bool = False):
    """The proxy ``save_proxy`` wrote in ``folder``, as a ``cls``; refuses weights of another save."""
    folder = as_path(folder, "folder")
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
    proxy.loaded_training_ = {"steps_run": meta.get("steps_run", 0), "final_loss": meta.get("final_loss")}
    expected = meta.get("weights_sha256")  # absent in proxies saved before it existed
    weights = folder / WEIGHTS_FILE  # a save before the weights were named by their hash
    if expected is not None and (folder / weights_name(expected)).is_file():
        weights = folder / weights_name(expected)
    if not weights.is_file():
        if expected is None:
            raise SpecificationFileNotFound(f"proxy weights not found: {weights}")
        raise SpecificationFileNotFound(f"proxy weights not found: {folder / weights_name(expected)} (or "
                                        f"{WEIGHTS_FILE}); another save of the proxy may have replaced them: read "
                                        "it again")
    data = weights.read_bytes()
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
