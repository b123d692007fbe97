"""Search at market scale: LANE, the stock EasyStatSearcher (RKME) and Know2Vec over 100 to 10,000 learnwares.

``python -m k2v_learnware.bench scale [--quick] --out DIR`` builds the synthetic
markets of :mod:`.scale_market` and times one search per planted user. Each
(method, size) runs in a process of its own (one BLAS/torch thread), so its
peak resident memory is its own: counted from after the data set's pools are
loaded (``data_rss_mb``: the imports and the pools), it is the market it holds
in memory plus what the searcher keeps.

- ``LANE``: our market searcher (``LANEStatSearcher``), single ranking and Eq. 9
  mixture, on format-2 specs, held as a market worker holds them: each
  learnware's class means computed and stored in a file of its own (what the
  market does when a learnware is added; ``build_seconds``), the specs keeping
  readers of those files and no points (what a reload keeps; points are read
  back when a learnware is reused). The index is read from the files once
  (``index_seconds``: what every market change costs) and kept.
- ``RKME-EasyStatSearcher``: the stock searcher, single ranking and its greedy
  mixture, on RKME table specs of the very same points (the anchor).
- ``Know2Vec``: ``Know2VecSearcher`` with its model embeddings kept; a proxy
  trained on 8 real models of the market; the N specs are copies of their 8
  boundary graphs with jitter (retrieval quality is the retrieval benchmark's
  business, so its planted recall is not reported here).

``planted_recall``: the share of planted learnwares found in the method's mixture
result, averaged over users.

results.json: ``{"benchmark": "scale", "sizes": [...], "methods": {NAME:
{"search_seconds_p50": [...], "peak_rss_mb": [...], "data_rss_mb": [...], "planted_recall": [...],
"build_seconds": [...], "queries": [...]}}, "ratios": {...}}``, one entry per size
(LANE also has ``index_seconds``).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .scale_market import SyntheticMarket, in_memory_learnware, lane_spec_of_points, rkme_spec_of_points

METHODS = ("LANE", "RKME-EasyStatSearcher", "Know2Vec")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class ScaleOptions:
    """Market sizes and how many planted users each method searches for at each size."""

    sizes: tuple[int, ...] = (100, 1000, 10000)
    queries: dict = field(default_factory=lambda: {"LANE": 20, "RKME-EasyStatSearcher": 5, "Know2Vec": 50})
    seed: int = 0
    timeout_s: float = 3600.0
    workers: int = 1  # worker processes at once; the full run measures one at a time, alone

    @classmethod
    def full(cls, seed: int = 0) -> "ScaleOptions":
        return cls(seed=seed)

    @classmethod
    def quick(cls, seed: int = 0) -> "ScaleOptions":
        return cls(sizes=(100, 1000), queries={"LANE": 6, "RKME-EasyStatSearcher": 3, "Know2Vec": 20}, seed=seed,
                   timeout_s=900.0, workers=2)  # a smoke test: two workers share the cores


# ------------------------------------------------------------------ one worker: one method at one size
def _rss_mb(field: str) -> float | None:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process in MB, or None where /proc has no such line."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def _start_peak_here() -> float | None:
    """Start the process's peak memory over from what it holds now; return that (MB), or None where Linux's
    /proc/self/clear_refs is not there, when the peak stays the process's since its start.

    Loading Fashion-MNIST's pools peaks at ~580 MB with the imports, above what a worker then holds for a
    market of 1,000 learnwares, so a peak since the process started measured the data set's loading (the same
    for every method and size under 10,000) and not the market and the searcher."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # 5: reset the peak resident set size
    except OSError:
        return None
    return _rss_mb("VmRSS")


def _peak_rss_mb() -> float:
    peak = _rss_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB


def _recall(found_ids, planted) -> float:
    return len({f"{g:08d}" for g in planted} & set(found_ids)) / len(planted)


def _mixture_ids(results) -> list[str]:
    mixtures = results.get_multiple_results()
    if mixtures:
        return [lw.id for lw in mixtures[0].learnwares]
    return [item.learnware.id for item in results.get_single_results()[:1]]


