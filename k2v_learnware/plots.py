"""Pictures of specifications: a heatmap of pairwise distances, and a spec drawn over its data.

The second is the view of the LANE paper's Figure 2: the data as a faint
cloud in 2-D, the specification's few points drawn large on top, coloured by
class, so one sees whether they cover every class and its spread.
Both write PNG files with matplotlib's Agg backend (no display needed) and
return the path; matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import as_data_array, as_labels, one_of

PROJECTIONS = ("pca", "tsne")
#: Data rows t-SNE embeds at most (it is quadratic in them); PCA uses every row.
MAX_TSNE_ROWS = 2000


def _figure(size):
    """A figure on an Agg canvas, made without pyplot: no global backend switch, nothing to close."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _output_path(path) -> Path:
    if path is None:
        raise TypeError("path is required: where to write the PNG file")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give the name of the PNG file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def plot_distance_heatmap(matrix, labels, path, title: str | None = None) -> Path:
    """Heatmap of a square distance matrix (e.g. ``compare_many(...).distance``), values written in the cells."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"matrix must be square and non-empty, got shape {m.shape}")
    labels = [str(v) for v in labels]
    if len(labels) != len(m):
        raise ValueError(f"{len(labels)} labels for a {len(m)} x {len(m)} matrix; give one per row")
    path = _output_path(path)
    size = max(4.0, 0.6 * len(m) + 2.5)
    fig = _figure((size, size * 0.85))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(m), cmap="viridis")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="distance")
    ax.set_xticks(range(len(m)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(m)), labels)
    if len(m) <= 20:
        finite = m[np.isfinite(m)]
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(len(m)):
            for j in range(len(m)):
                text = "-" if not np.isfinite(m[i, j]) else f"{m[i, j]:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if np.isfinite(m[i, j]) and m[i, j] < middle else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _spec_points(spec):
    """``(points (M, D), labels or None, sizes (M,), marker per point, legend title)`` of any spec kind."""
    from learnware.specification import RKMETableSpecification

    from .specification.know2vec import Know2VecSpecification
    from .specification.lane import LANESpecification

    if isinstance(spec, LANESpecification):
        z = spec.get_z()
        labels = None if spec.classes == [None] else list(spec.get_labels().tolist())
        return z.reshape(len(z), -1), labels, np.full(len(z), 90.0), ["o"] * len(z), "LANE points"
    if isinstance(spec, RKMETableSpecification):
        if spec.z is None:
            raise ValueError("this RKMETableSpecification is empty: generate it from data or load it first")
        z, beta = spec.get_z(), np.asarray(spec.get_beta(), dtype=float).reshape(-1)
        sizes = 30.0 + 170.0 * np.clip(beta / max(beta.max(), 1e-12), 0, 1)
        return z.reshape(len(z), -1), None, sizes, ["o"] * len(z), "RKME points (size: beta)"
    if isinstance(spec, Know2VecSpecification):
        nodes, mask = spec.graph()
        rows, labels, markers = [], [], []
        for i, j in zip(*np.nonzero(mask)):
            rows.append(nodes[i, j])
            labels.append(spec.classes[i])
            markers.append("o" if i == j else "X")
        return (np.stack(rows), labels, np.where(np.array(markers) == "o", 110.0, 50.0), markers,
                "Know2Vec nodes (o centroid, X boundary)")
    raise TypeError(f"cannot plot a {type(spec).__name__}: expected a LANE, RKME or Know2Vec specification")


def _project(data: np.ndarray, points: np.ndarray, method: str, random_state: int):
    """2-D coordinates of the data rows and of the spec's points, in one projection."""
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=random_state).fit(data)
        return pca.transform(data), pca.transform(points)
    from sklearn.manifold import TSNE  # no transform: embed data and points together

    both = np.concatenate([data, points])
    perplexity = float(min(30.0, max(2.0, (len(both) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(both)
    return xy[: len(data)], xy[len(data):]


def plot_spec_over_data(spec, X, y=None, path=None, *, method: str = "pca", title: str | None = None,
                        random_state: int = 0) -> Path:
    """Draw ``X`` faintly (coloured by ``y`` if given) and the spec's points large on top, in 2-D.

    ``method`` is ``"pca"`` (fitted on ``X``, then applied to the points) or
    ``"tsne"`` (data, at most 2000 random rows, and points embedded together).
    """
    one_of(method, "method", PROJECTIONS)
    path = _output_path(path)
    points, point_labels, sizes, markers, legend_title = _spec_points(spec)
    X = as_data_array(X, "X")
    data = X.reshape(len(X), -1).astype(np.float64)
    if data.shape[1] != points.shape[1]:
        raise ValueError(f"feature dimensions differ: X has samples of shape {tuple(X.shape[1:])} "
                         f"({data.shape[1]} features), the specification {points.shape[1]} features")
    if len(data) < 3 or data.shape[1] < 2:
        raise ValueError(f"a 2-D view needs at least 3 rows of at least 2 features, got X of shape {X.shape}")
    labels = None if y is None else as_labels(y, len(X))
    if method == "tsne" and len(data) > MAX_TSNE_ROWS:
        keep = np.sort(np.random.default_rng(random_state).choice(len(data), MAX_TSNE_ROWS, replace=False))
        data = data[keep]
        labels = None if labels is None else [labels[i] for i in keep]
    data_xy, point_xy = _project(data, points.astype(np.float64), method, random_state)

    from matplotlib import colormaps

    classes = list(dict.fromkeys((labels or []) + (point_labels or [])))
    cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
    colour = {c: cmap(k % cmap.N) for k, c in enumerate(classes)}
    fig = _figure((6.5, 5.5))
    ax = fig.subplots()
    data_colours = "0.6" if labels is None else [colour[v] for v in labels]
    ax.scatter(data_xy[:, 0], data_xy[:, 1], s=6, c=data_colours, alpha=0.18, linewidths=0)
    point_colours = ["black"] * len(points) if point_labels is None else [colour[v] for v in point_labels]
    for marker in dict.fromkeys(markers):
        rows = [i for i, m in enumerate(markers) if m == marker]
        ax.scatter(point_xy[rows, 0], point_xy[rows, 1], s=sizes[rows], marker=marker,
                   c=[point_colours[i] for i in rows], edgecolors="black", linewidths=0.8, zorder=3)
    for c in classes:
        ax.scatter([], [], s=40, color=colour[c], label=str(c))
    if classes:
        ax.legend(title="class", fontsize=8, loc="best", markerscale=1.0)
    axis, name = ("PC", "PCA") if method == "pca" else ("t-SNE ", "t-SNE")
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(title or f"{legend_title} over {len(data)} data rows ({name})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
