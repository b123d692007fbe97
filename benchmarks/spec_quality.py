"""Specification quality and cost: LANE next to the learnware package's RKME, same data, same run.

For each data set, every method summarises each class's training data with the
same budget (``num_per_class`` labelled points per class):

- ``random real``: that many random real samples (LANE's starting point);
- ``LANE``: the condensed samples (Eq. 7);
- ``RKME g=0.1`` / ``RKME g=median``: ``learnware``'s RKMETableSpecification built per
  class with ``reduced_set_size=num_per_class``, with the package's default kernel width
  and with the median heuristic.

Two quality figures: the squared MMD of each class's points to held-out data of that
class under 8 random networks never used in condensation (weighted by RKME's beta
where it has one; mean over classes), and the test accuracy of an RBF SVM trained
only on the points. Usage: ``python benchmarks/spec_quality.py [--quick] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from k2v_learnware import generate_lane_spec
from k2v_learnware.bench.rkme_baselines import median_gamma, rkme_spec
from k2v_learnware.datasets import load_digits, load_fashion_mnist, stratified_subset
from k2v_learnware.specification.networks import EmbeddingConfig, RandomEmbedding

HELD_OUT_SEED = 987_654


def rkme_points(X, y, k, gamma):
    z, labels, weights = [], [], []
    for c in np.unique(y):
        spec = rkme_spec(X[y == c], gamma, k)
        z.append(spec.get_z())
        weights.append(spec.get_beta())
        labels.append(np.full(len(spec.get_z()), c))
    return np.concatenate(z), np.concatenate(labels), np.concatenate(weights)


def evaluate(points, labels, weights, Xte, yte, family):
    """Mean per-class squared MMD to held-out data under unseen networks, and SVM accuracy."""
    shape = (len(points),) + family.config.input_shape
    points_img = points.reshape(shape)
    mmds = []
    for c in np.unique(yte):
        rows = labels == c
        e_real, e_pts = family.embed([Xte[yte == c], points_img[rows]], reference=Xte)
        w = weights[rows] / weights[rows].sum()
        mmds.append(float(np.sum((e_real.mean(0) - w @ e_pts) ** 2)))
    acc = SVC().fit(points.reshape(len(points), -1), labels).score(Xte.reshape(len(Xte), -1), yte)
    return float(np.mean(mmds)), float(acc)


def run_dataset(name, Xtr, ytr, Xte, yte, seeds, k, lane_options):
    family = RandomEmbedding(EmbeddingConfig.default_for(Xtr.shape[1:]), seed=HELD_OUT_SEED, num_nets=8)
    gamma_med = median_gamma(Xtr)
    rows = {m: {"seconds": [], "mmd": [], "svm_accuracy": []} for m in
            ("random real", "LANE", "RKME g=0.1", "RKME g=median")}
    for seed in seeds:
        for method in rows:
            t = time.perf_counter()
            if method in ("random real", "LANE"):
                iters = {"iterations": 0} if method == "random real" else {}
                spec = generate_lane_spec(Xtr, ytr, num_per_class=k, seed=seed, verbose=False,
                                          **{**lane_options, **iters})
                pts, lab, w = spec.get_z(), spec.get_labels(), np.ones(len(spec.get_z()))
            else:
                gamma = 0.1 if method == "RKME g=0.1" else gamma_med
                np.random.seed(seed)
                pts, lab, w = rkme_points(Xtr, ytr, k, gamma)
            seconds = time.perf_counter() - t
            mmd, acc = evaluate(pts, lab, w, Xte, yte, family)
            rows[method]["seconds"].append(seconds)
            rows[method]["mmd"].append(mmd)
            rows[method]["svm_accuracy"].append(acc)
            print(f"  {name} seed {seed} {method:15s} {seconds:7.1f} s  mmd {mmd:.4g}  svm {acc:.3f}", flush=True)
    summary = {m: {key: float(np.mean(v)) for key, v in r.items()} for m, r in rows.items()}
    summary["_meta"] = {"train": len(Xtr), "test": len(Xte), "seeds": list(seeds), "num_per_class": k,
                        "median_gamma": float(gamma_med), "lane_options": lane_options}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description="LANE vs RKME specification quality and cost")
    parser.add_argument("--quick", action="store_true", help="digits only, one seed")
    parser.add_argument("--out", default="bench-out/spec-quality")
    parser.add_argument("--datasets", nargs="*", default=["digits", "digits-images", "fashion-vectors",
                                                         "fashion-images"])
    args = parser.parse_args(argv)
    seeds = (0,) if args.quick else (0, 1, 2)
    if args.quick:
        args.datasets = ["digits"]
    results = {}
    for name in args.datasets:
        if name.startswith("digits"):
            X, y = load_digits(images=name == "digits-images")
            order = np.random.default_rng(0).permutation(len(X))
            cut = int(0.7 * len(X))
            data = (X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]])
            results[name] = run_dataset(name, *data, seeds, 10, {})
        else:
            images = name == "fashion-images"
            Xtr, ytr = stratified_subset(*load_fashion_mnist("train", images=images), per_class=600)
            Xte, yte = stratified_subset(*load_fashion_mnist("test", images=images), per_class=200)
            results[name] = run_dataset(name, Xtr, ytr, Xte, yte, seeds[:1] if images else seeds, 10, {})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    lines = ["| data | method | spec seconds | held-out MMD^2 (x random real) | SVM accuracy |",
             "|---|---|---|---|---|"]
    for name, summary in results.items():
        base = summary["random real"]["mmd"]
        for method, r in summary.items():
            if method.startswith("_"):
                continue
            lines.append(f"| {name} | {method} | {r['seconds']:.2f} | {r['mmd']:.4g} ({r['mmd'] / base:.2f}) | "
                         f"{r['svm_accuracy']:.3f} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
