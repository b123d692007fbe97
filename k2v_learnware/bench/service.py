"""Load benchmark of the market service: searches and uploads over HTTP against the in-process search.

``python -m k2v_learnware.bench service [--quick] --out DIR`` starts, all on this
machine and all stopped again at the end:

1. a throw-away PostgreSQL server (:mod:`.local_postgres`) holding the market's index;
2. a market preloaded with ``learnwares`` digits learnwares (each a pair of digit
   classes, a logistic regression and a small LANE specification), owned by a
   few developer accounts, each with a token;
3. ``k2v-learnware serve`` with 2 worker processes on a free port of 127.0.0.1,
   with ``OMP_NUM_THREADS=1`` (this process runs with one thread too).

Then, one phase after the other:

- ``search (in-process)``, the anchor: every search of the HTTP phases, one after
  the other, by ``market.search_learnware`` in this process (no HTTP), on the same
  market, each with the requirement freshly loaded from its file (a spec object
  caches its embedding, and the server reads a new one per request); the loading
  is not timed (``setup.requirement_load_ms`` gives it), the server's is part of
  the HTTP time;
- ``search (one at a time)``: the same searches over HTTP (the requirement's LANE
  JSON file, as the stock client sends it), one after the other: what HTTP, the
  parsing and the service add to each search;
- ``search``: the same again, ``concurrency`` at a time: what the workers make of
  a load (queueing included);
- ``upload`` and ``search (during uploads)``: distinct learnware zips uploaded
  (``/user/chunked_upload`` then ``/user/add_learnware_uploaded``) while as many
  searches run, ``concurrency`` requests at a time in all.

Per operation it reports requests, errors, throughput (requests per second of
the phase's wall time), p50, p99 and mean latency, and the CPU time per request
of whoever served it (this thread for the anchor, the workers for the HTTP
searches; not split between the operations of the mixed phase), which other
load on the machine does not skew as it does the wall times; ``http_overhead``
holds the HTTP search against the in-process anchor as ratios. An error is any request
that fails, any reply with a non-zero code, an HTTP search whose answer differs
from the in-process one, or a market that does not hold every upload afterwards;
``python -m k2v_learnware.bench`` exits 1 when there is one (after writing the
results).

``results.json``: ``{"benchmark": "service", "setup": {...}, "operations": {NAME:
{"requests", "errors", "concurrency", "seconds", "throughput_rps", "p50_ms",
"p99_ms", "mean_ms", "cpu_ms_per_request"}}, "http_overhead":
{"one_at_a_time_p50_ratio", "one_at_a_time_mean_ratio", "one_at_a_time_extra_ms",
"one_at_a_time_cpu_ratio", "concurrent_p50_ratio", "concurrent_throughput_ratio"}, "same_results":
{"compared", "agreeing"}, "errors": N,
"error_samples": [...], "learnwares_after": N}``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


from .service_phases import Phase, run_jobs, timed_call
from .service_processes import (
    MARKET,
    SEARCH_LIMIT,
    SINGLE_THREAD,
    Client,
    ServiceProcess,
    _digits,
    _one_thread,
    build_requirements,
    build_zips,
)
from .service_report import ONE_AT_A_TIME, OPERATIONS, check_service_results, service_markdown, write_service_report

__all__ = ["MARKET", "ONE_AT_A_TIME", "OPERATIONS", "SEARCH_LIMIT", "SINGLE_THREAD", "ServiceOptions",
           "check_service_results", "run_service", "service_markdown", "write_service_report"]


@dataclass
class ServiceOptions:
    learnwares: int  # preloaded before any request
    searches: int  # in the search phase (and, in-process, in the anchor)
    uploads: int  # distinct zips, each with one search beside it in the upload phase
    concurrency: int = 8
    workers: int = 2
    accounts: int = 4
    requirements: int = 12  # distinct requirement specifications the searches cycle through
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> "ServiceOptions":
        return cls(learnwares=20, searches=60, uploads=20, seed=seed)

    @classmethod
    def full(cls, seed: int = 0) -> "ServiceOptions":
        return cls(learnwares=100, searches=400, uploads=100, requirements=40, seed=seed)


# ----------------------------------------------------------------------------- data
def _answer(singles, mixtures) -> dict:
    """What a search found, comparable between the market's result and the HTTP reply."""
    return {"singles": list(singles), "mixture": sorted(mixtures)}


def _http_answer(data: dict) -> dict:
    return _answer((e["learnware_id"] for e in data["learnware_list_single"]),
                   (e["learnware_id"] for e in data["learnware_list_multi"]))


