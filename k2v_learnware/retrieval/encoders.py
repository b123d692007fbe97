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

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence


def _last_states(lstm: nn.LSTM, sequences: list[torch.Tensor]) -> torch.Tensor:
    """Final forward and backward hidden states of each sequence, concatenated: ``(B, 2H)``."""
    _, (h_n, _) = lstm(pack_sequence(sequences, enforce_sorted=False))
    return torch.cat([h_n[-2], h_n[-1]], dim=1)


def _last_states_by_length(lstm: nn.LSTM, sequences: list[torch.Tensor]) -> torch.Tensor:
    """:func:`_last_states` for few distinct lengths: one dense LSTM call per length, no packing.

    A boundary graph's rows all have the length of its class count, so a market's
    graphs come in a handful of lengths; dense calls skip the packed sequence's
    gathers, about a third of the model encoder's time in training."""
    lengths = torch.tensor([len(s) for s in sequences])
    states = sequences[0].new_zeros(len(sequences), 2 * lstm.hidden_size)
    for length in torch.unique(lengths).tolist():
        index = torch.nonzero(lengths == length).flatten()
        _, (h_n, _) = lstm(torch.stack([sequences[i] for i in index.tolist()]))
        states = states.index_copy(0, index, torch.cat([h_n[-2], h_n[-1]], dim=1))
    return states


@dataclass
class GraphLayout:
    """Boundary graphs as one node table: ``nodes`` ``(N, D)``, the length of each class row in order, and
    how many rows each graph has."""

    nodes: torch.Tensor
    row_lengths: list[int]
    rows_per_graph: list[int]


class ModelEncoder(nn.Module):
    """Boundary graph -> L2-normalised vector (inner BiLSTM per class row, outer BiLSTM over classes)."""

    def __init__(self, in_features: int, hidden: int = 128, out_features: int = 256, project: nn.Module | None = None):
        super().__init__()
        self.project = project or nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.inner = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.outer = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, out_features)

    @staticmethod
    def layout(graphs: list[tuple[torch.Tensor, torch.Tensor]]) -> GraphLayout:
        """The nodes of every class row the probe set reached, row after row and graph after graph: built once
        for the fixed graphs of a proxy's training, not again at every step."""
        nodes, row_lengths, rows_per_graph = [], [], []
        for g, (grid, mask) in enumerate(graphs):
            reached = torch.diagonal(mask)  # the classes the probe set reached
            if not reached.any():  # no sequence to encode (the LSTM would fail on an empty one)
                raise ValueError(f"boundary graph {g} has no centroid node: the probe set reached none of its classes")
            nodes.append(grid[mask & reached[:, None]])  # their rows' nodes, row by row
            row_lengths += mask[reached].sum(1).tolist()
            rows_per_graph.append(int(reached.sum()))
        return GraphLayout(torch.cat(nodes), row_lengths, rows_per_graph)

    def forward(self, graphs) -> torch.Tensor:
        """``graphs``: (nodes ``(K, K, D)``, mask ``(K, K)``) per model, or their :meth:`layout`;
        returns ``(G, out)``."""
        layout = graphs if isinstance(graphs, GraphLayout) else self.layout(graphs)
        # one projection of every node at once, then one sequence per class row, then one per graph
        rows = list(self.project(layout.nodes).split(layout.row_lengths))
        theta = _last_states_by_length(self.inner, rows)
        per_graph = list(theta.split(layout.rows_per_graph))
        return nn.functional.normalize(self.head(_last_states_by_length(self.outer, per_graph)), dim=1)


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
