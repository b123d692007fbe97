"""Know2Vec retrieval through a market: the retrieval bench's zoo as learnwares, both proxy training regimes.

The retrieval benchmark (``python -m k2v_learnware.bench retrieval``, best-model
protocol) fits its proxies directly. This script puts the same zoo in a real
market (SQLite, a temporary folder): the market holds the bench's probe set and
its labels (``instantiate_market(probe_X=..., probe_y=...)``), builds every
learnware's Know2Vec specification itself on ``add_learnware``, trains its
proxy with ``market.fit_know2vec_proxy`` in both regimes (``labelled``: tasks
cut from the labelled probe set, positives the most accurate learnwares;
``identity``: the paper's, tasks from each learnware's LANE specification),
and answers the bench's queries with ``market.search_learnware`` (a user's
per-class means only). The anchor is the bench's own proxy, fitted directly on
the same specifications in the same run: R@1 against the most accurate model,
fit seconds and ms per query for each.

    OMP_NUM_THREADS=1 python benchmarks/market_know2vec.py [--quick] [--seed N]
"""

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _r_at_1(top, best_masks) -> float:
    return float(np.mean([mask[t] for t, mask in zip(top, best_masks)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the bench's --quick zoo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*probability.*deprecated.*")  # sklearn 1.9's SVC; not ours

    import learnware

    learnware.init(logging_level=logging.WARNING)  # before the market modules create their loggers
    from learnware.market import BaseUserInfo

    from k2v_learnware import generate_lane_spec, pack_learnware
    from k2v_learnware.bench.retrieval import RetrievalOptions, _zoo_and_queries
    from k2v_learnware.market import instantiate_market, user_semantic_spec
    from k2v_learnware.packaging import read_semantic_spec
    from k2v_learnware.retrieval.proxy import Know2VecProxy, Know2VecQuery

    options = (RetrievalOptions.quick if args.quick else RetrievalOptions.full)(args.seed)
    start = time.perf_counter()
    data = options.zoo_data()
    models, queries, _, best_masks, training, _, _ = _zoo_and_queries(data, options, verbose=False)
    queries, best_masks = queries[:options.queries], best_masks[:options.queries]
    probe_X, probe_y = data.probe
    print(f"zoo of {len(models)} models, probe set of {len(probe_X)} rows, {len(queries)} queries "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # the market's own budget: BOUNDARY_QUERIES beyond the probe set, as the bench's specifications have
        market = instantiate_market("zoo", rebuild=True, root=root / "market", probe_X=probe_X, probe_y=probe_y)
        start, ids = time.perf_counter(), {}
        for i, model in enumerate(models):
            X, y = data.train[model.dataset]
            rows = np.isin(y, model.classes)
            # the bench's identity regime's LANE specification: the paper's (real rows, no class means)
            lane = generate_lane_spec(X[rows], y[rows], num_per_class=10, iterations=options.lane_iterations,
                                      init="real", data_means=False, seed=options.seed, verbose=False)
            path = pack_learnware(model, lane, root / f"{i}.zip", name=model.name)
            learnware_id, status = market.add_learnware(str(path), read_semantic_spec(path))
            if status != 1:
                raise SystemExit(f"market_know2vec: error: {model.name} rejected: {market.rejection_message}")
            ids[learnware_id] = i
        print(f"{len(models)} learnwares added (LANE spec, zip, checks, Know2Vec spec each): "
              f"{time.perf_counter() - start:.0f} s", flush=True)

        user = user_semantic_spec(probe_X.shape[1:])
        proxy_options = {"epochs": options.proxy_epochs, "patience": options.proxy_patience, "seed": options.seed,
                         "verbose": False}
        rows, tops = [], {}
        for regime, groups in (("labelled", training["task_groups"]), ("identity", None)):
            start = time.perf_counter()
            market.fit_know2vec_proxy(regime=regime, task_groups=groups, **proxy_options)
            fit_seconds = time.perf_counter() - start
            top, seconds = [], []
            for X, y in queries:
                info = BaseUserInfo(semantic_spec=user, stat_info={"Know2VecQuery": Know2VecQuery.from_data(X, y)})
                start = time.perf_counter()
                results = market.search_learnware(info, max_search_num=1).get_single_results()
                seconds.append(time.perf_counter() - start)
                top.append(ids[results[0].learnware.id])
            rows.append((f"market, {regime}", _r_at_1(top, best_masks), fit_seconds, 1000 * float(np.median(seconds))))
            tops[regime] = top

        # the anchor: the bench's proxy, fitted directly on the market's own specifications in the bench's order
        by_id = {lw.id: lw for lw in market.learnware_organizer.get_learnwares()}
        specs = [by_id[lid].get_specification().get_stat_spec()["Know2VecSpecification"] for lid in ids]  # added order
        start = time.perf_counter()
        proxy = Know2VecProxy(**proxy_options).fit(specs, specs, probe_X=probe_X, probe_y=probe_y, **training)
        fit_seconds = time.perf_counter() - start
        embeddings = proxy.embed_models(specs)
        top, seconds = [], []
        for X, y in queries:
            start = time.perf_counter()
            scores = proxy.scores(Know2VecQuery.from_data(X, y), model_embeddings=embeddings)
            seconds.append(time.perf_counter() - start)
            top.append(int(np.argmax(scores)))
        rows.append(("bench's proxy, direct (anchor)", _r_at_1(top, best_masks), fit_seconds,
                     1000 * float(np.median(seconds))))

    anchor = rows[-1]
    print(f"\n{'proxy':32s} {'R@1':>6s} {'fit s':>7s} {'ms/query':>9s}  fit / anchor")
    for name, r1, fit_s, ms in rows:
        print(f"{name:32s} {r1:6.3f} {fit_s:7.1f} {ms:9.2f}  {fit_s / anchor[2]:.2f}x")
    same = np.mean([a == b for a, b in zip(tops["labelled"], top)])
    print(f"the market's labelled proxy ranks the anchor's first model first on {same:.0%} of the queries")


if __name__ == "__main__":
    main()