def _market_answer(result) -> dict:
    mixes = result.get_multiple_results()
    return _answer((item.learnware.id for item in result.get_single_results()[:SEARCH_LIMIT]),
                   (lw.id for lw in mixes[0].learnwares) if mixes else ())


# ----------------------------------------------------------------------------- the benchmark
def run_service(options: ServiceOptions, verbose: bool = True) -> dict:
    """Run the load benchmark; the results document (see the module's docstring)."""
    import logging

    import learnware
    from tqdm.auto import tqdm

    from .local_postgres import PostgresServer

    learnware.init(logging_level=logging.WARNING)

    show = None if verbose else True  # tqdm: bars on a terminal only, none with --quiet
    setting = _digits()
    with tempfile.TemporaryDirectory(prefix="k2v-bench-service-") as folder, _one_thread():
        folder = Path(folder)
        (folder / "zips").mkdir()
        began = time.perf_counter()
        zips = build_zips(setting, options.learnwares + options.uploads, 0, folder / "zips")
        requirement_paths = build_requirements(setting, options.requirements, options.seed, folder)
        stages = {"zips_and_requirements": time.perf_counter() - began}
        postgres = PostgresServer()
        server = market = None
        try:
            postgres.start()
            stages["postgres_start"] = time.perf_counter() - began - sum(stages.values())
            database_url = f"{postgres.url}/k2v_bench_service"
            market, tokens = _preload(folder / "market", database_url, zips[:options.learnwares], options.accounts)
            stages["preload"] = time.perf_counter() - began - sum(stages.values())
            server = ServiceProcess(folder / "market", database_url, options.workers, folder / "service.log")
            server.wait_until_serving()
            stages["server_start"] = time.perf_counter() - began - sum(stages.values())
            doc = _measure(options, market, server, zips[options.learnwares:], requirement_paths, tokens,
                           lambda total, desc: tqdm(total=total, desc=desc, disable=show))
            stages["requests"] = time.perf_counter() - began - sum(stages.values())
            doc["stage_seconds"] = stages
            doc["learnwares_after"] = len(market.learnware_organizer.get_learnware_ids())
            expected = options.learnwares + options.uploads
            if doc["learnwares_after"] != expected:
                doc["error_samples"].append(f"the market holds {doc['learnwares_after']} learnwares after the "
                                            f"run, not {expected}")
                doc["errors"] += 1
            if doc["errors"]:
                doc["service_log_tail"] = server.log_tail()
            return doc
        finally:
            if server is not None:
                server.stop()
            if market is not None:
                market.learnware_organizer.store.engine.dispose()
            postgres.stop()


def _preload(root: Path, database_url: str, zips: list[Path], accounts: int):
    """The market with ``zips`` added (owners in turn) and a token per developer account."""
    from ..market import instantiate_market
    from ..packaging import read_semantic_spec
    from ..service.accounts import Accounts

    market = instantiate_market(MARKET, root=root, database_url=database_url)
    issuer = Accounts(market.learnware_organizer.store.engine)
    emails = [f"developer-{i}@bench.example" for i in range(accounts)]
    tokens = [issuer.issue_token(email) for email in emails]
    for k, path in enumerate(zips):
        learnware_id, _ = market.add_learnware(str(path), read_semantic_spec(path), owner=emails[k % accounts])
        if learnware_id is None:
            raise RuntimeError(f"the market refused {path.name}: {market.rejection_message}")
    return market, tokens


def _ratio(a, b):
    return a / b if a and b else None


