"""Writing a benchmark's results: ``results.json``, a Markdown table and PNG plots.

``results.json`` has a fixed shape that scripts can read:

- reuse: ``{"benchmark": "reuse", "dataset": ..., "mixture_counts": [1, 2, ...],
  "methods": {NAME: {"accuracy": [one per mixture count], "weights_l1": [...],
  "spec_seconds": ..., "search_seconds": ..., "reuse_seconds": ..., "users": [...],
  "spec_points": ..., "spec_bytes": ..., "ratio_to_rkme": {...}}}}``
  (``null`` where a method has no such figure, e.g. the weights of MAX);
- retrieval: ``{"benchmark": "retrieval", "methods": {NAME: {"r@1": ..., "r@3": ...,
  "top1_accuracy": ..., "pearson": ..., "spearman": ..., "seconds_per_query": ...,
  "access": ...}}}``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

REUSE_REQUIRED = ("MAX", "RKME", "RKME+SVM", "LANE", "Oracle")
RETRIEVAL_REQUIRED = ("Know2Vec", "LEEP", "NCE", "LogME", "H-score", "NLEEP", "neuralRank", "LANE")
RETRIEVAL_FIELDS = ("r@1", "r@3", "top1_accuracy", "pearson", "spearman", "seconds_per_query", "access")


def check_results(doc: dict) -> None:
    """Raise ValueError if ``doc`` does not have the fixed shape (or holds NaN/inf)."""
    kind = doc.get("benchmark")
    methods = doc.get("methods")
    if kind == "reuse" and not isinstance(doc.get("mixture_counts"), list):
        raise ValueError("reuse results need a 'mixture_counts' list")
    if kind not in ("reuse", "retrieval") or not isinstance(methods, dict):
        raise ValueError("results must have 'benchmark' in {'reuse', 'retrieval'} and a 'methods' mapping")
    required = REUSE_REQUIRED if kind == "reuse" else RETRIEVAL_REQUIRED
    missing = [name for name in required if name not in methods]
    if missing:
        raise ValueError(f"{kind} results lack the methods {missing}")
    for name, entry in methods.items():
        if kind == "reuse":
            counts = doc.get("mixture_counts")
            for key in ("accuracy", "weights_l1"):
                if not isinstance(entry.get(key), list) or len(entry[key]) != len(counts):
                    raise ValueError(f"{name}: {key} needs one value per mixture count {counts}")
            for key in ("spec_seconds", "search_seconds", "reuse_seconds"):
                if key not in entry:
                    raise ValueError(f"{name}: missing {key}")
        else:
            absent = [key for key in RETRIEVAL_FIELDS if key not in entry]
            if absent:
                raise ValueError(f"{name}: missing {absent}")
    _check_finite(doc, "results")


def _check_finite(value, where):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")


def write_results(doc: dict, out) -> Path:
    """Check ``doc`` and write ``results.json`` into the folder ``out``."""
    check_results(doc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.{digits - 1}f}"
    return f"{value:.{digits}f}" if abs(value) >= 1e-3 else f"{value:.2e}"


def reuse_markdown(doc: dict) -> str:
    """Accuracy per mixture count, weight error and times (with ratios to RKME) as Markdown."""
    counts = doc["mixture_counts"]
    head = ["method"] + [f"acc m={m}" for m in counts] + ["weights L1 (mean)", "spec points", "spec s (×RKME)",
                                                           "search s (×RKME)", "reuse s (×RKME)", "users per m"]
    lines = [f"Reuse on {doc['dataset']}: {doc.get('description', '')}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in _ordered(doc["methods"]):
        l1 = [v for v in e["weights_l1"] if v is not None]
        ratio = e.get("ratio_to_rkme", {})
        times = [f"{_fmt(e[k])} ({_fmt(ratio.get(k), 2)})" if e[k] is not None else "-"
                 for k in ("spec_seconds", "search_seconds", "reuse_seconds")]
        users = sorted(set(e.get("users", [])))
        row = [name] + [_fmt(v) for v in e["accuracy"]] + [_fmt(sum(l1) / len(l1)) if l1 else "-",
                                                           _fmt(e.get("spec_points"))] + times
        row.append("/".join(str(u) for u in users))
        lines.append("| " + " | ".join(row) + " |")
    anchor = next((e for e in doc["methods"].values() if e.get("paired") is None and "paired" in e), None)
    compared = [(name, e["paired"]) for name, e in _ordered(doc["methods"]) if e.get("paired")
                and name.startswith("LANE") and "-k" not in name]
    if compared and anchor is not None:
        anchor_name = next(n for n, e in doc["methods"].items() if e is anchor)
        lines += ["", f"Paired with {anchor_name} on the same users: mean accuracy difference, wins/losses, "
                      "two-sided sign-test p and 95% bootstrap interval:", "",
                  "| method | " + " | ".join(f"m={m}" for m in counts) + " |", "|" + "---|" * (len(counts) + 1)]
        for name, per_count in compared:
            cells = []
            for m in counts:
                p = per_count.get(str(m))
                cells.append("-" if p is None else f"{p['mean_difference']:+.3f} ({p['wins']}/{p['losses']}, "
                             f"p={p['sign_test_p']:.2g}, [{p['bootstrap_95'][0]:+.3f}, {p['bootstrap_95'][1]:+.3f}])")
            lines.append("| " + " | ".join([name] + cells) + " |")
    paired = [(name, e["accuracy_jobselector_users"]) for name, e in _ordered(doc["methods"])
              if any(v is not None for v in e.get("accuracy_jobselector_users", []))]
    if paired:
        lines += ["", f"The same, on only the users the package's JobSelectorReuser ran on "
                      f"({doc.get('jobselector_users_per_count')} per mixture count; paired comparison):", "",
                  "| method | " + " | ".join(f"acc m={m}" for m in counts) + " |", "|" + "---|" * (len(counts) + 1)]
        lines += ["| " + " | ".join([name] + [_fmt(v) for v in values]) + " |" for name, values in paired]
    return "\n".join(lines) + "\n"


def retrieval_markdown(doc: dict) -> str:
    head = ["method", "R@1", "R@3", "top-1 accuracy", "Pearson", "Spearman", "ms per query", "model access"]
    chance = f" Chance R@1: {doc['chance_r@1']:.3f}." if "chance_r@1" in doc else ""
    lines = [f"Retrieval: {doc.get('description', '')}.{chance}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for name, e in doc["methods"].items():
        ms = None if e["seconds_per_query"] is None else e["seconds_per_query"] * 1000
        lines.append("| " + " | ".join([name, _fmt(e["r@1"]), _fmt(e["r@3"]), _fmt(e["top1_accuracy"]),
                                         _fmt(e["pearson"]), _fmt(e["spearman"]), _fmt(ms), e["access"]]) + " |")
    datasets = sorted({d for e in doc["methods"].values() for d in e.get("r@1_by_dataset") or {}})
    if datasets:  # R@1 of each data set's queries: where a method's misses come from
        lines += ["", "R@1 by the query's data set:", "", "| method | " + " | ".join(datasets) + " |",
                  "|" + "---|" * (len(datasets) + 1)]
        lines += ["| " + " | ".join([name] + [_fmt((e.get("r@1_by_dataset") or {}).get(d)) for d in datasets]) + " |"
                  for name, e in doc["methods"].items()]
    fits = [f"{name} {e['proxy_fit_seconds']:.1f} s ({e['proxy_steps']} steps)" for name, e in doc["methods"].items()
            if e.get("proxy_fit_seconds") is not None and e.get("proxy_steps") is not None]
    if fits:
        lines += ["", "Proxy training: " + ", ".join(fits) + "."]
    if doc.get("truth_split_half") is not None:
        lines += ["", f"Split-half agreement of the truth: the model most accurate on one random half of a query's "
                      f"held rows is the most accurate on the other half in {doc['truth_split_half']:.3f} of the "
                      f"queries (how much of R@1 the truth's own noise leaves to find)."]
    wide = doc.get("wide")
    if wide:  # the cheap methods on more queries: the table's first, then more
        datasets = sorted({d for e in wide["methods"].values() for d in e.get("r@1_by_dataset") or {}})
        head = ["method", "R@1", "R@3", "top-1 accuracy"] + [f"R@1 {d}" for d in datasets]
        lines += ["", f"The methods that need no forward pass on {wide['queries']} queries (the table's "
                      f"{doc['queries']} first; truth split-half agreement {_fmt(wide.get('truth_split_half'))}, "
                      f"chance R@1 {_fmt(wide.get('chance_r@1'))}):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([name, _fmt(e["r@1"]), _fmt(e["r@3"]), _fmt(e["top1_accuracy"])]
                                    + [_fmt((e.get("r@1_by_dataset") or {}).get(d)) for d in datasets]) + " |"
                  for name, e in wide["methods"].items()]
    if doc.get("source_is_most_accurate") is not None:
        lines += ["", f"The query's source model is also the most accurate on its held-out rows in "
                      f"{doc['source_is_most_accurate']:.3f} of the queries."]
    return "\n".join(lines) + "\n"


def _ordered(methods: dict):
    first = [n for n in ("Oracle", "LANE", "RKME", "RKME+SVM", "RKME-median", "RKME-median+SVM", "MAX")
             if n in methods]
    return [(n, methods[n]) for n in first + sorted(n for n in methods if n not in first)]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def reuse_plots(doc: dict, out) -> list[Path]:
    """accuracy-vs-mixture-count.png and accuracy-vs-spec-size.png in ``out``."""
    plt = _pyplot()
    out = Path(out)
    counts = doc["mixture_counts"]
    paths = []

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, e in _ordered(doc["methods"]):
        if "-k" in name or "-n" in name:
            continue
        points = [(m, a) for m, a in zip(counts, e["accuracy"]) if a is not None]
        style = "--" if name in ("Oracle", "MAX") else "-"
        ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=name)
    ax.set(xlabel="tasks mixed in the user's data", ylabel="reuse accuracy", xticks=counts,
           title=f"Reuse on {doc['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(out / "accuracy-vs-mixture-count.png")
    fig.tight_layout(), fig.savefig(paths[-1], dpi=120), plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for family, label in (("LANE", "LANE"), ("RKME-median+SVM", "RKME-median+SVM")):
        sized = [(e["spec_points"], _mean(e["accuracy"])) for name, e in doc["methods"].items()
                 if (name == family or name.startswith(family + "-k") or name.startswith(family + "-n"))
                 and e.get("spec_points")]
        sized.sort()
        if sized:
            ax.plot([s for s, _ in sized], [a for _, a in sized], marker="o", label=label)
    for name, color in (("RKME", "tab:green"), ("RKME-median", "tab:purple"), ("Oracle", "grey")):
        if name in doc["methods"]:
            label = f"{name} (package reuser, 100 points)" if name.startswith("RKME") else name
            ax.axhline(_mean(doc["methods"][name]["accuracy"]), ls=":", color=color, label=label)
    ax.set(xscale="log", xlabel="specification points per learnware", ylabel="reuse accuracy (mean over m)",
           title=f"Accuracy against specification size, {doc['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(out / "accuracy-vs-spec-size.png")
    fig.tight_layout(), fig.savefig(paths[-1], dpi=120), plt.close(fig)
    return paths


def retrieval_plots(doc: dict, out) -> list[Path]:
    """recall-at-k.png: R@1 and R@3 per method."""
    import numpy as np

    plt = _pyplot()
    names = list(doc["methods"])
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(names))
    for shift, key in ((-0.2, "r@1"), (0.2, "r@3")):
        ax.bar(x + shift, [doc["methods"][n][key] for n in names], width=0.4, label=key.upper())
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set(ylabel="recall", ylim=(0, 1.05), title="Model retrieval: R@k per method")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    path = Path(out) / "recall-at-k.png"
    fig.tight_layout(), fig.savefig(path, dpi=120), plt.close(fig)
    return [path]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def write_report(doc: dict, out) -> list[Path]:
    """results.json, results.md and the plots of ``doc`` in ``out``; returns the paths written."""
    out = Path(out)
    paths = [write_results(doc, out)]
    markdown = reuse_markdown(doc) if doc["benchmark"] == "reuse" else retrieval_markdown(doc)
    (out / "results.md").write_text(markdown)
    paths.append(out / "results.md")
    paths += reuse_plots(doc, out) if doc["benchmark"] == "reuse" else retrieval_plots(doc, out)
    return paths
