"""Model retrieval: Know2Vec against the transferability scores, on one zoo and one set of queries.

Query tasks come from the test pools (never seen by a model, a specification or
the proxy): one data set, 2-5 of its classes, a few labelled rows per class.
The ground truth is every model's accuracy on the task: on other test rows of
the same classes, which no method sees. R@k counts a query as hit when a model
with the best accuracy is among the top k; ties in a method's scores are broken
at random (seeded), so a method gains nothing from scoring many models alike.
``Query accuracy`` is a reference: each model's accuracy on the query rows
themselves (forward passes, and labels that mean the same to model and user).

What each method needs at search time:

- Know2Vec: nothing from the models (their boundary graphs were built once, with
  black-box calls on the market's probe set); the user reveals per-class means.
  Its proxy learns from tasks cut from the market's labelled probe set, whose
  positives are the models most accurate on them (black-box predictions).
  ``Know2Vec-identity`` is the paper's training instead: a task's positive is the
  model that labelled it.
- LEEP, NCE: a forward pass of every model on the query rows (probabilities / labels).
- LogME, H-score, NLEEP, neuralRank: every model's features of the query rows.
- LANE: nothing from the models; the user's unlabelled rows against each
  learnware's LANE specification (the market's single-learnware ranking).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

ACCESS = {
    "Know2Vec": "black box, once: predictions on the market's probe set; query: per-class means",
    "Know2Vec-identity": "black box, once: predictions on the market's probe set; query: per-class means",
    "LEEP": "forward passes on the query rows (probabilities)",
    "NCE": "forward passes on the query rows (labels)",
    "LogME": "features of the query rows (white box)",
    "H-score": "features of the query rows (white box)",
    "NLEEP": "features of the query rows (white box)",
    "neuralRank": "features of the query rows (white box)",
    "LANE": "none: the developers' LANE specifications; query: unlabelled rows",
    "Query accuracy": "forward passes on the query rows (labels), same label space as the user",
}


@dataclass
class RetrievalOptions:
    per_class_train: int = 400
    per_class_probe: int = 60
    per_class_test: int = 150
    queries: int = 80
    rows_per_class: int = 30
    eval_rows_per_class: int = 100
    proxy_epochs: int = 1500
    lane_iterations: int = 200
    small_zoo: bool = False
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> "RetrievalOptions":
        return cls(per_class_train=80, per_class_probe=30, per_class_test=40, queries=12, rows_per_class=15,
                   eval_rows_per_class=25,
                   proxy_epochs=60, lane_iterations=50, small_zoo=True, seed=seed)

    @classmethod
    def full(cls, seed: int = 0) -> "RetrievalOptions":
        return cls(seed=seed)


def draw_queries(data, options: RetrievalOptions):
    """Query tasks ``(dataset, X, y, X_eval, y_eval)`` from the test pools; the two row sets are disjoint."""
    rng = np.random.default_rng(options.seed + 1)
    names = sorted(data.test)
    queries = []
    for q in range(options.queries):
        dataset = names[q % len(names)]
        X, y = data.test[dataset]
        classes = rng.choice(data.groups[dataset], size=int(rng.integers(2, 6)), replace=False)
        shown, held = [], []
        for c in classes:
            rows = rng.permutation(np.flatnonzero(y == c))
            if len(rows) < options.rows_per_class + 1:
                raise ValueError(f"class {c} of {dataset} has {len(rows)} test rows; a query needs more")
            shown.append(rows[:options.rows_per_class])
            held.append(rows[options.rows_per_class:options.rows_per_class + options.eval_rows_per_class])
        shown, held = np.concatenate(shown), np.concatenate(held)
        queries.append((dataset, X[shown], y[shown], X[held], y[held]))
    return queries


def _correlation(kind, scores, truth):
    from scipy import stats

    if np.ptp(scores) == 0 or np.ptp(truth) == 0:
        return None
    value = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(scores, truth)[0]
    return float(value) if np.isfinite(value) else None


def run_retrieval(options: RetrievalOptions, verbose: bool = True) -> dict:
    """Build the zoo, every method's specifications and the proxy, then rank models for every query."""
    import logging
    import warnings

    import learnware

    learnware.init(logging_level=logging.WARNING)
    from .._progress import progress

    from .. import __version__
    from ..retrieval import transferability as tr
    from ..specification.know2vec import generate_know2vec_spec
    from ..specification.lane import generate_lane_spec
    from ..retrieval.proxy import Know2VecProxy, Know2VecQuery
    from ..search import single_residuals
    from .zoo import build_zoo, load_zoo_data

    data = load_zoo_data(options.per_class_train, options.per_class_probe, options.per_class_test, options.seed)
    models = build_zoo(data, options.small_zoo, options.seed, verbose)
    probe_X, probe_y = data.probe

    k2v_specs, k2v_seconds, lane_specs, lane_seconds = [], [], [], []
    for model in progress(models, verbose=verbose, desc="specifications"):
        start = time.perf_counter()
        k2v_specs.append(generate_know2vec_spec(model, probe_X))
        k2v_seconds.append(time.perf_counter() - start)
        X, y = data.train[model.dataset]
        rows = np.isin(y, model.classes)
        start = time.perf_counter()
        lane_specs.append(generate_lane_spec(X[rows], y[rows], num_per_class=10, iterations=options.lane_iterations,
                                             seed=options.seed, verbose=False))
        lane_seconds.append(time.perf_counter() - start)

    start = time.perf_counter()
    proxy = Know2VecProxy(epochs=options.proxy_epochs, seed=options.seed, verbose=verbose)
    proxy.fit(k2v_specs, models, probe_X=probe_X, probe_y=probe_y, task_groups=list(data.groups.values()))
    proxy_seconds = time.perf_counter() - start
    embeddings = proxy.embed_models(k2v_specs)
    start = time.perf_counter()
    identity = Know2VecProxy(epochs=options.proxy_epochs, seed=options.seed, verbose=verbose)
    identity.fit(k2v_specs, models, probe_X=probe_X)
    identity_seconds = time.perf_counter() - start
    identity_embeddings = identity.embed_models(k2v_specs)

    def features_of(X):
        return [m.features(X) for m in models]

    scorers = {
        "Know2Vec": lambda X, y: proxy.scores(Know2VecQuery.from_data(X, y), model_embeddings=embeddings),
        "Know2Vec-identity": lambda X, y: identity.scores(Know2VecQuery.from_data(X, y),
                                                          model_embeddings=identity_embeddings),
        "LEEP": lambda X, y: [tr.leep(m.predict_proba(X), y) for m in models],
        "NCE": lambda X, y: [tr.nce(m.predict(X), y) for m in models],
        "LogME": lambda X, y: [tr.logme(f, y) for f in features_of(X)],
        "H-score": lambda X, y: [tr.h_score(f, y) for f in features_of(X)],
        "NLEEP": lambda X, y: [tr.nleep(f, y, random_state=options.seed) for f in features_of(X)],
        "neuralRank": lambda X, y: [tr.neuralrank_silhouette(f, y) for f in features_of(X)],
        "LANE": lambda X, y: -single_residuals(X, lane_specs),
        "Query accuracy": lambda X, y: [np.mean(np.asarray(m.predict(X)) == y) for m in models],
    }

    queries = draw_queries(data, options)
    truths = [np.array([np.mean(np.asarray(m.predict(Xe)) == ye) for m in models]) for *_, Xe, ye in queries]
    per_method = {}
    tie_break = np.random.default_rng(options.seed + 2)
    for name, score in scorers.items():
        hits1, hits3, top1, pearson, spearman, seconds = [], [], [], [], [], []
        for (_, X, y, _, _), truth in progress(list(zip(queries, truths)), verbose=verbose, desc=name,
                                           leave=False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                s = np.asarray(score(X, y), dtype=float)
                seconds.append(time.perf_counter() - start)
            s = np.where(np.isfinite(s), s, -np.inf)
            order = np.lexsort((tie_break.random(len(s)), -s))  # by score, ties in random order
            best = truth >= truth.max() - 1e-12
            hits1.append(bool(best[order[0]])), hits3.append(bool(best[order[:3]].any()))
            top1.append(float(truth[order[0]]))
            finite = np.isfinite(s)
            pearson.append(_correlation("pearson", s[finite], truth[finite]))
            spearman.append(_correlation("spearman", s[finite], truth[finite]))
        mean = lambda v: float(np.mean([x for x in v if x is not None])) if any(x is not None for x in v) else None  # noqa: E731,E501
        per_method[name] = {"r@1": float(np.mean(hits1)), "r@3": float(np.mean(hits3)), "top1_accuracy": mean(top1),
                            "pearson": mean(pearson), "spearman": mean(spearman),
                            "seconds_per_query": float(np.mean(seconds)), "access": ACCESS[name]}
        if verbose:
            e = per_method[name]
            print(f"{name:11s} R@1 {e['r@1']:.3f} R@3 {e['r@3']:.3f} top-1 acc {e['top1_accuracy']:.3f} "
                  f"{e['seconds_per_query'] * 1000:.1f} ms/query", flush=True)

    best_accuracy = float(np.mean([t.max() for t in truths]))
    per_method["Know2Vec"].update({"spec_seconds": float(np.mean(k2v_seconds)),
                                   "spec_queries": float(np.mean([s.queries for s in k2v_specs])),
                                   "proxy_fit_seconds": proxy_seconds})
    per_method["Know2Vec-identity"]["proxy_fit_seconds"] = identity_seconds
    per_method["LANE"]["spec_seconds"] = float(np.mean(lane_seconds))
    return {
        "benchmark": "retrieval",
        "description": (f"{len(models)} models (logistic regression, RBF SVM, MLP, small CNN) on class subsets of "
                        f"digits and Fashion-MNIST in one 14x14 space; {len(queries)} held-out query tasks of 2-5 "
                        f"classes x {options.rows_per_class} rows; truth: the most accurate model(s)"),
        "models": [m.name for m in models],
        "queries": len(queries),
        "chance_r@1": float(np.mean([np.mean(t >= t.max() - 1e-12) for t in truths])),
        "best_accuracy": best_accuracy,
        "seed": options.seed,
        "version": __version__,
        "methods": per_method,
    }
