"""One retrieval benchmark over several seeds: per-seed R@1 of every method, their mean and spread.

A seed draws a new zoo (training rows, models), probe set and queries. In the
best-model protocol R@1 depends on a few near-tied models per data set, so one
seed's number moves by ±0.1 from draw to draw (measured: Know2Vec 0.71-0.89 over
seeds 0-4); a claim about a method needs the spread, not one draw. This reads the
``results.json`` of runs that differ only in ``--seed`` and puts them side by
side, with the truth's split-half agreement of each seed (how reproducible
"the most accurate model" was in that draw)::

    python benchmarks/retrieval_seeds.py bench-out/retrieval bench-out/retrieval-seed-* --out bench-out/retrieval-seeds
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from .report import _fmt, _pyplot, check_results


def summarise_retrieval_seeds(docs: list) -> dict:
    """Per-seed and mean R@1, R@3 and top-1 accuracy of every method over retrieval results that differ only in
    their seed; refuses mixed protocols, repeated seeds or differing method sets."""
    if not isinstance(docs, (list, tuple)):
        raise TypeError(f"docs must be a list of results.json mappings, got {type(docs).__name__}")
    if len(docs) < 2:
        raise ValueError("summarising seeds needs the results of at least 2 runs")
    for doc in docs:
        if not isinstance(doc, dict):
            raise TypeError(f"each result must be a results.json mapping, got {type(doc).__name__}")
        check_results(doc)
        if doc["benchmark"] != "retrieval":
            raise ValueError(f"only retrieval results can be summarised over seeds, got {doc['benchmark']!r}")
    seeds = [d.get("seed") for d in docs]
    if len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"every run needs its own integer seed, got {seeds}")
    docs = sorted(docs, key=lambda d: d["seed"])
    seeds = sorted(seeds)
    for key in ("protocol", "description"):
        values = {d.get(key) for d in docs}
        if len(values) != 1:
            raise ValueError(f"the runs differ in {key} ({sorted(map(str, values))}); only the seed may differ")
    names = list(docs[0]["methods"])
    for d in docs[1:]:
        if list(d["methods"]) != names:
            raise ValueError(f"seed {d['seed']} has methods {list(d['methods'])}, seed {seeds[0]} has {names}")
    methods = {}
    for name in names:
        entry = {}
        for key in ("r@1", "r@3", "top1_accuracy"):
            values = [d["methods"][name][key] for d in docs]
            entry[key] = values
            known = [v for v in values if v is not None]
            entry[f"{key}_mean"] = statistics.fmean(known) if known else None
            entry[f"{key}_sd"] = statistics.stdev(known) if len(known) > 1 else None
        entry["r@1_by_dataset_mean"] = _by_dataset_mean([d["methods"][name] for d in docs])
        methods[name] = entry
    summary = {"benchmark": "retrieval-seeds", "protocol": docs[0]["protocol"], "description": docs[0]["description"],
               "seeds": seeds, "queries_per_seed": [d["queries"] for d in docs],
               "chance_r@1": [d.get("chance_r@1") for d in docs],
               "best_accuracy": [d.get("best_accuracy") for d in docs],
               "truth_split_half": [d.get("truth_split_half") for d in docs], "methods": methods}
    wide = [d.get("wide") for d in docs]
    if all(wide) and len({tuple(w["methods"]) for w in wide}) == 1:  # runs from before the wide set have none
        summary["wide"] = {"queries": [w["queries"] for w in wide],
                           "truth_split_half": [w.get("truth_split_half") for w in wide],
                           "methods": {name: _spread([w["methods"][name] for w in wide])
                                       for name in wide[0]["methods"]}}
    return summary


def _spread(entries: list) -> dict:
    """One method's R@1 per seed, its mean ± sd, top-1 accuracy's mean and R@1 by data set, mean over seeds."""
    r1 = [e["r@1"] for e in entries]
    return {"r@1": r1, "r@1_mean": statistics.fmean(r1), "r@1_sd": statistics.stdev(r1) if len(r1) > 1 else None,
            "top1_accuracy_mean": statistics.fmean(e["top1_accuracy"] for e in entries),
            "r@1_by_dataset_mean": _by_dataset_mean(entries)}


def _by_dataset_mean(entries: list) -> dict:
    """R@1 of each data set's queries, mean over the runs (the data sets every run has)."""
    by_dataset = [e.get("r@1_by_dataset") or {} for e in entries]
    return {dataset: statistics.fmean(b[dataset] for b in by_dataset) for dataset in sorted(set().union(*by_dataset))
            if all(b.get(dataset) is not None for b in by_dataset)}


