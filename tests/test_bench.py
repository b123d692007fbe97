"""Smoke tests of the benchmark suite: ``--quick`` runs produce sane results.json, tables and plots.

These run the real command line in a subprocess, as CI and users do; they check
shapes and sanity (oracle on top, probabilities in range), never timings.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from k2v_learnware.bench.report import check_results
from k2v_learnware.datasets import FASHION_MNIST_DIR


def _run(args, out):
    done = subprocess.run([sys.executable, "-m", "k2v_learnware.bench", *args, "--quick", "--quiet", "--out",
                           str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), done.stdout


def _pngs_written(out, names):
    for name in names:
        path = out / name
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_reuse_quick_on_digits(tmp_path):
    doc, stdout = _run(["reuse", "--dataset", "digits"], tmp_path)
    check_results(doc)
    assert doc["benchmark"] == "reuse" and doc["dataset"] == "digits"
    assert doc["mixture_counts"] == [1, 2, 3, 4, 5]
    methods = doc["methods"]
    for name, entry in methods.items():
        for a in entry["accuracy"]:
            assert a is None or 0.0 <= a <= 1.0, name
        for l1 in entry["weights_l1"]:
            assert l1 is None or 0.0 <= l1 <= 2.0 + 1e-9, name
    assert np.mean(methods["Oracle"]["accuracy"]) > 0.95
    # one task: the specification must find it and reuse must be nearly perfect
    assert methods["LANE"]["accuracy"][0] > 0.9 and methods["RKME+SVM"]["accuracy"][0] > 0.9
    # routing by a specification beats asking every model (MAX) once tasks are mixed
    assert np.mean(methods["LANE"]["accuracy"][1:]) > np.mean(methods["MAX"]["accuracy"][1:]) + 0.05
    # mixture weights: far better than spreading them evenly (L1 0.8-1.6 on these users)
    for name in ("LANE", "RKME+SVM", "RKME-median+SVM"):
        assert np.mean(methods[name]["weights_l1"]) < 0.5, name
    assert methods["RKME"]["users"] == [1] * 5 and methods["LANE"]["users"] == [2] * 5
    assert methods["LANE"]["ratio_to_rkme"]["spec_seconds"] > 0
    # stored vectors: the condensed points (2 classes x K), plus the class mixtures' means and axes
    assert methods["LANE-paper"]["spec_points"] == 20 and methods["LANE"]["spec_points"] > 20
    assert methods["LANE"]["spec_points"] - methods["LANE-k5"]["spec_points"] == 10
    paired = methods["LANE"]["paired"]["2"]
    assert paired["wins"] + paired["losses"] <= 2 and 0 < paired["sign_test_p"] <= 1
    assert paired["bootstrap_95"][0] <= paired["mean_difference"] <= paired["bootstrap_95"][1]
    assert methods["RKME-median+SVM"]["paired"] is None  # the anchor itself
    assert "| LANE |" in stdout and (tmp_path / "results.md").read_text().count("|") > 50
    _pngs_written(tmp_path, ["accuracy-vs-mixture-count.png", "accuracy-vs-spec-size.png"])
    # the README's tables are rendered from such a results.json by benchmarks/readme_tables.py
    readme = subprocess.run([sys.executable, "benchmarks/readme_tables.py", str(tmp_path / "results.json")],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert readme.returncode == 0, readme.stderr
    rows = {line.split(" | ")[0].strip("| *"): line for line in readme.stdout.splitlines() if line.startswith("| ")}
    assert {"Oracle", "LANE", "LANE-paper", "RKME-median+SVM", "MAX"} <= set(rows)
    assert rows["LANE"].count(" pts, ") == 5 and f"{methods['LANE']['accuracy'][0]:.3f}" in readme.stdout


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_reuse_lane_paper_spec_starts_from_real_rows_as_the_paper():
    """LANE-paper is the paper's spec: Algorithm 1 starts from random real rows, not the package's k-means
    centres (the bench once inherited that default while the README said real rows)."""
    from sklearn.datasets import load_digits

    from k2v_learnware.bench.reuse import paper_lane_spec

    X, y = load_digits(return_X_y=True)
    rows = y < 2
    spec = paper_lane_spec(X[rows].astype(np.float32), y[rows], iterations=0, seed=0)
    assert spec.condensation["init"] == "real" and spec.condensation["iterations"] == 0
    assert spec.class_mixtures is None and spec.data_class_means is None
    # with no step the points are the starting rows themselves: real rows of the developer's data
    data = {tuple(r) for r in X[rows].astype(np.float32)}
    assert all(tuple(p) in data for p in spec.get_z().reshape(len(spec.get_z()), -1))


def test_retrieval_quick(tmp_path):
    doc, stdout = _run(["retrieval"], tmp_path)
    check_results(doc)
    methods = doc["methods"]
    assert len(doc["models"]) >= 24 and doc["queries"] >= 12
    for name, entry in methods.items():
        assert 0.0 <= entry["r@1"] <= entry["r@3"] <= 1.0, name
        assert 0.0 <= entry["top1_accuracy"] <= 1.0, name
        for key in ("pearson", "spearman"):
            assert entry[key] is None or -1.0 <= entry[key] <= 1.0, name
        assert entry["seconds_per_query"] > 0 and entry["access"], name
    # a method that reads the models must beat picking at random by far
    assert methods["LEEP"]["r@3"] > 3 * doc["chance_r@1"]
    assert methods["Know2Vec"]["r@3"] > 3 * doc["chance_r@1"]
    assert methods["Know2Vec"]["top1_accuracy"] > 0.3
    assert not math.isnan(methods["Know2Vec"]["r@1"])
    assert "| Know2Vec |" in stdout
    assert methods["Probe accuracy"]["r@1"] >= 0 and doc["protocol"] == "best-model"
    for entry in methods.values():  # queries alternate between the two data sets: R@1 is the two halves' mean
        by_dataset = entry["r@1_by_dataset"]
        assert set(by_dataset) == {"digits", "fashion-mnist"}
        assert entry["r@1"] == pytest.approx(sum(by_dataset.values()) / 2)
    assert "R@1 by the query's data set" in stdout
    assert 1 <= methods["Know2Vec"]["proxy_steps"] <= 40 and "Proxy training: Know2Vec" in stdout
    assert 0 <= doc["truth_split_half"] <= 1 and "Split-half agreement of the truth" in stdout
    wide = doc["wide"]  # the methods without forward passes on 30 queries, the table's 12 first
    assert wide["queries"] == 30 and set(wide["methods"]) == {"Know2Vec", "Know2Vec-identity", "LANE", "Probe accuracy"}
    for entry in wide["methods"].values():
        assert 0.0 <= entry["r@1"] <= entry["r@3"] <= 1.0
        assert set(entry["r@1_by_dataset"]) == {"digits", "fashion-mnist"}
    assert 0 <= wide["truth_split_half"] <= 1 and "need no forward pass on 30 queries" in stdout
    _pngs_written(tmp_path, ["recall-at-k.png"])
    _summary_over_seeds(doc, tmp_path)


def _summary_over_seeds(doc, tmp_path):
    """benchmarks/retrieval_seeds.py on this run and a second one that differs in its seed and its R@1 only."""
    import copy

    from k2v_learnware.bench.seed_summary import summarise_retrieval_seeds

    other = copy.deepcopy(doc)
    other["seed"] = doc["seed"] + 1
    for entry in [*other["methods"].values(), *other["wide"]["methods"].values()]:
        entry["r@1"] = 1.0
        entry["r@1_by_dataset"] = {dataset: 1.0 for dataset in entry["r@1_by_dataset"]}
    second = tmp_path / "seed-1"
    second.mkdir()
    (second / "results.json").write_text(json.dumps(other))
    script = [sys.executable, "benchmarks/retrieval_seeds.py", str(tmp_path), str(second), "--out",
              str(tmp_path / "seeds")]
    done = subprocess.run(script, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "seeds" / "summary.json").read_text())
    k2v = summary["methods"]["Know2Vec"]
    assert summary["seeds"] == [doc["seed"], doc["seed"] + 1] and k2v["r@1"] == [doc["methods"]["Know2Vec"]["r@1"], 1.0]
    assert k2v["r@1_mean"] == pytest.approx((k2v["r@1"][0] + 1) / 2)
    assert k2v["r@1_sd"] == pytest.approx(abs(1 - k2v["r@1"][0]) / 2 ** 0.5)
    assert "| Know2Vec |" in done.stdout and "truth split-half agreement" in done.stdout
    first = doc["methods"]["Know2Vec"]["r@1_by_dataset"]
    assert k2v["r@1_by_dataset_mean"] == pytest.approx({d: (v + 1) / 2 for d, v in first.items()})
    assert len(first) == 2 and "R@1 by the query's data set, mean over seeds" in done.stdout
    wide = summary["wide"]["methods"]["Know2Vec"]  # the wide query set's R@1, per seed and its mean
    assert wide["r@1"] == [doc["wide"]["methods"]["Know2Vec"]["r@1"], 1.0]
    assert wide["r@1_mean"] == pytest.approx((wide["r@1"][0] + 1) / 2) and summary["wide"]["queries"] == [30, 30]
    assert "need no forward pass on 30 queries a seed" in done.stdout
    _pngs_written(tmp_path / "seeds", ["r1-over-seeds.png"])
    with pytest.raises(ValueError, match="own integer seed"):
        summarise_retrieval_seeds([doc, doc])
    with pytest.raises(ValueError, match="at least 2 runs"):
        summarise_retrieval_seeds([doc])
    with pytest.raises(ValueError, match="differ in protocol"):
        summarise_retrieval_seeds([doc, {**other, "protocol": "paper"}])
    refused = subprocess.run(script[:3] + ["--out", str(tmp_path / "none")], capture_output=True, text=True,
                             timeout=120, cwd=Path(__file__).parents[1])
    assert refused.returncode == 2 and "at least 2 runs" in refused.stderr


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_retrieval_quick_in_the_papers_protocol(tmp_path):
    doc, stdout = _run(["retrieval", "--protocol", "paper"], tmp_path)
    check_results(doc)
    assert doc["protocol"] == "paper" and len(doc["models"]) == 8 and doc["queries"] == 16
    assert len({m.split("/")[1] for m in doc["models"]}) == 8  # every model its own class set
    assert doc["chance_r@1"] == pytest.approx(1 / 8) and 0 <= doc["source_is_most_accurate"] <= 1
    methods = doc["methods"]
    assert methods["LEEP"]["r@1"] > 3 * doc["chance_r@1"] and methods["Know2Vec"]["r@1"] > 3 * doc["chance_r@1"]
    assert "truth: that model" in stdout and "source model is also the most accurate" in stdout


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_proxy_fit_sources_trains_the_same_proxy_on_stored_answers_as_on_the_models():
    """benchmarks/proxy_fit_sources.py on the quick zoo: it refuses to time two different proxies."""
    script = [sys.executable, "benchmarks/proxy_fit_sources.py", "--quick", "--repeats", "1"]
    done = subprocess.run(script, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert "same losses and embeddings; fit time before / after:" in done.stdout
    refused = subprocess.run(script[:2] + ["--repeats", "0"], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).parents[1])
    assert refused.returncode != 0 and "--repeats must be positive" in refused.stderr


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
def test_market_know2vec_benchmark_trains_the_market_proxy_in_both_regimes():
    """benchmarks/market_know2vec.py on the quick zoo: the market's labelled proxy is the bench's own proxy (the
    same first model on every query) and beats the paper's regime there."""
    import re

    script = [sys.executable, "benchmarks/market_know2vec.py", "--quick"]
    done = subprocess.run(script, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    r1 = {name: float(value) for name, value in re.findall(r"^(market, \w+|bench's proxy[^\n]*?)\s+([01]\.\d{3}) ",
                                                             done.stdout, re.MULTILINE)}
    assert set(r1) == {"market, labelled", "market, identity", "bench's proxy, direct (anchor)"}, done.stdout
    assert "first model first on 100% of the queries" in done.stdout
    assert r1["market, labelled"] == r1["bench's proxy, direct (anchor)"] > r1["market, identity"]


def test_check_results_rejects_a_broken_document():
    with pytest.raises(ValueError, match="lack the methods"):
        check_results({"benchmark": "retrieval", "methods": {"LEEP": {}}})
    entry = {"accuracy": [1.0], "weights_l1": [None], "spec_seconds": None, "search_seconds": None,
             "reuse_seconds": 0.1}
    doc = {"benchmark": "reuse", "mixture_counts": [1], "methods": {n: dict(entry) for n in
                                                                     ("MAX", "RKME", "RKME+SVM", "LANE", "Oracle")}}
    check_results(doc)
    doc["methods"]["LANE"]["accuracy"] = [1.0, 0.5]
    with pytest.raises(ValueError, match="one value per mixture count"):
        check_results(doc)
    doc["methods"]["LANE"]["accuracy"] = [float("nan")]
    with pytest.raises(ValueError, match="nan"):
        check_results(doc)


def _postgres_or_skip():
    from k2v_learnware.bench.local_postgres import PostgresUnavailable, find_bin_dir

    try:
        find_bin_dir()
    except PostgresUnavailable as reason:
        pytest.skip(str(reason))


def test_service_quick(tmp_path):
    _postgres_or_skip()
    doc, stdout = _run(["service"], tmp_path)
    from k2v_learnware.bench.service import OPERATIONS, check_service_results

    check_service_results(doc)
    assert doc["benchmark"] == "service" and doc["errors"] == 0 and doc["error_samples"] == []
    assert list(doc["operations"]) == list(OPERATIONS)
    counts = {name: entry["requests"] for name, entry in doc["operations"].items()}
    assert counts == {"search (in-process)": 60, "search (one at a time)": 60, "search": 60, "upload": 20,
                      "search (during uploads)": 20}
    for name, entry in doc["operations"].items():
        assert entry["errors"] == 0, name
        assert entry["throughput_rps"] > 0 and 0 < entry["p50_ms"] <= entry["p99_ms"], name
    assert doc["operations"]["search"]["concurrency"] == 8 and doc["setup"]["workers"] == 2
    # every HTTP search found what the same search in-process found, and every upload was stored
    assert doc["same_results"] == {"compared": 120, "agreeing": 120}
    assert doc["learnwares_after"] == 20 + 20
    overhead = doc["http_overhead"]
    assert overhead["one_at_a_time_p50_ratio"] > 0 and overhead["concurrent_throughput_ratio"] > 0
    assert "| search (in-process) |" in stdout and "| upload |" in stdout
    _pngs_written(tmp_path, ["service-load.png"])


def test_service_exits_1_after_writing_results_when_requests_failed(tmp_path, monkeypatch):
    from k2v_learnware.bench import __main__ as bench_main
    from k2v_learnware.bench import service

    for name in service.SINGLE_THREAD:  # the command pins them for its own process; restore them afterwards
        monkeypatch.setenv(name, "1")
    entry = {"requests": 1, "errors": 0, "concurrency": 1, "seconds": 0.1, "throughput_rps": 10.0, "p50_ms": 100.0,
             "p99_ms": 100.0, "mean_ms": 100.0, "cpu_ms_per_request": None}
    failed = {**entry, "errors": 1}
    doc = {"benchmark": "service", "description": "stub", "setup": {"workers": 2, "concurrency": 8, "cpu_count": 2,
                                                                     "requirement_load_ms": 1.0},
           "operations": {name: dict(failed if name == "upload" else entry) for name in service.OPERATIONS},
           "http_overhead": {key: 1.0 for key in ("one_at_a_time_p50_ratio", "one_at_a_time_mean_ratio",
                                                  "one_at_a_time_extra_ms", "one_at_a_time_cpu_ratio",
                                                  "concurrent_p50_ratio", "concurrent_throughput_ratio")},
           "same_results": {"compared": 2, "agreeing": 2}, "errors": 1,
           "error_samples": ["RuntimeError: /user/add_learnware_uploaded: HTTP 422, code 6: refused"]}
    monkeypatch.setattr(service, "run_service", lambda options, verbose=True: dict(doc))
    assert bench_main.main(["service", "--quick", "--quiet", "--out", str(tmp_path)]) == 1
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["errors"] == 1 and "HTTP 422" in (tmp_path / "results.md").read_text()
    with pytest.raises(ValueError, match="lack the operations"):
        service.check_service_results({**doc, "operations": {"search": entry}})


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST (Debian package dataset-fashion-mnist) is not installed")
def test_scale_quick(tmp_path):
    from k2v_learnware.bench.scale import METHODS
    from k2v_learnware.bench.scale_report import check_scale_results

    doc, stdout = _run(["scale"], tmp_path)
    check_scale_results(doc)
    assert doc["sizes"] == [100, 1000] and list(doc["methods"]) == list(METHODS)
    for name, entry in doc["methods"].items():
        assert all(s > 0 for s in entry["search_seconds_p50"]), name
        assert all(m > 50 for m in entry["peak_rss_mb"]), name
        # the peak counts from after the data set loaded: at least what the process held then, and no longer
        # loading's high-water mark, which was the same ~580 MB for every method and size
        assert all(p >= d > 50 for p, d in zip(entry["peak_rss_mb"], entry["data_rss_mb"])), name
    lane = doc["methods"]["LANE"]["peak_rss_mb"]
    assert lane[1] > lane[0] + 30  # its index of 1000 learnwares' class means (~80 MB) against 100's (~8 MB)
    # both searchers find the planted learnwares of this easy market; Know2Vec's specs are copies (no recall)
    for name in ("LANE", "RKME-EasyStatSearcher"):
        assert all(r >= 0.8 for r in doc["methods"][name]["planted_recall"]), (name, doc["methods"][name])
    assert doc["methods"]["Know2Vec"]["planted_recall"] == [None, None]
    assert doc["ratios"]["rkme_over_lane_p50"][1] > 1  # LANE is the faster of the two at 1000
    assert "| LANE | 1,000 |" in stdout
    _pngs_written(tmp_path, ["latency-vs-learnwares.png"])
