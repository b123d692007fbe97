"""The market's storage commands: open a market, ``add`` learnwares to it, ``list`` what it holds.

Serves the market stage of the learnware paradigm: learnwares are submitted
to a market that checks them (a rejection says why) and keeps their files
under ``--root`` and their index in a database: SQLite under ``--root`` by
default, or the server ``--database-url`` names. Reading commands refuse to
create an empty market by a typo in a name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .common import PROG, CLIError, Outcome, existing_file, init_learnware


def open_market(args, must_exist: bool = True):
    """The market named by --market under --root; reading commands refuse to create an empty one.

    A market exists when its learnware files do (``<root>/<market>/learnware_pool``):
    they stay under --root whichever database holds the index, so the check
    holds with --database-url too, and a read command never opens (or makes
    the server create) a database for a mistyped market name. The URL itself
    is checked by :func:`~k2v_learnware.market.instantiate_market`, whose
    ``ValueError`` is reported as bad input.
    """
    root = market_root(args, must_exist)
    init_learnware(args.quiet)
    from ..market import instantiate_market

    return instantiate_market(args.market, root=root, database_url=args.database_url), root


def market_root(args, must_exist: bool = True) -> Path:
    """--root, or ``learnware``'s market root; with ``must_exist``, refused unless the market's files are there.

    A root that exists but is not a folder is refused here, naming it: the
    market would otherwise fail creating its folders under it, reported as an
    unexpected ``[Errno 17] File exists`` (exit 1) by every command that writes.
    """
    from ..market.listing import default_market_root

    if args.root is not None and not str(args.root).strip():  # Path("") is the working folder, or fell back
        raise CLIError("--root is empty; give the folder that holds (or will hold) the market")
    root = Path(args.root).expanduser().resolve() if args.root else default_market_root()
    if root.exists() and not root.is_dir():
        raise CLIError(f"--root {root} is not a folder; give the folder that holds (or will hold) the market")
    if must_exist and not (root / args.market / "learnware_pool").is_dir():
        same_database = " --database-url URL" if args.database_url is not None else ""
        raise CLIError(f"no market {args.market!r} under {root}; create it with "
                       f"`{PROG} add LW.zip --market {args.market} --root {root}{same_database}`")
    return root


def name_of(learnware) -> str:
    """A learnware's name from its semantic specification; empty when it has none (names are optional)."""
    try:
        return str(learnware.get_specification().get_semantic_spec()["Name"]["Values"])
    except (KeyError, TypeError, AttributeError):
        return ""


def single_results(result) -> list:
    """A search result's single learnwares, best first, as the CLI prints and writes them."""
    return [{"id": item.learnware.id, "name": name_of(item.learnware), "score": float(item.score)}
            for item in result.get_single_results()]


def cmd_add(args) -> Outcome:
    """Submit learnware zips to a market; each is checked, and a rejection says why."""
    import zipfile

    paths = [existing_file(p, "learnware zip") for p in args.zips]
    for p in paths:
        if not zipfile.is_zipfile(p):
            raise CLIError(f"{p} is not a zip file")
    market, root = open_market(args, must_exist=False)
    from .._progress import progress

    from ..packaging import read_semantic_spec

    added, rejected = [], []
    status_names = {1: "usable", 0: "nonusable", -1: "invalid"}
    for path in progress(paths, verbose=not args.quiet, desc="adding learnwares", unit="lw", leave=False):
        # one zip's failure, whatever zipfile or the market raises, is that zip's rejection: the batch goes on,
        # and the report says what was added (a script retrying the batch must not add those twice)
        try:
            semantic = read_semantic_spec(path)
            learnware_id, status = market.add_learnware(str(path), semantic)
        except Exception as exc:  # noqa: BLE001 - recorded with its type, never lost
            reason = str(exc) if isinstance(exc, (ValueError, KeyError)) else f"{type(exc).__name__}: {exc}"
            rejected.append({"zip": str(path), "reason": reason})
            continue
        if learnware_id is None:
            rejected.append({"zip": str(path), "reason": market.rejection_message or "rejected by the market"})
        else:
            added.append({"zip": str(path), "id": learnware_id, "status": status_names.get(status, str(status)),
                          "name": str(semantic.get("Name", {}).get("Values", ""))})
    payload = {"market": args.market, "root": str(root), "added": added, "rejected": rejected,
               "size": len(market)}
    lines = [f"added {a['zip']} as {a['id']} ({a['status']})" for a in added]
    lines += [f"rejected {r['zip']}: {r['reason']}" for r in rejected]
    lines.append(f"market {args.market!r} under {root} holds {len(market)} learnware(s)")
    if rejected:
        print(f"{PROG}: error: {len(rejected)} learnware(s) rejected: "
              + "; ".join(f"{r['zip']}: {r['reason']}" for r in rejected), file=sys.stderr)
    return Outcome(payload, "\n".join(lines), code=2 if rejected else 0)


def cmd_list(args) -> Outcome:
    """The learnwares of a market: id, name, specification types, input shape and classes.

    Read from the market's index and files (:mod:`k2v_learnware.market.listing`),
    without importing ``learnware`` or torch: a listing answers in well under a second.
    """
    from ..market.listing import list_market
    from ..market.database import normalise_url
    from ..market.store import check_market_id

    check_market_id(args.market)
    if args.database_url is not None:
        normalise_url(args.database_url)  # a clear ValueError before anything is opened
    root = market_root(args)
    rows = [vars(lw) for lw in list_market(args.market, root, args.database_url)]
    payload = {"market": args.market, "root": str(root), "learnwares": rows}
    lines = [f"market {args.market!r} under {root}: {len(rows)} learnware(s)"]
    lines += [f"  {r['id']}  {r['name'] or '-'}  [{', '.join(r['specifications'])}]"
              + (f"  input {tuple(r['input_shape'])}, classes {r['classes']}" if r["input_shape"] else "")
              for r in rows]
    return Outcome(payload, "\n".join(lines))
