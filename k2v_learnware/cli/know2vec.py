"""The market's Know2Vec commands: ``probe`` gives a market its probe set, ``fit-proxy`` trains its proxy, and
``search --know2vec`` ranks learnwares for a user's labelled task.

Serves the Know2Vec path of the paradigm from the command line: the market
owns a probe set and queries every learnware added after it as a black box
(its Know2Vec specification); a proxy trained on those specifications ranks
the learnwares for a task the user reveals only as per-class mean features.
With labels of the probe set the proxy learns which learnware is *most
accurate* on a task, which tells apart learnwares of one class subset.
"""

from __future__ import annotations

import sys
import time

from .common import PROG, CLIError, Outcome, init_learnware, say
from .data import data_from_args
from .market import market_root, open_market, single_results

def _know2vec_counts(market) -> dict:
    """How many learnwares the market holds, how many have a Know2Vec specification, how many on this probe set."""
    from ..market.market_know2vec import know2vec_spec_of, without_probe_spec

    organizer = market.learnware_organizer
    learnwares = organizer.get_learnwares()
    return {"learnwares": len(learnwares),
            "know2vec_specs": sum(know2vec_spec_of(lw) is not None for lw in learnwares),
            "on_this_probe_set": len(learnwares) - len(without_probe_spec(organizer))}


def cmd_probe(args) -> Outcome:
    """Give a market its probe set, with the data file's labels unless --unlabelled.

    Every learnware added from now on is queried on the probe rows as a black
    box and gets a Know2Vec specification. Labels, in the learnwares' label
    space, let `fit-proxy` learn which learnware is most accurate on a task;
    labels stored before for the very same rows stay. Learnwares added
    before have no Know2Vec specification on it: --build-specs gives each one
    (a new version of the learnware), else they are counted.
    """
    data = data_from_args(args)
    labels = None if args.unlabelled else data.y
    root = market_root(args, must_exist=False)
    init_learnware(args.quiet)
    from ..market import instantiate_market

    market = instantiate_market(args.market, root=root, database_url=args.database_url, probe_X=data.X,
                                probe_y=labels)
    probe_y = market.learnware_organizer.probe_y
    classes = None if probe_y is None else list(dict.fromkeys(probe_y))
    built = market.build_know2vec_specs(verbose=not args.quiet) if args.build_specs else None
    counts = _know2vec_counts(market)
    payload = {"market": args.market, "root": str(root), "rows": len(data.X), "input_shape": list(data.X.shape[1:]),
               "labelled": probe_y is not None, "classes": classes, **counts, "built": built}
    lines = [f"market {args.market!r} under {root}: probe set of {len(data.X)} rows of shape "
             f"{tuple(data.X.shape[1:])}, " + (f"labelled ({len(classes)} classes)" if classes else "unlabelled")]
    if built is not None:
        lines.append(f"built Know2Vec specifications for {len(built['built'])} learnware(s)"
                     + "".join(f"\n  {i} has none: {why}" for i, why in built["failed"].items()))
    missing = counts["learnwares"] - counts["on_this_probe_set"]
    if missing:
        lines.append(f"{missing} of its {counts['learnwares']} learnware(s) have no Know2Vec specification built on "
                     "this probe set" + ("" if built is not None else "; --build-specs gives them one"))
    if built is not None and built["failed"]:
        print(f"{PROG}: error: {len(built['failed'])} learnware(s) got no Know2Vec specification: "
              + "; ".join(f"{i}: {why}" for i, why in built["failed"].items()), file=sys.stderr)
    return Outcome(payload, "\n".join(lines), code=2 if built is not None and built["failed"] else 0)


def _task_groups(texts, probe_y):
    """``--task-group 0,1,2`` options as lists of the probe set's own labels (matched by their text)."""
    if not texts:
        return None
    if probe_y is None:
        raise CLIError("--task-group needs a labelled probe set; give the market one with "
                       f"`{PROG} probe DATA` (labels included)")
    by_text = {str(label): label for label in dict.fromkeys(probe_y)}
    groups = []
    for text in texts:
        names = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [n for n in names if n not in by_text]
        if unknown:
            raise CLIError(f"--task-group {text!r}: {unknown} are not labels of the probe set; it has "
                           f"{sorted(by_text)[:20]}")
        groups.append([by_text[n] for n in names])
    return groups


