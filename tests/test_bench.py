"""Smoke tests of the benchmark suite: ``--quick`` runs produce sane results.json, tables and plots.

These run the real command line in a subprocess, as CI and users do; they check
shapes and sanity (oracle on top, probabilities in range), never timings.
"""

import json
import math
import subprocess
import sys

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
    assert methods["LANE"]["spec_points"] == 20 and methods["LANE-k5"]["spec_points"] == 10
    assert "| LANE |" in stdout and (tmp_path / "results.md").read_text().count("|") > 50
    _pngs_written(tmp_path, ["accuracy-vs-mixture-count.png", "accuracy-vs-spec-size.png"])


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="needs the Debian package dataset-fashion-mnist")
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
    _pngs_written(tmp_path, ["recall-at-k.png"])


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