def _lane(market: SyntheticMarket, queries: int):
    """What a market worker does: means computed and stored at each add; a reload keeps readers, no points."""
    import functools
    import tempfile
    from pathlib import Path

    from ..market.k2v_market import user_info
    from ..market.lane_means import attach_lane_means, write_lane_means
    from ..market.searchers import LANEStatSearcher

    def points(g):
        return np.ascontiguousarray(market.points(g)[0], dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="k2v-scale-") as folder:
        learnwares, build = [], 0.0
        for g in range(market.n):
            learnware = in_memory_learnware(f"{g:08d}", {"LANESpecification": lane_spec_of_points(*market.points(g))})
            version = Path(folder) / f"{g:08d}"
            version.mkdir()
            start = time.perf_counter()
            write_lane_means(learnware, version)  # the add: class means computed once and stored
            build += time.perf_counter() - start
            attach_lane_means(learnware, version)  # the reload: a reader of the stored means
            learnware.get_specification().get_stat_spec()["LANESpecification"].release_points(
                reload=functools.partial(points, g))  # a market reads them back from the spec file
            learnwares.append(learnware)
        specs = [lw.get_specification().get_stat_spec()["LANESpecification"] for lw in learnwares]
        searcher = LANEStatSearcher(organizer=None)
        start = time.perf_counter()
        searcher.index_for(specs, specs[0].embedding_family())  # read from the stored files, as after a change
        index_seconds = time.perf_counter() - start
        seconds, recalls = [], []
        for q in range(queries):
            user = market.user(q)
            info = user_info(lane_spec_of_points(user.rows, [None] * len(user.rows)))
            start = time.perf_counter()
            results = searcher(learnwares, info, max_search_num=5)
            seconds.append(time.perf_counter() - start)
            recalls.append(_recall(_mixture_ids(results), user.planted))
    return seconds, recalls, build, index_seconds


def _rkme(market: SyntheticMarket, queries: int):
    from learnware.market import BaseUserInfo
    from learnware.market.easy import EasyStatSearcher

    learnwares = [in_memory_learnware(f"{g:08d}", {"RKMETableSpecification": rkme_spec_of_points(market.points(g)[0])})
                  for g in range(market.n)]
    searcher = EasyStatSearcher(organizer=None)
    seconds, recalls = [], []
    for q in range(queries):
        user = market.user(q)
        info = BaseUserInfo(stat_info={"RKMETableSpecification": rkme_spec_of_points(user.rows)})
        start = time.perf_counter()
        results = searcher(learnwares, info, max_search_num=5, search_method="greedy")
        seconds.append(time.perf_counter() - start)
        recalls.append(_recall(_mixture_ids(results), user.planted))
    return seconds, recalls, 0.0, None


def _know2vec(market: SyntheticMarket, queries: int, seed: int):
    import copy

    from learnware.market import BaseUserInfo
    from sklearn.neighbors import NearestCentroid

    from ..market.searchers import Know2VecSearcher
    from ..retrieval.proxy import Know2VecProxy, Know2VecQuery
    from ..specification.know2vec import generate_know2vec_spec

    rng = np.random.default_rng(seed)
    real = min(8, market.n)
    probe = np.concatenate([pool[:30] for pool in market.test])
    models = [NearestCentroid().fit(*market.points(g)) for g in range(real)]
    real_specs = [generate_know2vec_spec(m, probe) for m in models]
    proxy = Know2VecProxy(epochs=30, batch_size=16, seed=seed, verbose=False).fit(real_specs, models, probe_X=probe)
    specs = []
    for g in range(market.n):
        spec = copy.copy(real_specs[g % real])
        spec.nodes = spec.nodes + rng.normal(0, 0.01, spec.nodes.shape).astype(np.float32)
        specs.append(spec)
    learnwares = [in_memory_learnware(f"{g:08d}", {"Know2VecSpecification": s}) for g, s in enumerate(specs)]
    searcher = Know2VecSearcher(organizer=None, proxy=proxy)
    start = time.perf_counter()
    searcher.model_embeddings(specs)  # once per proxy
    build = time.perf_counter() - start
    seconds = []
    for q in range(queries):
        user = market.user(q)
        labels = np.argmin(((user.rows[:, None, :] - np.stack([p.mean(0) for p in market.test])[None]) ** 2).sum(2), 1)
        info = BaseUserInfo(stat_info={"Know2VecQuery": Know2VecQuery.from_data(user.rows, labels)})
        start = time.perf_counter()
        searcher(learnwares, info, max_search_num=5)
        seconds.append(time.perf_counter() - start)
    return seconds, None, build, None