def cmd_fit_proxy(args) -> Outcome:
    """Train the market's Know2Vec proxy on its learnwares' Know2Vec specifications and save it.

    --regime labelled (the default when the probe set has labels) learns from
    tasks cut from the labelled probe set, positives the most accurate
    learnwares; identity (the paper's) from each learnware's own data. The
    proxy stops early on held-out probe tasks and answers `search --know2vec`.
    """
    market, root = open_market(args)
    organizer = market.learnware_organizer
    if organizer.probe_X is None:
        raise CLIError(f"market {args.market!r} has no probe set; give it one with `{PROG} probe DATA` "
                       "before adding learnwares")
    groups = _task_groups(args.task_group, organizer.probe_y)
    options = {"seed": args.seed, "verbose": not args.quiet}
    if args.epochs is not None:
        options["epochs"] = args.epochs
    say(args, f"training the Know2Vec proxy of market {args.market!r} ...")
    start = time.perf_counter()
    proxy = market.fit_know2vec_proxy(regime=args.regime, task_groups=groups, **options)
    seconds = time.perf_counter() - start
    payload = {"market": args.market, "root": str(root), "training": proxy.training_,
               "learnwares": int(proxy.identity_head.out_features), "steps": len(proxy.losses_),
               "seconds": seconds, "final_loss": proxy.losses_[-1] if proxy.losses_ else None,
               "proxy": str(organizer.know2vec_path / "proxy")}
    text = (f"trained the Know2Vec proxy of market {args.market!r} on {payload['learnwares']} learnwares "
            f"({payload['training']} tasks, {payload['steps']} steps, {seconds:.1f} s); saved to {payload['proxy']}")
    return Outcome(payload, text)


def know2vec_search(args, data) -> dict:
    """Rank the learnwares of a market (or of a service, --server) for the user's labelled rows, which leave the
    machine only as per-class mean features."""
    from ..retrieval.tasks import Know2VecQuery

    start = time.perf_counter()
    query = Know2VecQuery.from_data(data.X, data.y)
    found = {"rows": len(data.X), "classes": list(query.classes), "features": int(query.means.shape[1])}
    if args.server:
        init_learnware(args.quiet)
        from ..market import user_semantic_spec
        from .service import found_learnwares, post_search

        _, singles = found_learnwares(post_search(args, query, user_semantic_spec(data.X.shape[1:])), args.server)
        market_name = args.server
    else:
        market, _ = open_market(args)  # quiets learnware's loggers before they are made
        if market.know2vec_searcher.proxy is None:
            raise CLIError(f"market {args.market!r} has no Know2Vec proxy; train one with `{PROG} fit-proxy`")
        from learnware.market import BaseUserInfo

        from ..market import user_semantic_spec

        info = BaseUserInfo(semantic_spec=user_semantic_spec(data.X.shape[1:]), stat_info={query.type: query})
        result = market.search_learnware(info, max_search_num=args.max)
        singles = single_results(result)
        market_name = args.market
    found["seconds"] = time.perf_counter() - start
    return {"market": market_name, "query": found, "singles": singles}


def know2vec_search_text(payload) -> str:
    query = payload["query"]
    lines = [f"Know2Vec query: {query['rows']} rows of {len(query['classes'])} classes, sent as their per-class "
             f"means; search took {query['seconds']:.2f} s", "learnwares, best first:"]
    lines += [f"  {i}. {s['id']}  score {'-' if s['score'] is None else format(s['score'], '.3f')}  {s['name']}"
              for i, s in enumerate(payload["singles"], 1)]
    return "\n".join(lines)


__all__ = ["cmd_fit_proxy", "cmd_probe", "know2vec_search", "know2vec_search_text"]
