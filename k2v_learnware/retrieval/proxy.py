"""Retrieval: Know2Vec's proxy, trained to align model and task vectors (Eq. 14-17).

:class:`Know2VecProxy` trains the encoders of :mod:`.encoders` with the
model-identity cross-entropy (L_MKC, Eq. 14) plus the cosine alignment loss with
margin 0.4 (L_SAL, Eq. 15) on tasks from :mod:`.tasks`, and ranks models for a
query by cosine (Eq. 17).

A training task's positive model in L_SAL is, as in the paper, the model the task
was drawn for (:class:`~.tasks.TaskSampler`). When the market holds labels for
its probe set it can do better: :class:`~.tasks.LabelledTaskSampler` cuts tasks
from the labelled probe set and makes the models most accurate on each task its
positives, which is what a user asks for (the best model, not the one whose
data the task resembles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from .._progress import progress

from .._checks import positive_float, positive_int
from ..specification.formats import (SpecificationFileNotFound, SpecificationFormatError, finite_float32,
                                      read_json, write_json)
from ..specification.know2vec import Know2VecSpecification
from ..specification.lane import LANESpecification
from .encoders import ModelEncoder, ProxyNetwork, QueryEncoder
from .tasks import Know2VecQuery, LabelledTaskSampler, TaskSampler

__all__ = ["Know2VecProxy", "Know2VecQuery", "LabelledTaskSampler", "ModelEncoder", "ProxyNetwork",
           "QueryEncoder", "TaskSampler"]

FORMAT_VERSION = 1
WEIGHTS_FILE = "proxy.pt"
META_FILE = "proxy.json"


class Know2VecProxy:
    """Model and query encoders aligned in one space; ranks a market's models for a task.

    Parameters: ``hidden`` / ``embedding_dim`` (256 as in the paper) size the
    encoders; ``margin`` (0.4) and ``alpha`` (1) weigh L_SAL; ``epochs`` (steps),
    ``lr`` and ``batch_size`` (fresh query tasks per step) set training; ``seed``
    makes it reproducible.
    """

    def __init__(self, hidden: int = 64, embedding_dim: int = 256, margin: float = 0.4, alpha: float = 1.0,
                 lr: float = 3e-3, epochs: int = 1500, samples_per_class=(5, 30),
                 batch_size: int = 64, seed: int = 0, verbose: bool = True):
        self.hidden = positive_int(hidden, "hidden")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.margin, self.alpha = float(margin), float(alpha)
        self.lr = positive_float(lr, "lr")
        self.epochs = positive_int(epochs, "epochs")
        self.samples_per_class = tuple(int(v) for v in samples_per_class)
        self.batch_size = positive_int(batch_size, "batch_size")
        self.seed, self.verbose = int(seed), verbose
        self.losses_: list[float] = []

    # ---------------------------------------------------------------- helpers
    def _build(self, in_features: int, num_models: int):
        torch.manual_seed(self.seed)
        self.in_features = in_features
        self.network = ProxyNetwork(in_features, num_models, self.hidden, self.embedding_dim)
        self.model_encoder, self.query_encoder = self.network.model_encoder, self.network.query_encoder
        self.identity_head = self.network.identity_head

    def _graph_tensors(self, spec: Know2VecSpecification):
        nodes, mask = spec.graph()
        if nodes.shape[2] != self.in_features:
            raise ValueError(f"feature dimensions differ: the specification has {nodes.shape[2]} input features, "
                             f"the proxy {self.in_features}")
        normed = (np.nan_to_num(nodes) - self.shift_) / self.scale_
        return torch.from_numpy(normed.astype(np.float32)), torch.from_numpy(mask)

    def _query_tensor(self, means: np.ndarray) -> torch.Tensor:
        means = np.asarray(means, dtype=np.float32).reshape(len(means), -1)
        if means.shape[1] != self.in_features:
            raise ValueError(f"feature dimensions differ: the query has {means.shape[1]} features, "
                             f"the proxy {self.in_features}")
        return torch.from_numpy(((means - self.shift_) / self.scale_).astype(np.float32))

    def _require_fitted(self):
        if not hasattr(self, "network"):
            raise ValueError("this Know2VecProxy is not fitted: call fit() or load()")

    # ------------------------------------------------------------------- fit
    def fit(self, specs, task_sources, probe_X=None, *, probe_y=None, task_groups=None) -> "Know2VecProxy":
        """Train on the market's models.

        ``specs[i]`` is model ``i``'s Know2VecSpecification; ``task_sources[i]``
        supplies its training query tasks: its LANESpecification (labelled
        samples drawn from the class Gaussians) or the model itself (it labels
        ``probe_X``). With ``probe_y`` (the market's labels for ``probe_X``) the
        sources must be the models: tasks are cut from the labelled probe set and
        their positives are the models most accurate on them
        (:class:`LabelledTaskSampler`, classes drawn within ``task_groups``).
        """
        specs, task_sources = list(specs), list(task_sources)
        if task_groups is not None and probe_y is None:
            raise ValueError("task_groups only applies to tasks cut from a labelled probe set: give probe_y too")
        if len(specs) < 2:
            raise ValueError("fit needs at least 2 models to tell apart")
        if len(task_sources) != len(specs):
            raise ValueError(f"{len(task_sources)} task sources for {len(specs)} specifications; give one per model")
        for i, s in enumerate(specs):
            if not isinstance(s, Know2VecSpecification):
                raise TypeError(f"specs[{i}] is a {type(s).__name__}, not a Know2VecSpecification")
        for i, src in enumerate(task_sources):
            if probe_y is not None and not callable(getattr(src, "predict", None)):
                raise TypeError(f"with probe_y every task source must be a model; task_sources[{i}] is "
                                f"a {type(src).__name__}")
            if not isinstance(src, LANESpecification):
                if not callable(getattr(src, "predict", None)):
                    raise TypeError(f"task_sources[{i}] must be a LANESpecification or a model with predict")
                if probe_X is None:
                    raise ValueError(f"task_sources[{i}] is a model: probe_X is needed to label tasks with it")
        dims = {int(np.prod(s.input_shape)) for s in specs}
        if len(dims) != 1:
            raise ValueError(f"the specifications have different input sizes {sorted(dims)}; one proxy needs one")

        in_features = dims.pop()
        all_nodes = np.concatenate([nodes[mask] for nodes, mask in (s.graph() for s in specs)])
        self.shift_ = all_nodes.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(all_nodes.std(axis=0), 1e-3 * max(all_nodes.std(axis=0).max(), 1e-6)).astype(
            np.float32)
        self._build(in_features, len(specs))

        rng = np.random.default_rng(self.seed)
        if probe_y is not None:
            labelled = LabelledTaskSampler(task_sources, probe_X, probe_y, groups=task_groups)

            def draw_batch():
                drawn = [labelled.draw(rng, self.samples_per_class) for _ in range(self.batch_size)]
                return [m for m, _ in drawn], torch.from_numpy(np.stack([p for _, p in drawn]))
        else:
            samplers = [TaskSampler(src, probe_X) for src in task_sources]

            def draw_batch():
                owners = torch.from_numpy(rng.integers(0, len(specs), size=self.batch_size))
                means = [samplers[k].draw(rng, self.samples_per_class) for k in owners.tolist()]
                return means, nn.functional.one_hot(owners, len(specs)).bool()

        graphs = [self._graph_tensors(s) for s in specs]
        identities = torch.arange(len(specs))

        optimizer = torch.optim.Adam(self.network.parameters(), lr=self.lr)
        self.losses_ = []
        bar = progress(range(self.epochs), verbose=self.verbose, desc="Know2Vec proxy", leave=False)
        for _ in bar:
            means, positive = draw_batch()
            tasks = [self._query_tensor(m) for m in means]
            h = self.model_encoder(graphs)
            t = self.query_encoder(tasks)
            loss_mkc = nn.functional.cross_entropy(self.identity_head(h), identities)
            # Eq. 15, averaged per query over its positives and over its negatives
            # separately: a plain mean over all pairs would weigh a positive by 1/M.
            cos = t @ h.T
            n_pos = positive.sum(1)
            pos_term = (1 - cos).masked_fill(~positive, 0).sum(1) / n_pos
            neg_term = torch.relu(cos - self.margin).masked_fill(positive, 0).sum(1) / (
                len(specs) - n_pos).clamp(min=1)
            loss_sal = (pos_term + neg_term).mean()
            loss = loss_mkc + self.alpha * loss_sal
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.losses_.append(loss.item())
            bar.set_postfix(loss=f"{self.losses_[-1]:.4f}")
        self.network.eval()
        return self

    # -------------------------------------------------------------- retrieval
    @torch.no_grad()
    def embed_models(self, specs) -> np.ndarray:
        """``(M, embedding_dim)`` unit vectors of the given models."""
        self._require_fitted()
        return self.model_encoder([self._graph_tensors(s) for s in specs]).numpy()

    @torch.no_grad()
    def embed_query(self, query) -> np.ndarray:
        """Unit vector of a query (a :class:`Know2VecQuery` or its ``(C, D)`` class means)."""
        self._require_fitted()
        means = query.means if isinstance(query, Know2VecQuery) else query
        return self.query_encoder([self._query_tensor(means)])[0].numpy()

    def scores(self, query, specs=None, model_embeddings=None) -> np.ndarray:
        """Cosine between the query and each model (Eq. 17); higher is a better match."""
        if model_embeddings is None:
            model_embeddings = self.embed_models(specs)
        return model_embeddings @ self.embed_query(query)

    # ------------------------------------------------------------------- I/O
    def save(self, folder) -> None:
        """Weights to ``proxy.pt`` (a plain state dict), settings to ``proxy.json``."""
        self._require_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.network.state_dict(), folder / WEIGHTS_FILE)
        write_json(folder / META_FILE, {
            "type": "Know2VecProxy", "format_version": FORMAT_VERSION, "in_features": self.in_features,
            "num_models": self.identity_head.out_features, "hidden": self.hidden,
            "embedding_dim": self.embedding_dim, "margin": self.margin, "alpha": self.alpha, "lr": self.lr,
            "epochs": self.epochs,
            "samples_per_class": list(self.samples_per_class), "batch_size": self.batch_size, "seed": self.seed,
            "shift": [float(v) for v in self.shift_], "scale": [float(v) for v in self.scale_],
            "final_loss": self.losses_[-1] if self.losses_ else None,
        })

    @classmethod
    def load(cls, folder, verbose: bool = False) -> "Know2VecProxy":
        """Read a proxy written by :meth:`save`; weights load with ``weights_only=True``."""
        folder = Path(folder)
        meta = read_json(folder / META_FILE, "Know2VecProxy", supported_versions=(FORMAT_VERSION,))
        proxy = cls(hidden=meta["hidden"], embedding_dim=meta["embedding_dim"], margin=meta["margin"],
                    alpha=meta["alpha"], lr=meta["lr"], epochs=meta["epochs"],
                    samples_per_class=meta["samples_per_class"],
                    batch_size=meta["batch_size"],
                    seed=meta["seed"], verbose=verbose)
        for name in ("shift", "scale"):
            values = finite_float32(meta[name])
            if values is None or values.shape != (meta["in_features"],):
                raise SpecificationFormatError(f"{folder / META_FILE}: {name} must be {meta['in_features']} finite "
                                               "float32 numbers (one per input feature)")
            setattr(proxy, f"{name}_", values)
        proxy._build(meta["in_features"], meta["num_models"])
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise SpecificationFileNotFound(f"proxy weights not found: {weights}")
        try:
            state = torch.load(weights, weights_only=True, map_location="cpu")
            proxy.network.load_state_dict(state)
        except Exception as err:  # torch's messages suggest unsafe loading; ours name the file
            raise SpecificationFormatError(f"{weights} is not the state dict of this proxy "
                                           f"({type(err).__name__}); it is loaded as plain tensors only") from err
        if not all(torch.isfinite(t).all() for t in proxy.network.state_dict().values() if t.is_floating_point()):
            raise SpecificationFormatError(f"{weights} holds non-finite weights")
        proxy.network.eval()
        return proxy