def seed_summary_markdown(summary: dict) -> str:
    """The per-seed R@1 table (mean ± sd last), then the truth's split-half agreement of each seed."""
    seeds = summary["seeds"]
    head = ["method"] + [f"R@1 seed {s}" for s in seeds] + ["R@1 mean ± sd", "top-1 accuracy mean"]
    lines = [f"Retrieval over {len(seeds)} seeds: {summary['description']}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in summary["methods"].items():
        spread = f"{_fmt(e['r@1_mean'])} ± {_fmt(e['r@1_sd'])}"
        lines.append("| " + " | ".join([name] + [_fmt(v) for v in e["r@1"]] + [spread, _fmt(e["top1_accuracy_mean"])])
                     + " |")
    if any(v is not None for v in summary["truth_split_half"]):
        lines.append("| truth split-half agreement | " + " | ".join(_fmt(v) for v in summary["truth_split_half"])
                     + " | | |")
    datasets = sorted({d for e in summary["methods"].values() for d in e.get("r@1_by_dataset_mean") or {}})
    if datasets:  # where the misses are: the data sets' truths are not equally reproducible
        lines += ["", "R@1 by the query's data set, mean over seeds:", "",
                  "| method | " + " | ".join(datasets) + " |", "|" + "---|" * (len(datasets) + 1)]
        lines += ["| " + " | ".join([name] + [_fmt((e.get("r@1_by_dataset_mean") or {}).get(d)) for d in datasets])
                  + " |" for name, e in summary["methods"].items()]
    wide = summary.get("wide")
    if wide:  # the same seeds, more queries: the cheap methods' R@1 with less sampling noise
        datasets = sorted({d for e in wide["methods"].values() for d in e["r@1_by_dataset_mean"]})
        head = ["method"] + [f"R@1 seed {s}" for s in seeds] + ["R@1 mean ± sd"] + [f"R@1 {d}" for d in datasets]
        lines += ["", f"The methods that need no forward pass on {'/'.join(map(str, sorted(set(wide['queries']))))} "
                      "queries a seed (the table's first):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([name] + [_fmt(v) for v in e["r@1"]] + [f"{_fmt(e['r@1_mean'])} ± "
                                                                              f"{_fmt(e['r@1_sd'])}"]
                                    + [_fmt(e["r@1_by_dataset_mean"].get(d)) for d in datasets]) + " |"
                  for name, e in wide["methods"].items()]
        if any(v is not None for v in wide["truth_split_half"]):
            lines.append("| truth split-half agreement | " + " | ".join(_fmt(v) for v in wide["truth_split_half"])
                         + " |" + " |" * (1 + len(datasets)))
    if all(v is not None for v in summary["best_accuracy"]):
        lines += ["", "Accuracy of the most accurate model, the best a top-1 pick can reach, mean over seeds: "
                      f"{statistics.fmean(summary['best_accuracy']):.3f}."]
    return "\n".join(lines) + "\n"


def seed_summary_plot(summary: dict, path) -> Path:
    """R@1 of every method, one dot per seed and a bar at the mean; the truth's split-half agreement dashed."""
    plt = _pyplot()
    names = list(summary["methods"])
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, name in enumerate(names):
        e = summary["methods"][name]
        ax.bar(i, e["r@1_mean"] or 0, width=0.6, color="tab:blue", alpha=0.35)
        ax.scatter([i] * len(e["r@1"]), e["r@1"], color="tab:blue", s=14, zorder=3)
    wide = summary.get("wide")
    if wide:
        label = f"on {max(wide['queries'])} queries a seed"
        for i, name in enumerate(names):
            if name in wide["methods"]:
                values = wide["methods"][name]["r@1"]
                ax.scatter([i + 0.2] * len(values), values, color="tab:orange", marker="x", s=18, zorder=3,
                           label=label)
                label = None
    halves = [v for v in summary["truth_split_half"] if v is not None]
    if halves:
        ax.axhline(statistics.fmean(halves), ls="--", color="grey", label="truth split-half agreement (mean)")
    if halves or wide:
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="R@1", ylim=(0, 1.05), title=f"R@1 over seeds {', '.join(map(str, summary['seeds']))}")
    ax.grid(axis="y", alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(), fig.savefig(path, dpi=120), plt.close(fig)
    return path


def write_seed_summary(result_dirs, out) -> list[Path]:
    """Read ``results.json`` from each of ``result_dirs``; write summary.json, summary.md and r1-over-seeds.png."""
    docs = []
    for folder in result_dirs:
        path = Path(folder) / "results.json"
        if not path.is_file():
            raise ValueError(f"{folder} holds no results.json")
        docs.append(json.loads(path.read_text()))
    summary = summarise_retrieval_seeds(docs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(seed_summary_markdown(summary))
    return [out / "summary.json", out / "summary.md", seed_summary_plot(summary, out / "r1-over-seeds.png")]
