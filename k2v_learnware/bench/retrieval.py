"""Model retrieval: Know2Vec against the transferability scores, on one zoo and one set of queries.

Two protocols. ``best-model`` (ours, the default): the zoo of :mod:`.zoo`,
several models per class subset, and the truth of a query is the most accurate
model. ``paper`` (Know2Vec's Table 1): the zoo of :mod:`.paper_zoo`, one model
per 4-class task, and the truth of a query is the model whose task it came from.

In the best-model protocol, query tasks come from the test pools (never seen by a model, a specification or
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
  ``Know2Vec-identity`` is the paper's training instead: each task is drawn from
  one model's own data (here: its developer's LANE specification, the market's
  stand-in for that data) and its positive is that model.
- LEEP, NCE: a forward pass of every model on the query rows (probabilities / labels).
- LogME, H-score, NLEEP, neuralRank: every model's features of the query rows.
- LANE: nothing from the models; the user's unlabelled rows against each
  learnware's LANE specification (the market's single-learnware ranking), built
  the paper's way (200 steps from real rows, no rows' class means).

Two references, not baselines: ``Query accuracy`` (above) and ``Probe
accuracy``, each model's class-balanced accuracy on the market's labelled probe
rows of the query's classes. The latter is what Know2Vec's training signal says
about a task; a proxy that recognised every task's classes perfectly would rank
as it does, so its R@1 is the ceiling of that signal. And one number on the truth
itself (``truth_split_half``): how often the model most accurate on one half of
a query's held rows is most accurate on the other half too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

PROTOCOLS = ("best-model", "paper")
#: The paper protocol's digits: the data its published table was measured with.
PAPER_DIGITS = {"digits": "sklearn", "digits_probe_share": 0.25}


@dataclass
class RetrievalOptions:
    """The zoo's data and the queries. The best-model protocol's truth is every test row of a query's classes
    it does not show, its probe set tells models a point apart (Fashion-MNIST 500 rows a class, digits 40 % of
    optdigits' non-test rows); the paper protocol keeps its published sizes. A ``per_class_test`` over 1000
    tops Fashion-MNIST's test pool up with unused train rows (:func:`~.zoo_data.load_zoo_data`; see README)."""

    per_class_train: int = 400
    per_class_probe: int = 500
    per_class_test: int = 1000
    queries: int = 80
    rows_per_class: int = 30
    eval_rows_per_class: int | None = None  # None: every test row of the class the query does not show
    digits: str = "optdigits"
    digits_probe_share: float = 0.4
    proxy_epochs: int = 1000  # at most; ~50 ms a step on one core: the 60 s the proxy is given (issue 16)
    proxy_patience: int = 5  # validation checks without progress before the proxies stop (the proxy's own)
    lane_iterations: int = 200
    small_zoo: bool = False
    seed: int = 0
    protocol: str = "best-model"
    models: int = 60  # paper protocol: one model per 4-class task
    queries_per_model: int = 4  # paper protocol: 60 x 4 = 240 queries (the paper: 58 and 232)
    # best-model protocol: the methods that need no forward pass also rank this many queries, the table's
    # first (None: 400; the paper protocol has none, its 240 are its table's)
    wide_queries: int | None = None

    def __post_init__(self):
        from .._checks import positive_int

        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        self.queries = positive_int(self.queries, "queries")
        if self.wide_queries is None:
            self.wide_queries = 400 if self.protocol == "best-model" else 0
        elif self.protocol == "paper":
            if self.wide_queries != 0:
                raise ValueError("wide_queries applies to the best-model protocol only; leave it None for the paper's")
        else:
            self.wide_queries = positive_int(self.wide_queries, "wide_queries")
            if self.wide_queries < self.queries:
                raise ValueError(f"wide_queries ({self.wide_queries}) must be at least queries ({self.queries}): "
                                 "the wide set starts with the table's queries")

    @classmethod
    def quick(cls, seed: int = 0, protocol: str = "best-model") -> "RetrievalOptions":
        return cls(per_class_train=80, per_class_probe=30, per_class_test=40, queries=12, rows_per_class=15,
                   eval_rows_per_class=25, proxy_epochs=40, lane_iterations=15, small_zoo=True, seed=seed,
                   protocol=protocol, models=8, queries_per_model=2, wide_queries=None if protocol == "paper" else 30,
                   **(PAPER_DIGITS if protocol == "paper" else {}))

    @classmethod
    def full(cls, seed: int = 0, protocol: str = "best-model") -> "RetrievalOptions":
        if protocol == "paper":  # the sizes its published table was measured with
            return cls(per_class_probe=60, per_class_test=150, eval_rows_per_class=100, proxy_epochs=1500, seed=seed,
                       protocol=protocol, **PAPER_DIGITS)
        return cls(seed=seed, protocol=protocol)

    def zoo_data(self):
        """The zoo's training, probe and test pools these options describe."""
        from .zoo_data import load_zoo_data

        return load_zoo_data(self.per_class_train, self.per_class_probe, self.per_class_test, self.seed,
                             digits=self.digits, digits_probe_share=self.digits_probe_share)


def _zoo_and_queries(data, options: RetrievalOptions, verbose: bool):
    """The protocol's models and queries: ``(models, [(X, y)], truths, best masks, proxy task options,
    each query's data set, the truth's split-half agreement on the table's queries and on all of them (None in
    the paper protocol))``. The best-model protocol draws ``wide_queries`` queries, the table's first."""
    if options.protocol == "paper":
        from .paper_zoo import build_task_zoo, draw_model_queries

        models = build_task_zoo(data, options.models, options.seed, verbose)
        drawn = draw_model_queries(data, models, options.queries_per_model, options.rows_per_class,
                                   options.eval_rows_per_class, options.seed)
        sources = [q[0] for q in drawn]
        best = [np.arange(len(models)) == s for s in sources]
        query_datasets = [models[s].dataset for s in sources]
        # training tasks: the label spaces of the market's models (what its users ask for)
        training = {"task_class_sets": [m.classes for m in models]}
        held_correct = [np.stack([np.asarray(m.predict(Xe)) == ye for m in models]) for *_, Xe, ye in drawn]
        drawn = [q[:3] for q in drawn]
    else:
        from .zoo import build_zoo
        from .zoo_data import draw_query_rows

        models = build_zoo(data, options.small_zoo, options.seed, verbose)
        rows = draw_query_rows(data, replace(options, queries=max(options.queries, options.wide_queries)))
        # each model answers each test pool once; a query's truth indexes its held rows (they overlap a lot)
        pool_correct = {dataset: np.stack([np.asarray(m.predict(X)) == y for m in models])
                        for dataset, (X, y) in data.test.items()}
        held_correct = [pool_correct[dataset][:, held] for dataset, _, held in rows]
        drawn = [(dataset, *(a[shown] for a in data.test[dataset])) for dataset, shown, _ in rows]
        query_datasets = [q[0] for q in drawn]
        best = None
        training = {"task_groups": list(data.groups.values())}
    truths = [c.mean(axis=1) for c in held_correct]
    if best is None:
        best = [t >= t.max() - 1e-12 for t in truths]
    split_half = None, None
    if options.protocol == "best-model":  # the paper protocol's truth is the source model, not the most accurate
        from .zoo_data import split_half_agreement

        split_half = (split_half_agreement(held_correct[:options.queries], options.seed),
                      split_half_agreement(held_correct, options.seed))
    return (models, [(X, y) for _, X, y in drawn], truths, best, training, np.array(query_datasets),
            split_half)


def run_retrieval(options: RetrievalOptions, verbose: bool = True) -> dict:
    """Build the zoo, every method's specifications and the proxy, then rank models for every query."""
    import logging

    import learnware

    learnware.init(logging_level=logging.WARNING)
    from .._progress import progress

    from .. import __version__
    from ..retrieval import transferability as tr
    from ..specification.know2vec import probe_fingerprint
    from ..specification.lane import generate_lane_spec
    from ..retrieval.proxy import Know2VecProxy, Know2VecQuery
    from ..search import single_residuals
    from .retrieval_scoring import ACCESS, NO_FORWARD_PASS, rank_queries
    from .zoo import know2vec_spec_on_probe

    data = options.zoo_data()
    models, queries, truths, best_masks, training, query_datasets, split_half = _zoo_and_queries(data, options,
                                                                                                 verbose)
    probe_X, probe_y = data.probe

    k2v_specs, k2v_seconds, lane_specs, lane_seconds = [], [], [], []
    for model in progress(models, verbose=verbose, desc="specifications"):
        start = time.perf_counter()
        k2v_specs.append(know2vec_spec_on_probe(model, probe_X))
        k2v_seconds.append(time.perf_counter() - start)
        X, y = data.train[model.dataset]
        rows = np.isin(y, model.classes)
        start = time.perf_counter()
        # The paper's spec, as the published tables were measured with: points condensed from real rows,
        # no rows' class means (the points stand for the developer's data in Know2Vec-identity's tasks).
        lane_specs.append(generate_lane_spec(X[rows], y[rows], num_per_class=10, iterations=options.lane_iterations,
                                             init="real", data_means=False, seed=options.seed, verbose=False))
        lane_seconds.append(time.perf_counter() - start)

    start = time.perf_counter()
    proxy = Know2VecProxy(epochs=options.proxy_epochs, patience=options.proxy_patience, seed=options.seed,
                          verbose=verbose)
    # the specifications' stored answers label the probe tasks: no model is called again (format 2)
    proxy.fit(k2v_specs, k2v_specs, probe_X=probe_X, probe_y=probe_y, **training)
    proxy_seconds = time.perf_counter() - start
    embeddings = proxy.embed_models(k2v_specs)
    start = time.perf_counter()
    identity = Know2VecProxy(epochs=options.proxy_epochs, patience=options.proxy_patience, seed=options.seed,
                             verbose=verbose)
    identity.fit(k2v_specs, lane_specs)  # the paper's training: each task from one model's own data
    identity_seconds = time.perf_counter() - start
    identity_embeddings = identity.embed_models(k2v_specs)

    def features_of(X):
        return [m.features(X) for m in models]

    fingerprint = probe_fingerprint(probe_X)  # hashed once for the 40 specifications
    probe_correct = np.stack([spec.probe_labels(probe_X, fingerprint) == probe_y for spec in k2v_specs])

    def probe_accuracy(y):
        return np.mean([probe_correct[:, probe_y == c].mean(axis=1) for c in np.unique(y)], axis=0)

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
        "Probe accuracy": lambda X, y: probe_accuracy(y),
    }

    # the table's queries: every method; the wide set (best-model protocol): the methods without forward passes
    main = options.queries if options.protocol == "best-model" else len(queries)
    per_method, wide = {}, {}
    tie_break = np.random.default_rng(options.seed + 2)
    for name, score in scorers.items():
        per_method[name] = {**rank_queries(score, queries[:main], truths[:main], best_masks[:main],
                                           query_datasets[:main], tie_break, verbose=verbose, desc=name),
                            "access": ACCESS[name]}
        if verbose:
            e = per_method[name]
            print(f"{name:11s} R@1 {e['r@1']:.3f} R@3 {e['r@3']:.3f} top-1 acc {e['top1_accuracy']:.3f} "
                  f"{e['seconds_per_query'] * 1000:.1f} ms/query", flush=True)
    wide_tie_break = np.random.default_rng(options.seed + 4)
    for name in NO_FORWARD_PASS if len(queries) > main else ():
        wide[name] = rank_queries(scorers[name], queries, truths, best_masks, query_datasets, wide_tie_break,
                                  verbose=verbose, desc=f"{name}, {len(queries)} queries")
        if verbose:
            print(f"{name:11s} R@1 {wide[name]['r@1']:.3f} on {len(queries)} queries", flush=True)

    per_method["Know2Vec"].update({"spec_seconds": float(np.mean(k2v_seconds)),
                                   "spec_queries": float(np.mean([s.queries for s in k2v_specs])),
                                   "proxy_fit_seconds": proxy_seconds, "proxy_steps": len(proxy.losses_)})
    per_method["Know2Vec-identity"].update({"proxy_fit_seconds": identity_seconds,
                                            "proxy_steps": len(identity.losses_)})
    per_method["LANE"]["spec_seconds"] = float(np.mean(lane_seconds))
    doc = {
        "benchmark": "retrieval",
        "protocol": options.protocol,
        "description": _description(options, len(models), main),
        "models": [m.name for m in models],
        "queries": main,
        "chance_r@1": float(np.mean([np.mean(b) for b in best_masks[:main]])),
        "best_accuracy": float(np.mean([t.max() for t in truths[:main]])),
        "seed": options.seed,
        "version": __version__,
        "methods": per_method,
    }
    if split_half[0] is not None:
        doc["truth_split_half"] = split_half[0]
    if wide:  # the same queries first, then more: R@1 of the cheap methods with a quarter of the sampling noise
        doc["wide"] = {"queries": len(queries), "truth_split_half": split_half[1],
                       "chance_r@1": float(np.mean([np.mean(b) for b in best_masks])),
                       "best_accuracy": float(np.mean([t.max() for t in truths])), "methods": wide}
    if options.protocol == "paper":  # how often the source model is also the most accurate on held-out rows
        doc["source_is_most_accurate"] = float(np.mean([t[b].max() >= t.max() - 1e-12
                                                        for t, b in zip(truths, best_masks)]))
    return doc


def _description(options: RetrievalOptions, models: int, queries: int) -> str:
    if options.protocol == "paper":
        return (f"paper protocol: {models} models (logistic regression, RBF SVM, MLP, small CNN in turn), each on "
                f"its own 4 classes of digits or Fashion-MNIST in one 14x14 space; {queries} query tasks of "
                f"{options.rows_per_class} new rows per class of one model's task; truth: that model")
    held = "every other test row" if options.eval_rows_per_class is None else \
        f"{options.eval_rows_per_class} other test rows"
    return (f"{models} models (logistic regression, RBF SVM, MLP, small CNN) on class subsets of "
            f"{options.digits} digits and Fashion-MNIST in one 14x14 space; {queries} held-out query tasks of 2-5 "
            f"classes x {options.rows_per_class} rows; truth: the most accurate model(s) on {held} of the "
            f"query's classes")
