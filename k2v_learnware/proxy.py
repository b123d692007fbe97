"""Know2Vec's retrieval proxy: encoders for models and query tasks, trained to align (Eq. 14-17).

- :class:`ModelEncoder` turns a boundary graph into a vector: an inner BiLSTM
  reads each class's row of the graph (its centroid and its boundary samples),
  an outer BiLSTM reads the resulting class embeddings (Eq. 4).
- :class:`QueryEncoder` turns a user's labelled task into a vector: a BiLSTM
  over the per-class mean features (Eq. 13).
- :class:`Know2VecProxy` trains both with the model-identity cross-entropy
  (L_MKC, Eq. 14) plus the cosine alignment loss with margin 0.4 (L_SAL, Eq. 15)
  and ranks models for a query by cosine (Eq. 17).

A training task's positive model in L_SAL is, as in the paper, the model the task
was drawn for (:class:`TaskSampler`). When the market holds labels for its probe
set it can do better: :class:`LabelledTaskSampler` cuts tasks from the labelled
probe set and makes the models most accurate on each task its positives, which
is what a user asks for (the best model, not the one whose data the task
resembles); accuracies come from black-box predictions on the probe set only.

LSTM initial states are zeros (the reference code draws them at random on every
call, which makes retrieval non-deterministic).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence
from tqdm.auto import tqdm

from ._checks import as_data_array, as_labels, positive_float, positive_int
from .formats import read_json, write_json
from .know2vec import Know2VecSpecification
from .lane import LANESpecification

FORMAT_VERSION = 1
WEIGHTS_FILE = "proxy.pt"
META_FILE = "proxy.json"


def _last_states(lstm: nn.LSTM, sequences: list[torch.Tensor]) -> torch.Tensor:
    """Final forward and backward hidden states of each sequence, concatenated: ``(B, 2H)``."""
    _, (h_n, _) = lstm(pack_sequence(sequences, enforce_sorted=False))
    return torch.cat([h_n[-2], h_n[-1]], dim=1)


class ModelEncoder(nn.Module):
    """Boundary graph -> L2-normalised vector (inner BiLSTM per class row, outer BiLSTM over classes)."""

    def __init__(self, in_features: int, hidden: int = 128, out_features: int = 256, project: nn.Module | None = None):
        super().__init__()
        self.project = project or nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.inner = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.outer = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, out_features)

    def forward(self, graphs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """``graphs``: (nodes ``(K, K, D)``, mask ``(K, K)``) per model; returns ``(G, out)``."""
        rows, owners = [], []
        for g, (nodes, mask) in enumerate(graphs):
            for i in range(len(nodes)):
                if mask[i, i]:  # a class the probe set reached
                    rows.append(self.project(nodes[i][mask[i]]))
                    owners.append(g)
        theta = _last_states(self.inner, rows)
        owners = torch.tensor(owners)
        per_graph = [theta[owners == g] for g in range(len(graphs))]
        return nn.functional.normalize(self.head(_last_states(self.outer, per_graph)), dim=1)


class QueryEncoder(nn.Module):
    """Per-class mean features of a labelled task -> L2-normalised vector (BiLSTM over classes)."""

    def __init__(self, in_features: int, hidden: int = 128, out_features: int = 256, project: nn.Module | None = None):
        super().__init__()
        self.project = project or nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, out_features)

    def forward(self, class_means: list[torch.Tensor]) -> torch.Tensor:
        """``class_means``: one ``(C, D)`` tensor per task; returns ``(B, out)``."""
        states = _last_states(self.lstm, [self.project(m) for m in class_means])
        return nn.functional.normalize(self.head(states), dim=1)


class ProxyNetwork(nn.Module):
    """Both encoders and the model-identity head; the input projection is shared.

    Graph nodes and a query's class means live in the same input space, so one
    projection serves both encoders and gives their outputs a common start.
    """

    def __init__(self, in_features: int, num_models: int, hidden: int = 128, out_features: int = 256):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.model_encoder = ModelEncoder(in_features, hidden, out_features, project=self.project)
        self.query_encoder = QueryEncoder(in_features, hidden, out_features, project=self.project)
        self.identity_head = nn.Linear(out_features, num_models)


@dataclass
class Know2VecQuery:
    """What a user reveals: the classes of their task and the mean feature vector of each (Eq. 13)."""

    classes: list
    means: np.ndarray  # (C, D)

    type = "Know2VecQuery"

    @classmethod
    def from_data(cls, X, y) -> "Know2VecQuery":
        X = as_data_array(X)
        labels = as_labels(y, len(X))
        classes = sorted(dict.fromkeys(labels))
        if len(classes) < 2:
            raise ValueError(f"a query task needs at least 2 classes, got {classes}")
        flat = X.reshape(len(X), -1)
        lab = np.array(labels, dtype=object)
        return cls(classes, np.stack([flat[lab == c].mean(axis=0) for c in classes]))


class TaskSampler:
    """Draws labelled query tasks a market may build for one model, as per-class mean features.

    From the model's LANE specification when it has one (samples from its class
    Gaussians), else from the probe set labelled by the model itself. Every draw
    is fresh, so the proxy never sees the same training task twice.
    """

    def __init__(self, source, probe_X=None):
        if isinstance(source, LANESpecification):
            self.lane, self.classes = source, sorted(source.classes)
        else:
            flat = np.asarray(probe_X, dtype=np.float32).reshape(len(probe_X), -1)
            labels = np.asarray(source.predict(probe_X))
            self.lane, self.classes = None, sorted(np.unique(labels).tolist())
            self.rows = [flat[labels == c] for c in self.classes]

    def draw(self, rng, samples_per_class) -> np.ndarray:
        n = int(rng.integers(samples_per_class[0], samples_per_class[1] + 1))
        if self.lane is not None:
            return np.stack([self.lane.sample_class(c, n, random_state=rng).reshape(n, -1).mean(axis=0)
                             for c in self.classes])
        return np.stack([r[rng.choice(len(r), size=min(n, len(r)), replace=False)].mean(axis=0) for r in self.rows])


class LabelledTaskSampler:
    """Tasks cut from the market's labelled probe set; positives are the models most accurate on them.

    ``groups`` lists the class groups a task's classes are drawn from (e.g. one
    group per data domain); by default one group of every probe class. Each
    model predicts the probe set once, up front (black-box access only).
    """

    def __init__(self, models, probe_X, probe_y, groups=None, classes_per_task=(2, 5)):
        X = as_data_array(probe_X, "probe_X")
        labels = np.array(as_labels(probe_y, len(X), "probe_y"), dtype=object)
        self.flat = X.reshape(len(X), -1)
        self.correct = np.stack([np.asarray(m.predict(X), dtype=object).reshape(-1) == labels for m in models])
        known = list(dict.fromkeys(labels.tolist()))
        groups = [known] if groups is None else [list(g) for g in groups]
        for g in groups:
            missing = [c for c in g if c not in known]
            if missing:
                raise ValueError(f"task group classes {missing} have no rows in the labelled probe set")
            if len(g) < 2:
                raise ValueError(f"a task group needs at least 2 classes, got {g}")
        low, high = (int(v) for v in classes_per_task)
        if not 2 <= low <= high:
            raise ValueError(f"classes_per_task must be (low, high) with 2 <= low <= high, got {classes_per_task}")
        self.groups = groups
        self.rows = {c: np.flatnonzero(labels == c) for c in known}
        self.classes_per_task = (low, high)

    def draw(self, rng, samples_per_class) -> tuple[np.ndarray, np.ndarray]:
        """``(C, D)`` class means of a fresh task and the boolean mask of its best models."""
        group = self.groups[int(rng.integers(len(self.groups)))]
        k = int(rng.integers(self.classes_per_task[0], min(self.classes_per_task[1], len(group)) + 1))
        # the order Know2VecQuery.from_data gives a user's classes: the encoder reads them in sequence
        classes = sorted(group[i] for i in rng.choice(len(group), size=k, replace=False))
        n = int(rng.integers(samples_per_class[0], samples_per_class[1] + 1))
        picks = [rng.choice(self.rows[c], size=min(n, len(self.rows[c])), replace=False) for c in classes]
        accuracy = self.correct[:, np.concatenate(picks)].mean(axis=1)
        return np.stack([self.flat[p].mean(axis=0) for p in picks]), accuracy >= accuracy.max() - 1e-12


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
            raise RuntimeError("this Know2VecProxy is not fitted: call fit() or load()")

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
        bar = tqdm(range(self.epochs), desc="Know2Vec proxy", disable=not self.verbose, leave=False)
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
        proxy.shift_ = np.asarray(meta["shift"], dtype=np.float32)
        proxy.scale_ = np.asarray(meta["scale"], dtype=np.float32)
        proxy._build(meta["in_features"], meta["num_models"])
        proxy.network.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True))
        proxy.network.eval()
        return proxy
