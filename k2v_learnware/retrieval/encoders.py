"""Retrieval: Know2Vec's two encoders, which map models and query tasks into one space.

- :class:`ModelEncoder` turns a boundary graph into a vector: an inner BiLSTM
  reads each class's row of the graph (its centroid and its boundary samples),
  an outer BiLSTM reads the resulting class embeddings (Eq. 4).
- :class:`QueryEncoder` turns a user's labelled task into a vector: a BiLSTM
  over the per-class mean features (Eq. 13).

LSTM initial states are zeros (the reference code draws them at random on every
call, which makes retrieval non-deterministic).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence


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
        nodes, lengths, owners = [], [], []
        for g, (grid, mask) in enumerate(graphs):
            rows = torch.nonzero(torch.diagonal(mask)).flatten()  # the classes the probe set reached
            nodes.append(grid[mask & torch.diagonal(mask)[:, None]])  # their rows' nodes, row by row
            lengths += mask[rows].sum(1).tolist()
            owners += [g] * len(rows)
        # one projection of every node at once, then one sequence per class row
        rows = list(self.project(torch.cat(nodes)).split(lengths))
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
