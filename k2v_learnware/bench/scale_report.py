"""Scale benchmark: the shape check of ``results.json``, its Markdown table and its latency plot."""

from __future__ import annotations

import json
from pathlib import Path

from .report import _check_finite, _fmt, _pyplot

FIELDS = ("search_seconds_p50", "peak_rss_mb", "planted_recall", "build_seconds", "queries")


def check_scale_results(doc: dict) -> None:
    """Raise ValueError unless ``doc`` has the shape :mod:`.scale` documents (and no NaN/inf)."""
    if doc.get("benchmark") != "scale" or not isinstance(doc.get("methods"), dict):
        raise ValueError("scale results need 'benchmark': 'scale' and a 'methods' mapping")
    sizes = doc.get("sizes")
    if not isinstance(sizes, list) or not sizes:
        raise ValueError("scale results need a non-empty 'sizes' list")
    for name, entry in doc["methods"].items():
        for key in FIELDS:
            if not isinstance(entry.get(key), list) or len(entry[key]) != len(sizes):
                raise ValueError(f"{name}.{key} must be a list with one value per size")
    _check_finite(doc, "results")


def scale_markdown(doc: dict) -> str:
    sizes = doc["sizes"]
    shared = doc.get("workers_at_once", 1)
    alone = "one process at a time" if shared == 1 else f"{shared} processes at once, sharing the cores"
    lines = [f"Search at scale: {doc.get('description', '')}. One thread per process, {alone}; p50 over "
             "the users searched (`queries`).", ""]
    head = ["method", "N", "p50 search s", "peak RSS MB", "RSS with the data loaded MB", "planted recall", "build s",
            "users"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in doc["methods"].items():
        for i, n in enumerate(sizes):
            lines.append("| " + " | ".join([name, f"{n:,}", _fmt(e["search_seconds_p50"][i], 4),
                                             _fmt(e["peak_rss_mb"][i]),
                                             _fmt((e.get("data_rss_mb") or [None] * len(sizes))[i]),
                                             _fmt(e["planted_recall"][i]),
                                             _fmt(e["build_seconds"][i]), str(e["queries"][i])]) + " |")
    index = doc["methods"].get("LANE", {}).get("index_seconds")
    if index:
        lines += ["", "LANE index read from the stored class means (what a market change costs): "
                  + ", ".join(f"N = {n:,}: {_fmt(s, 3)} s" for n, s in zip(sizes, index)) + "."]
    ratios = doc.get("ratios", {}).get("rkme_over_lane_p50", [])
    if ratios:
        lines += ["", "EasyStatSearcher p50 / LANE p50 (same run, same markets): "
                  + ", ".join(f"N = {n:,}: ×{_fmt(r, 3)}" for n, r in zip(sizes, ratios)) + "."]
    return "\n".join(lines) + "\n"


def scale_plot(doc: dict, out) -> Path:
    """latency-vs-learnwares.png: p50 search latency against the number of learnwares, log-log."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, e in doc["methods"].items():
        ax.plot(doc["sizes"], e["search_seconds_p50"], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learnwares in the market (10 classes each)")
    ax.set_ylabel("p50 search latency (s, one thread)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = Path(out) / "latency-vs-learnwares.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_scale_report(doc: dict, out) -> list[Path]:
    """results.json, results.md and the plot in the folder ``out``."""
    check_scale_results(doc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    results.write_text(json.dumps(doc, indent=2) + "\n")
    markdown = out / "results.md"
    markdown.write_text(scale_markdown(doc))
    return [results, markdown, scale_plot(doc, out)]
