"""Service benchmark: the shape check of ``results.json``, its Markdown table and its plot."""

from __future__ import annotations

import json
from pathlib import Path

from .report import _check_finite, _fmt, _pyplot

OPERATIONS = ("search (in-process)", "search (one at a time)", "search", "upload", "search (during uploads)")
ONE_AT_A_TIME = ("search (in-process)", "search (one at a time)")

def check_service_results(doc: dict) -> None:
    """Raise ValueError unless ``doc`` has the shape the module's docstring gives (and no NaN/inf)."""
    if doc.get("benchmark") != "service" or not isinstance(doc.get("operations"), dict):
        raise ValueError("service results need 'benchmark': 'service' and an 'operations' mapping")
    missing = [name for name in OPERATIONS if name not in doc["operations"]]
    if missing:
        raise ValueError(f"service results lack the operations {missing}")
    for name, entry in doc["operations"].items():
        absent = [key for key in ("requests", "errors", "concurrency", "seconds", "throughput_rps", "p50_ms",
                                  "p99_ms", "mean_ms", "cpu_ms_per_request") if key not in entry]
        if absent:
            raise ValueError(f"{name}: missing {absent}")
    for key in ("http_overhead", "errors", "same_results"):
        if key not in doc:
            raise ValueError(f"service results lack {key!r}")
    _check_finite(doc, "results")


def service_markdown(doc: dict) -> str:
    head = ["operation", "requests", "at a time", "errors", "req/s", "p50 ms", "p99 ms", "mean ms", "CPU ms/req"]
    lines = [f"Service load: {doc.get('description', '')}.", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for name, e in doc["operations"].items():
        lines.append("| " + " | ".join([name, str(e["requests"]), str(e["concurrency"]), str(e["errors"]),
                                         _fmt(e["throughput_rps"]), _fmt(e["p50_ms"]), _fmt(e["p99_ms"]),
                                         _fmt(e["mean_ms"]), _fmt(e.get("cpu_ms_per_request"))]) + " |")
    ratio, same, setup = doc["http_overhead"], doc["same_results"], doc["setup"]
    lines += ["", "HTTP search against the in-process search (the anchor):", "",
              f"- one at a time: p50 latency ×{_fmt(ratio['one_at_a_time_p50_ratio'], 2)}, mean "
              f"+{_fmt(ratio['one_at_a_time_extra_ms'])} ms per search (reading the requirement included; "
              f"in-process reading takes {_fmt(setup['requirement_load_ms'])} ms), CPU per search "
              f"×{_fmt(ratio['one_at_a_time_cpu_ratio'], 2)} (the workers' against this process's);",
              f"- {setup['concurrency']} at a time on {setup['workers']} workers: throughput "
              f"×{_fmt(ratio['concurrent_throughput_ratio'], 2)}, "
              f"p50 latency ×{_fmt(ratio['concurrent_p50_ratio'], 2)} "
              f"({setup['cpu_count']} CPU cores shared by client, server and database).", "",
              f"HTTP answers equal to the in-process ones: {same['agreeing']}/{same['compared']}. Learnwares "
              f"afterwards: {doc.get('learnwares_after')}. Errors: {doc['errors']}."]
    if doc.get("stage_seconds"):
        lines += ["", "Seconds per stage: " + ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}"
                                                      for k, v in doc["stage_seconds"].items()) + "."]
    lines += [f"- {sample}" for sample in doc.get("error_samples", [])]
    return "\n".join(lines) + "\n"


def service_plot(doc: dict, out) -> Path:
    """service-load.png: p50 and p99 latency and throughput per operation."""
    import numpy as np

    plt = _pyplot()
    names = list(doc["operations"])
    entries = [doc["operations"][n] for n in names]
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for shift, key, label in ((-0.2, "p50_ms", "p50"), (0.2, "p99_ms", "p99")):
        left.bar(x + shift, [e[key] or 0 for e in entries], width=0.4, label=label)
    left.set_xticks(x, names, rotation=20, ha="right")
    left.set(ylabel="latency (ms)", yscale="log", title="Latency per request")
    left.legend()
    right.bar(x, [e["throughput_rps"] or 0 for e in entries], color="tab:green")
    right.set_xticks(x, names, rotation=20, ha="right")
    right.set(ylabel="requests per second", title="Throughput")
    for ax in (left, right):
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(doc.get("description", ""), fontsize=8)
    path = Path(out) / "service-load.png"
    fig.tight_layout(), fig.savefig(path, dpi=120), plt.close(fig)
    return path


def write_service_report(doc: dict, out) -> list[Path]:
    """results.json, results.md and service-load.png in ``out``; returns the paths written."""
    check_service_results(doc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n")
    paths[1].write_text(service_markdown(doc))
    return paths + [service_plot(doc, out)]