def run_worker(method: str, n: int, queries: int, seed: int) -> dict:
    """Build a market of ``n`` learnwares and time ``queries`` searches with ``method``."""
    import warnings

    warnings.filterwarnings("ignore", message=".*csc_matrix.*")
    from learnware.config import C

    C.logging_level = 40  # the stock searcher logs every search at INFO
    market = SyntheticMarket(n, seed)
    data_rss = _start_peak_here()
    run = {"LANE": _lane, "RKME-EasyStatSearcher": _rkme}.get(method)
    seconds, recalls, build, index = run(market, queries) if run else _know2vec(market, queries, seed)
    return {"method": method, "n": n, "seconds": seconds, "planted_recall": None if recalls is None else
            float(np.mean(recalls)), "build_seconds": build, "index_seconds": index, "peak_rss_mb": _peak_rss_mb(),
            "data_rss_mb": data_rss}


# ------------------------------------------------------------------ the benchmark
def run_scale(options: ScaleOptions, verbose: bool = True) -> dict:
    """Every method at every size, each in its own single-threaded process; returns the results document."""
    from .._progress import progress

    methods = {name: {"search_seconds_p50": [], "peak_rss_mb": [], "data_rss_mb": [], "planted_recall": [],
                      "build_seconds": [], "queries": []} for name in METHODS}
    env = {**os.environ, **SINGLE_THREAD}
    jobs = [(n, name) for n in options.sizes for name in METHODS]

    def work(job):
        n, name = job
        command = [sys.executable, "-m", "k2v_learnware.bench.scale", name, str(n), str(options.queries[name]),
                   str(options.seed)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=options.timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"{name} at {n} learnwares failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    bar = progress(total=len(jobs), verbose=verbose, desc="scale")
    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        for (n, name), result in zip(jobs, pool.map(work, jobs)):  # results in job order
            entry = methods[name]
            entry["search_seconds_p50"].append(statistics.median(result["seconds"]))
            entry["peak_rss_mb"].append(result["peak_rss_mb"])
            entry["data_rss_mb"].append(result["data_rss_mb"])
            entry["planted_recall"].append(result["planted_recall"])
            entry["build_seconds"].append(result["build_seconds"])
            entry["queries"].append(len(result["seconds"]))
            if result["index_seconds"] is not None:
                entry.setdefault("index_seconds", []).append(result["index_seconds"])
            bar.update()
            if verbose:
                bar.write(f"{name} at {n}: p50 {entry['search_seconds_p50'][-1]:.4f} s, peak RSS "
                          f"{result['peak_rss_mb']:.0f} MB, recall {result['planted_recall']}")
    bar.close()
    lane, rkme = methods["LANE"]["search_seconds_p50"], methods["RKME-EasyStatSearcher"]["search_seconds_p50"]
    return {
        "benchmark": "scale",
        "description": "synthetic markets: 10 Fashion-MNIST classes (14x14, 196-d) per learnware, each learnware "
                       "in a domain of its own, 10 points per class; users mix 2-3 planted learnwares",
        "sizes": list(options.sizes),
        "methods": methods,
        "ratios": {"rkme_over_lane_p50": [r / max(s, 1e-9) for r, s in zip(rkme, lane)]},
        "seed": options.seed,
        "cpu_count": os.cpu_count(),
        "threads": 1,
        "workers_at_once": options.workers,
    }


def main(argv) -> int:
    method, n, queries, seed = argv
    if method not in METHODS:
        raise SystemExit(f"method must be one of {METHODS}, got {method!r}")
    print(json.dumps(run_worker(method, int(n), int(queries), int(seed))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
