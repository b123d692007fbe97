"""Know2Vec retrieval on a digits model zoo, next to LEEP and the neuralRank silhouette, in one run.

Twelve models (logistic regression, RBF SVM, MLP in turn) are trained on distinct
class subsets of digits; the market holds a separate probe set. Each model gets
5 held-out query tasks (40 test rows of its classes); the truth is the model the
task was drawn from. Know2Vec sees each model only through black-box calls on
the probe set and the query only as per-class means; LEEP and the silhouette run
every model forward on the query's rows. Usage:
``python benchmarks/know2vec_zoo.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-out/know2vec-zoo")
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    from k2v_learnware import generate_lane_spec
    from k2v_learnware.datasets import load_digits
    from k2v_learnware.know2vec import generate_know2vec_spec
    from k2v_learnware.proxy import Know2VecProxy, Know2VecQuery
    from k2v_learnware.transferability import leep, neuralrank_silhouette

    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    Xtr, Xprobe, ytr, _ = train_test_split(Xtr, ytr, test_size=0.3, random_state=1, stratify=ytr)
    subsets = [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (0, 5), (1, 7), (2, 3, 8), (4, 6, 9), (0, 9),
               (1, 2, 3, 4), (5, 6, 7), (0, 4, 8), (3, 9)]
    kinds = [lambda: LogisticRegression(max_iter=2000), lambda: SVC(probability=True, random_state=0),
             lambda: MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=0)]
    models, specs, lanes, spec_seconds, queries_used = [], [], [], [], []
    for i, s in enumerate(subsets):
        rows = np.isin(ytr, s)
        model = kinds[i % 3]().fit(Xtr[rows], ytr[rows])
        t0 = time.perf_counter()
        spec = generate_know2vec_spec(model, Xprobe)
        spec_seconds.append(time.perf_counter() - t0)
        models.append(model), specs.append(spec), queries_used.append(spec.queries)
        lanes.append(generate_lane_spec(Xtr[rows], ytr[rows], verbose=False))

    rng = np.random.default_rng(0)
    tasks = []
    for i, s in enumerate(subsets):
        for _ in range(5):
            r = rng.choice(np.flatnonzero(np.isin(yte, s)), size=40, replace=False)
            tasks.append((i, Xte[r], yte[r]))

    results = {}

    def evaluate(name, score_fn, access):
        ranks, seconds = [], []
        for truth, Xq, yq in tasks:
            t0 = time.perf_counter()
            scores = np.asarray(score_fn(Xq, yq))
            seconds.append(time.perf_counter() - t0)
            ranks.append(int(np.sum(scores > scores[truth])))
        ranks = np.array(ranks)
        results[name] = {"r@1": float(np.mean(ranks == 0)), "r@3": float(np.mean(ranks < 3)),
                         "seconds_per_query": float(np.mean(seconds)), "access": access}
        print(f"{name:28s} R@1 {results[name]['r@1']:.3f}  R@3 {results[name]['r@3']:.3f}  "
              f"{results[name]['seconds_per_query'] * 1000:.2f} ms/query  ({access})", flush=True)

    for source_name, sources in (("LANE tasks", lanes), ("probe tasks", models)):
        t0 = time.perf_counter()
        proxy = Know2VecProxy(epochs=args.steps, verbose=False).fit(specs, sources, probe_X=Xprobe)
        fit_seconds = time.perf_counter() - t0
        H = proxy.embed_models(specs)
        evaluate(f"Know2Vec ({source_name})",
                 lambda Xq, yq: proxy.scores(Know2VecQuery.from_data(Xq, yq), model_embeddings=H),
                 "black box (predict on the market's probe set)")
        results[f"Know2Vec ({source_name})"]["fit_seconds"] = fit_seconds
        results[f"Know2Vec ({source_name})"]["loss_first_last"] = [proxy.losses_[0], proxy.losses_[-1]]
    evaluate("LEEP", lambda Xq, yq: [leep(m.predict_proba(Xq), yq) for m in models],
             "forward passes on the query rows (probabilities)")
    evaluate("neuralRank silhouette", lambda Xq, yq: [neuralrank_silhouette(m.predict_proba(Xq), yq) for m in models],
             "forward passes on the query rows (outputs as features)")
    summary = {"benchmark": "know2vec-zoo", "models": len(models), "queries": len(tasks),
               "chance_r@1": 1 / len(models), "know2vec_spec_seconds": float(np.mean(spec_seconds)),
               "know2vec_spec_queries": float(np.mean(queries_used)), "methods": results}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"chance R@1 {1 / len(models):.3f}; Know2Vec spec {np.mean(spec_seconds):.3f} s and "
          f"{np.mean(queries_used):.0f} model queries per model")


if __name__ == "__main__":
    main()
