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

import copy

import numpy as np
import torch
from torch import nn
from .._progress import progress

from .._checks import as_data_array, count_range, positive_float, positive_int, real_in, seed_int
from ..specification.know2vec import Know2VecSpecification
from ..specification.lane import LANESpecification
from .encoders import ModelEncoder, ProxyNetwork, QueryEncoder
from .task_streams import TaskStream
from .proxy_files import FORMAT_VERSION, LIMITS, load_proxy, save_proxy
from .tasks import Know2VecQuery, LabelledTaskSampler, TaskSampler, probe_fingerprint_for

__all__ = ["FORMAT_VERSION", "Know2VecProxy", "Know2VecQuery", "LabelledTaskSampler", "ModelEncoder",
           "ProxyNetwork", "QueryEncoder", "TaskSampler"]


class Know2VecProxy:
    """Model and query encoders aligned in one space; ranks a market's models for a task.

    Parameters: ``hidden`` / ``embedding_dim`` (256 as in the paper) size the
    encoders; ``margin`` (0.4) and ``alpha`` (1) weigh L_SAL; ``epochs`` (the
    most steps), ``lr`` and ``batch_size`` (fresh query tasks per step) set
    training; ``validation`` is the share of probe rows held out for validation
    tasks, checked every ``eval_every`` steps: training stops once ``patience``
    checks in a row found no better R@1 (then validation loss) and keeps the best
    weights (``validation=0``: every step, no check); ``seed`` makes it reproducible.
    """

    def __init__(self, hidden: int = 64, embedding_dim: int = 256, margin: float = 0.4, alpha: float = 1.0,
                 lr: float = 3e-3, epochs: int = 1500, samples_per_class=(5, 30),
                 batch_size: int = 32, seed: int = 0, verbose: bool = True, *, validation: float = 0.2,
                 eval_every: int = 20, patience: int = 5, validation_tasks: int = 200):
        # the maxima are proxy.json's (LIMITS): a proxy that trains is one that saves and loads again
        self.hidden = positive_int(hidden, "hidden", maximum=LIMITS["hidden"])
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", maximum=LIMITS["embedding_dim"])
        self.margin = real_in(margin, "margin", -1.0, 1.0)  # a cosine
        self.alpha = real_in(alpha, "alpha", 0.0, float("inf"))  # 0: L_MKC alone
        self.lr = positive_float(lr, "lr")
        self.epochs = positive_int(epochs, "epochs", maximum=LIMITS["epochs"])
        self.samples_per_class = count_range(samples_per_class, "samples_per_class")
        self.batch_size = positive_int(batch_size, "batch_size", maximum=LIMITS["batch_size"])
        self.seed, self.verbose = seed_int(seed), verbose
        validation = float(validation) if isinstance(validation, (int, float)) and not isinstance(validation, bool) \
            else None
        if validation is None or not 0 <= validation < 1:
            raise ValueError(f"validation must be a share in [0, 1), got {validation!r}")
        self.validation = validation
        self.eval_every = positive_int(eval_every, "eval_every", maximum=LIMITS["eval_every"])
        self.patience = positive_int(patience, "patience", maximum=LIMITS["patience"])
        self.validation_tasks = positive_int(validation_tasks, "validation_tasks", maximum=LIMITS["validation_tasks"])
        self.losses_: list[float] = []
        self.history_: list[dict] = []

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
        with np.errstate(over="ignore"):
            normed = ((means.astype(np.float64) - self.shift_) / self.scale_).astype(np.float32)
        if not np.isfinite(normed).all():  # finite means far beyond the probe nodes the proxy was scaled on
            raise ValueError(f"the query means (largest magnitude {float(np.abs(means).max()):.3g}) lie beyond the "
                             "range the proxy's scaling maps into float32; rescale them as the probe set")
        return torch.from_numpy(normed)

    def _require_fitted(self):
        if not hasattr(self, "network"):
            raise ValueError("this Know2VecProxy is not fitted: call fit() or load()")

    # ------------------------------------------------------------------- fit
    def fit(self, specs, task_sources, probe_X=None, *, probe_y=None, task_groups=None, task_class_sets=None,
            classes_per_task=(2, 5)) -> "Know2VecProxy":
        """Train on the market's models.

        ``specs[i]`` is model ``i``'s Know2VecSpecification; ``task_sources[i]``
        supplies its training query tasks: its LANESpecification (labelled
        samples drawn from the class Gaussians), the model itself (it labels
        ``probe_X``) or ``specs[i]`` again when it stored the model's answers on
        ``probe_X`` (format 2: no model is called). With ``probe_y`` (the
        market's labels for ``probe_X``) the sources must be the models or their
        specifications: tasks are cut from the labelled probe set and
        their positives are the models most accurate on them
        (:class:`LabelledTaskSampler`; ``classes_per_task`` classes drawn within
        ``task_groups``, or exactly the class sets of ``task_class_sets``).
        """
        specs, task_sources = list(specs), list(task_sources)
        if (task_groups is not None or task_class_sets is not None) and probe_y is None:
            raise ValueError("task_groups and task_class_sets only apply to tasks cut from a labelled probe set: "
                             "give probe_y too")
        if not 2 <= len(specs) <= LIMITS["num_models"]:
            raise ValueError(f"fit needs at least 2 models to tell apart (and at most {LIMITS['num_models']}), "
                             f"got {len(specs)}")
        if len(task_sources) != len(specs):
            raise ValueError(f"{len(task_sources)} task sources for {len(specs)} specifications; give one per model")
        for i, s in enumerate(specs):
            if not isinstance(s, Know2VecSpecification):
                raise TypeError(f"specs[{i}] is a {type(s).__name__}, not a Know2VecSpecification")
        fingerprint = None if probe_X is None else probe_fingerprint_for(task_sources, probe_X)
        for i, src in enumerate(task_sources):
            labeller = isinstance(src, Know2VecSpecification) or callable(getattr(src, "predict", None))
            if probe_y is not None and not labeller:
                raise TypeError(f"with probe_y every task source must be a model or its Know2VecSpecification; "
                                f"task_sources[{i}] is a {type(src).__name__}")
            if not isinstance(src, LANESpecification):
                if not labeller:
                    raise TypeError(f"task_sources[{i}] must be a LANESpecification, a model with predict or a "
                                    "Know2VecSpecification holding its probe answers")
                if probe_X is None:
                    raise ValueError(f"task_sources[{i}] labels probe rows: probe_X is needed to label tasks with it")
                if isinstance(src, Know2VecSpecification) and not src.holds_probe_labels(probe_X, fingerprint):
                    raise ValueError(f"task_sources[{i}] is a Know2VecSpecification without its model's answers "
                                     f"for this probe set ({len(probe_X)} rows): give the model instead")
        dims = {int(np.prod(s.input_shape)) for s in specs}
        if len(dims) != 1:
            raise ValueError(f"the specifications have different input sizes {sorted(dims)}; one proxy needs one")

        in_features = dims.pop()
        if in_features > LIMITS["in_features"]:
            raise ValueError(f"the specifications have {in_features} input features; a proxy takes at most "
                             f"{LIMITS['in_features']}")
        # float64: probe rows near 1e20 have a spread beyond float32 (an infinite scale zeroes every input)
        all_nodes = np.concatenate([nodes[mask] for nodes, mask in (s.graph() for s in specs)]).astype(np.float64)
        self.shift_ = all_nodes.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(all_nodes.std(axis=0), 1e-3 * max(all_nodes.std(axis=0).max(), 1e-6)).astype(
            np.float32)
        self._build(in_features, len(specs))
        self.training_ = "identity" if probe_y is None else "labelled-probe"
        stream = TaskStream(task_sources, None if probe_X is None else np.asarray(probe_X), probe_y,
                            task_groups=task_groups, task_class_sets=task_class_sets,
                            classes_per_task=classes_per_task, validation=self.validation,
                            validation_tasks=self.validation_tasks, samples_per_class=self.samples_per_class,
                            seed=self.seed)
        graphs = self.model_encoder.layout([self._graph_tensors(s) for s in specs])
        identities = torch.arange(len(specs))
        held = None if stream.validation is None else (
            [self._query_tensor(m) for m in stream.validation.means], stream.validation.positive)

        rng = np.random.default_rng(self.seed)
        optimizer = torch.optim.Adam(self.network.parameters(), lr=self.lr)
        self.losses_, self.history_ = [], []
        best, best_state, waited = None, None, 0
        bar = progress(range(self.epochs), verbose=self.verbose, desc="Know2Vec proxy", leave=False)
        for step in bar:
            batch = stream.batch(rng, self.batch_size)
            h = self.model_encoder(graphs)
            t = self.query_encoder([self._query_tensor(m) for m in batch.means])
            loss = nn.functional.cross_entropy(self.identity_head(h), identities) + self.alpha * self._sal(
                t @ h.T, batch.positive)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.losses_.append(loss.item())
            if held is not None and ((step + 1) % self.eval_every == 0 or step + 1 == self.epochs):
                record = self._validate(graphs, *held)
                record["step"] = step + 1
                self.history_.append(record)
                if best is None or self._better(record, best):
                    best, best_state, waited = record, copy.deepcopy(self.network.state_dict()), 0
                else:
                    waited += 1
                bar.set_postfix(loss=f"{self.losses_[-1]:.4f}", val_r1=f"{record['r@1']:.3f}")
                if waited >= self.patience:
                    break
        if best_state is not None:
            self.network.load_state_dict(best_state)
        self.network.eval()
        return self

    @staticmethod
    def _better(record: dict, best: dict) -> bool:
        """A higher validation R@1, or the same R@1 at a validation loss lower by more than 1 %."""
        if record["r@1"] != best["r@1"]:
            return record["r@1"] > best["r@1"]
        return record["loss"] < 0.99 * best["loss"]

    def _sal(self, cos, positive):
        """Eq. 15, averaged per query over its positives and over its negatives separately
        (a plain mean over all pairs would weigh a positive by 1/M)."""
        n_pos = positive.sum(1)
        pos_term = (1 - cos).masked_fill(~positive, 0).sum(1) / n_pos
        neg_term = torch.relu(cos - self.margin).masked_fill(positive, 0).sum(1) / (
            positive.shape[1] - n_pos).clamp(min=1)
        return (pos_term + neg_term).mean()

    @torch.no_grad()
    def _validate(self, graphs, tasks, positive) -> dict:
        """R@1 and L_SAL on the held-out tasks (the network is put back in training mode)."""
        self.network.eval()
        cos = self.query_encoder(tasks) @ self.model_encoder(graphs).T
        self.network.train()
        hits = positive[torch.arange(len(cos)), cos.argmax(1)]
        return {"r@1": float(hits.float().mean()), "loss": float(self._sal(cos, positive))}

    # -------------------------------------------------------------- retrieval
    @torch.no_grad()
    def embed_models(self, specs) -> np.ndarray:
        """``(M, embedding_dim)`` unit vectors of the given models."""
        self._require_fitted()
        return self.model_encoder([self._graph_tensors(s) for s in specs]).numpy()

    @torch.no_grad()
    def embed_query(self, query) -> np.ndarray:
        """Unit vector of a query (a :class:`Know2VecQuery` or its ``(C, D)`` class means, C >= 1)."""
        self._require_fitted()
        means = query.means if isinstance(query, Know2VecQuery) else as_data_array(query, "query means", (2,))
        return self.query_encoder([self._query_tensor(means)])[0].numpy()

    def scores(self, query, specs=None, model_embeddings=None) -> np.ndarray:
        """Cosine between the query and each model (Eq. 17); higher is a better match."""
        if model_embeddings is None:
            model_embeddings = self.embed_models(specs)
        return model_embeddings @ self.embed_query(query)

    # ------------------------------------------------------------------- I/O
    def save(self, folder) -> None:
        """Weights to ``proxy-<sha256>.pt`` (a plain state dict), settings to ``proxy.json`` (checked first, swapped in
        last: a failed save leaves the previous proxy loadable); see :mod:`.proxy_files`."""
        self._require_fitted()
        save_proxy(self, folder)

    @classmethod
    def load(cls, folder, verbose: bool = False) -> "Know2VecProxy":
        """Read a proxy written by :meth:`save`; weights load with ``weights_only=True``."""
        return load_proxy(cls, folder, verbose)
