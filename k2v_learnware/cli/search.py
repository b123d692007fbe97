"""The user's commands: ``search`` a market with their data, ``reuse`` what it found to predict.

Serves the search and reuse stages of the learnware paradigm: the user's
rows are condensed into a LANE requirement (their data never leaves the
machine as such), the market answers with mixture weights over learnwares
(Eq. 9) and single learnwares ranked, and ``reuse`` predicts every row with
the learnware the job selector assigns it to.
"""

from __future__ import annotations

from pathlib import Path

from .common import PROG, CLIError, Outcome, say, writable_output
from .data import Data, data_from_args
from .market import name_of, open_market, single_results

PREDICTION_SUFFIXES = (".npy", ".csv")


def _condense(args, data: Data):
    from ..specification.lane import generate_lane_spec

    per_class = min(args.per_class, len(data.X))
    say(args, f"condensing {len(data.X)} rows into a {per_class}-point requirement ...")
    return generate_lane_spec(data.X, None, num_per_class=per_class, iterations=args.iterations,
                              seed=args.seed, verbose=not args.quiet), per_class


def _search(args, data: Data, market):
    """Condense the user's rows into a LANE requirement and search the market with it."""
    import time

    import numpy as np

    from ..market import user_info
    from ..specification.lane import lane_spec_of

    learnwares = market.get_learnwares()
    if not learnwares:
        raise CLIError(f"market {args.market!r} holds no learnwares; add some with `{PROG} add`")
    sizes = sorted({int(np.prod(s.input_shape)) for s in map(lane_spec_of, learnwares) if s is not None})
    if not sizes:
        raise CLIError(f"no learnware in market {args.market!r} carries a LANE specification")
    size = int(np.prod(data.X.shape[1:]))
    if size not in sizes:
        raise CLIError(f"{data.path} has {size} features per row, but the learnwares in market "
                       f"{args.market!r} take {', '.join(map(str, sizes))}")
    start = time.perf_counter()
    spec, per_class = _condense(args, data)
    try:
        result = market.search_learnware(user_info(spec), max_search_num=args.max)
    except RuntimeError as err:  # the mixture-weight QP found no solution: the rows, not the program, are at fault
        raise CLIError(f"market {args.market!r} could not be searched with the requirement condensed from "
                       f"{data.path} (are its rows all alike, or its values extreme?): {err}") from None
    seconds = time.perf_counter() - start
    singles = single_results(result)
    multiple = result.get_multiple_results()
    mixture = None
    if multiple:
        item = multiple[0]
        weights = getattr(item, "weights", None) or [1.0 / len(item.learnwares)] * len(item.learnwares)
        mixture = {
            "score": float(item.score),
            "mmd2": float(item.mixture.mmd2) if getattr(item, "mixture", None) is not None else None,
            "learnwares": [{"id": lw.id, "name": name_of(lw), "weight": float(w)}
                           for lw, w in zip(item.learnwares, weights)],
        }
    requirement = {"rows": len(data.X), "input_shape": list(data.X.shape[1:]), "points": per_class,
                   "iterations": spec.condensation["iterations"], "seconds": seconds}
    return {"market": args.market, "requirement": requirement, "mixture": mixture, "singles": singles}, result


def _score(value) -> str:
    return "-" if value is None else f"{value:.3f}"  # a semantic-only match has no score


def _search_text(payload) -> list[str]:
    """The human rendering of a search payload; ``reuse`` prints it too, before its own lines."""
    req = payload["requirement"]
    lines = [f"requirement: {req['rows']} rows of shape {tuple(req['input_shape'])}, condensed to "
             f"{req['points']} points; search took {req['seconds']:.1f} s"]
    mixture = payload["mixture"]
    if mixture:
        lines.append(f"mixture (score {_score(mixture['score'])}):")
        lines += [f"  {m['id']}  weight {m['weight']:.3f}  {m['name']}" for m in mixture["learnwares"]]
    else:
        lines.append("mixture: none (no learnware reached the weight threshold)")
    lines.append("single learnwares, best first:")
    lines += [f"  {i}. {s['id']}  score {_score(s['score'])}  {s['name']}" for i, s in enumerate(payload["singles"], 1)]
    return lines


