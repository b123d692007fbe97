"""Command line of the benchmarks: ``python -m k2v_learnware.bench {reuse,retrieval,service,scale} ...``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from .settings import DATASETS


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m k2v_learnware.bench",
                                     description="Benchmarks of LANE and Know2Vec against the anchors, in one run.")
    sub = parser.add_subparsers(dest="benchmark", required=True)
    reuse = sub.add_parser("reuse", help="mixed-task reuse: LANE against RKME, MAX and the oracle")
    reuse.add_argument("--dataset", choices=DATASETS, default="digits")
    retrieval = sub.add_parser("retrieval", help="model retrieval: Know2Vec against transferability scores")
    service = sub.add_parser("service", help="market service under load: HTTP searches and uploads against "
                                             "the in-process search (starts its own PostgreSQL and server)")
    scale = sub.add_parser("scale", help="search at market scale: LANE, the stock EasyStatSearcher and Know2Vec "
                                         "over 100 to 10,000 learnwares (--quick: up to 1000)")
    for p in (reuse, retrieval, service, scale):
        p.add_argument("--quick", action="store_true", help="small sizes: a smoke test of a few minutes")
        p.add_argument("--out", default=None, help="folder for results.json, results.md and the plots")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
    retrieval.add_argument("--protocol", choices=("best-model", "paper"), default="best-model",
                           help="best-model: several models per class subset, truth = the most accurate (ours); "
                                "paper: one model per 4-class task, truth = the model the query came from "
                                "(Know2Vec, Table 1)")
    reuse.add_argument("--users", type=_count(1), default=None, help="users per mixture count (full: 50)")
    reuse.add_argument("--jobselector-users", type=_count(1), default=None,
                       help="users per mixture count the package's JobSelectorReuser runs on (full: 5; 1 in the "
                            "10-task setting)")
    return parser


def _quiet_known_warnings():
    """Deprecation chatter from the anchors' own code (LightGBM's eval_set in the package's
    JobSelectorReuser, SVC(probability=True), qpsolvers' dense-to-sparse note); not ours to fix."""
    import warnings

    warnings.filterwarnings("ignore", message=".*eval_set.*deprecated.*")
    warnings.filterwarnings("ignore", message=".*probability.*deprecated.*")
    warnings.filterwarnings("ignore", message=".*csc_matrix.*")


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _finish(doc: dict, args, argv, start: float, write, name: str) -> list:
    """Stamp a results document (quick, wall time, command), write its report and print the table."""
    doc["quick"] = bool(args.quick)
    doc["wall_seconds"] = time.perf_counter() - start
    doc["command"] = "python -m k2v_learnware.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    paths = write(doc, args.out or f"bench-out/{name}{'-quick' if args.quick else ''}")
    print(paths[1].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return paths


def _run_service(args, argv) -> int:
    """The service benchmark; exits 1 when any request failed (after writing the results)."""
    from .service import SINGLE_THREAD

    os.environ.update(SINGLE_THREAD)  # before numpy and torch load: this process, and the servers it starts
    from .local_postgres import PostgresUnavailable
    from .service import ServiceOptions, run_service, write_service_report

    start = time.perf_counter()
    options = ServiceOptions.quick(args.seed) if args.quick else ServiceOptions.full(args.seed)
    stopped = signal.signal(signal.SIGTERM, _exit_on_signal)  # so a terminated run still stops its servers
    try:
        doc = run_service(options, verbose=not args.quiet)
    except PostgresUnavailable as err:
        print(f"python -m k2v_learnware.bench service: {err}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, stopped)
    paths = _finish(doc, args, argv, start, write_service_report, "service")
    if doc["errors"]:
        print(f"{doc['errors']} request(s) failed: see error_samples in {paths[0]}", file=sys.stderr)
        return 1
    return 0


def _run_scale(args, argv) -> int:
    from .scale import ScaleOptions, run_scale
    from .scale_report import write_scale_report

    start = time.perf_counter()
    options = ScaleOptions.quick(args.seed) if args.quick else ScaleOptions.full(args.seed)
    _finish(run_scale(options, verbose=not args.quiet), args, argv, start, write_scale_report, "scale")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .report import write_report

    _quiet_known_warnings()
    if args.benchmark == "service":
        return _run_service(args, argv)
    if args.benchmark == "scale":
        return _run_scale(args, argv)
    start = time.perf_counter()
    if args.benchmark == "reuse":
        from .reuse import ReuseOptions, run_reuse
        from .settings import load_setting

        options = ReuseOptions.quick(args.seed) if args.quick else ReuseOptions.full(args.seed, args.dataset)
        if args.users is not None:
            options.users_per_count = args.users
        if args.jobselector_users is not None:
            options.jobselector_users = args.jobselector_users
        setting = load_setting(args.dataset, quick=args.quick, seed=args.seed, verbose=not args.quiet)
        doc, name = run_reuse(setting, options, verbose=not args.quiet), f"reuse-{args.dataset}"
    else:
        from .retrieval import RetrievalOptions, run_retrieval

        options = (RetrievalOptions.quick if args.quick else RetrievalOptions.full)(args.seed, args.protocol)
        name = "retrieval" if args.protocol == "best-model" else "retrieval-paper"
        doc = run_retrieval(options, verbose=not args.quiet)
    _finish(doc, args, argv, start, write_report, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