def _measure(options, market, server, upload_zips, requirement_paths, tokens, progress) -> dict:
    from ..market import user_info
    from ..packaging import read_semantic_spec
    from ..specification.lane import LANESpecification

    def requirement(i):
        spec = LANESpecification()  # a new object for every search, as the server reads one per request
        spec.load(str(requirement_paths[i]))
        return user_info(spec)

    client = Client(server.url)
    files = [path.read_bytes() for path in requirement_paths]
    semantics = [json.dumps(requirement(i).get_semantic_spec()) for i in range(len(files))]
    order = [i % len(files) for i in range(options.searches)]

    # Warm-up, not measured: the searchers' caches here, and in each worker.
    market.search_learnware(requirement(0), max_search_num=SEARCH_LIMIT)
    warm = Phase(options.concurrency)
    with progress(4 * options.workers, "warm-up") as bar:
        run_jobs([timed_call(warm, lambda i=i: client.search(files[i % len(files)], semantics[i % len(files)]))
                   for i in range(4 * options.workers)], options.concurrency, bar)

    phases = {name: Phase(1 if name in ONE_AT_A_TIME else options.concurrency) for name in OPERATIONS}
    anchor, expected, loading = phases["search (in-process)"], {}, []
    anchor.cpu_seconds = 0.0
    with progress(options.searches, "search (in-process)") as bar:
        for i in order:
            began = time.perf_counter()
            info = requirement(i)  # not part of the search's time; the server's parsing is part of the HTTP one
            loading.append(time.perf_counter() - began)
            began, cpu = time.perf_counter(), time.thread_time()
            result = market.search_learnware(info, max_search_num=SEARCH_LIMIT)
            anchor.cpu_seconds += time.thread_time() - cpu
            anchor.record(time.perf_counter() - began, None)
            expected.setdefault(i, _market_answer(result))
            bar.update(1)
        anchor.seconds = sum(anchor.latencies)

    def same_as_in_process(i):
        return lambda data: None if _http_answer(data) == expected[i] else (
            f"requirement {i}: HTTP found {_http_answer(data)}, in-process {expected[i]}")

    for name in ("search (one at a time)", "search"):
        with progress(options.searches, name) as bar:
            cpu = server.cpu_seconds()
            phases[name].seconds = run_jobs(
                [timed_call(phases[name], lambda i=i: client.search(files[i], semantics[i]), same_as_in_process(i))
                 for i in order], phases[name].concurrency, bar)
            after = server.cpu_seconds()
            phases[name].cpu_seconds = None if cpu is None or after is None else after - cpu

    jobs = []
    for k, path in enumerate(upload_zips):
        zip_bytes, semantic = path.read_bytes(), json.dumps(read_semantic_spec(path))
        jobs.append(timed_call(phases["upload"],
                                lambda z=zip_bytes, s=semantic, t=tokens[k % len(tokens)]: client.upload(z, s, t)))
        i = order[k % len(order)]
        jobs.append(timed_call(phases["search (during uploads)"], lambda i=i: client.search(files[i], semantics[i])))
    with progress(len(jobs), "uploads and searches") as bar:
        seconds = run_jobs(jobs, options.concurrency, bar)
    phases["upload"].seconds = phases["search (during uploads)"].seconds = seconds

    operations = {name: phase.summary() for name, phase in phases.items()}
    local, single, many = (operations[n] for n in ("search (in-process)", "search (one at a time)", "search"))
    differing = sum(1 for n in ("search (one at a time)", "search") for e in phases[n].errors if "in-process" in e)
    errors = [e for name in OPERATIONS for e in phases[name].errors] + warm.errors
    return {
        "benchmark": "service",
        "description": (f"market service, {options.workers} workers on PostgreSQL, {options.learnwares} digits "
                        f"learnwares preloaded, {options.concurrency} requests at a time, one thread per process"),
        "options": asdict(options),
        "setup": {"learnwares": options.learnwares, "workers": options.workers, "concurrency": options.concurrency,
                  "accounts": options.accounts, "requirements": options.requirements, "search_limit": SEARCH_LIMIT,
                  "database": "postgresql (throw-away local server)", "threads_per_process": 1,
                  "cpu_count": os.cpu_count(), "requirement_load_ms": 1000.0 * sum(loading) / len(loading)},
        "operations": operations,
        # one at a time: what HTTP, parsing and the service add to each search; concurrent: what the workers
        # make of `concurrency` requests at a time (queueing included) against one in-process caller.
        "http_overhead": {
            "one_at_a_time_p50_ratio": _ratio(single["p50_ms"], local["p50_ms"]),
            "one_at_a_time_mean_ratio": _ratio(single["mean_ms"], local["mean_ms"]),
            "one_at_a_time_extra_ms": (single["mean_ms"] - local["mean_ms"]
                                       if single["mean_ms"] and local["mean_ms"] else None),
            "one_at_a_time_cpu_ratio": _ratio(single["cpu_ms_per_request"], local["cpu_ms_per_request"]),
            "concurrent_p50_ratio": _ratio(many["p50_ms"], local["p50_ms"]),
            "concurrent_throughput_ratio": _ratio(many["throughput_rps"], local["throughput_rps"])},
        "same_results": {"compared": 2 * options.searches, "agreeing": 2 * options.searches - differing},
        "errors": len(errors),
        "error_samples": errors[:10],
    }


# ----------------------------------------------------------------------------- report