def cmd_search(args) -> Outcome:
    """Search a market with a user's data: LANE mixture weights (Eq. 9) and single learnwares ranked.

    With --know2vec the labelled rows are sent as per-class means only, and the
    market's Know2Vec proxy ranks its learnwares (see `fit-proxy`).
    """
    if args.server is not None:  # an empty --server (an unset variable) is refused, not a local search
        from .service import check_server_url

        check_server_url(args.server)  # before the data is read and condensed
    if args.know2vec:
        from .know2vec import know2vec_search, know2vec_search_text

        payload = know2vec_search(args, data_from_args(args, need_labels=True))
        return Outcome(payload, know2vec_search_text(payload))
    data = data_from_args(args)
    if args.server:
        import time

        from .service import search_server

        start = time.perf_counter()
        spec, per_class = _condense(args, data)
        payload = search_server(args, data, spec, per_class, time.perf_counter() - start)
    else:
        market, _ = open_market(args)
        payload, _ = _search(args, data, market)
    return Outcome(payload, "\n".join(_search_text(payload)))


def cmd_reuse(args) -> Outcome:
    """Search, then predict every user row with the learnwares found: by default the class router (label-shift
    weights from the rows and a selector over classes), or with --reuser job-selector the LANE paper's selector
    over learnwares."""
    import time

    import numpy as np

    output = Path(args.output)
    if output.suffix.lower() not in PREDICTION_SUFFIXES:
        raise CLIError(f"-o {output}: predictions are written as .npy or .csv")
    writable_output(output, "-o")
    data = data_from_args(args)
    market, _ = open_market(args)
    payload, result = _search(args, data, market)
    from ..reuse import LANEClassRouterReuser, LANEJobSelectorReuser

    multiple = result.get_multiple_results()
    if multiple:
        learnwares, weights = multiple[0].learnwares, getattr(multiple[0], "weights", None) or None
    elif result.get_single_results():
        learnwares, weights = [result.get_single_results()[0].learnware], [1.0]
    else:
        raise CLIError(f"the search of market {args.market!r} returned no learnware to reuse", code=1)
    say(args, f"reusing {len(learnwares)} learnware(s) ...")
    start = time.perf_counter()
    reuser_class = LANEClassRouterReuser if args.reuser == "class-router" else LANEJobSelectorReuser
    reuser = reuser_class(learnwares, weights, random_state=args.seed)
    predictions = reuser.predict(data.X)
    assignment = reuser.job_assignment(data.X)
    seconds = time.perf_counter() - start
    if predictions.dtype == object:
        predictions = predictions.astype(str)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".npy":
        np.save(output, predictions, allow_pickle=False)
    else:
        np.savetxt(output, predictions.reshape(len(predictions), -1), fmt="%s", delimiter=",")
    rows_per = {learnwares[i].id: int(np.sum(assignment == i)) for i in range(len(learnwares))}
    accuracy = None
    if data.y is not None:
        accuracy = float(np.mean(predictions.reshape(len(predictions)) == np.asarray(data.y)))
    payload.update({"output": str(output), "rows": len(predictions), "rows_per_learnware": rows_per,
                    "accuracy": accuracy, "reuse_seconds": seconds})
    lines = _search_text(payload)
    lines.append(f"wrote {len(predictions)} predictions to {output} ({seconds:.2f} s); rows per learnware: "
                 + ", ".join(f"{k} {v}" for k, v in rows_per.items()))
    if accuracy is not None:
        lines.append(f"accuracy against the labels of {data.path}: {accuracy:.3f}")
    return Outcome(payload, "\n".join(lines))
