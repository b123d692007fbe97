"""The market-service commands: ``serve`` a market over HTTP, ``token add`` an account, search a server.

Serves the market stage as a service: developers upload and users search over
the HTTP API the stock ``learnware`` client speaks (:mod:`k2v_learnware.service`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .common import CLIError, Outcome, init_learnware, say
from .market import market_root, name_of, open_market


def cmd_serve(args) -> Outcome:
    """Serve a market over HTTP for the stock LearnwareClient (Ctrl-C stops it)."""
    from ..service.server import ServiceStartError, serve
    from ..service.settings import ServiceSettings

    root = market_root(args, must_exist=False)  # --root, $K2V_MARKET_ROOT or learnware's default, as elsewhere
    init_learnware(args.quiet)
    settings = ServiceSettings(root=root, market=args.market, database_url=args.database_url,
                               max_upload_bytes=args.max_upload_mb * 1024 * 1024,
                               max_unzipped_bytes=5 * args.max_upload_mb * 1024 * 1024,
                               submission_timeout_s=args.submission_timeout,
                               submission_memory_bytes=args.submission_memory_mb * 1024 * 1024)
    try:
        serve(settings, host=args.host, port=args.port, workers=args.workers,
              log_level="warning" if args.quiet else "info",
              on_ready=lambda url: say(args, f"serving market {args.market!r} under {root} on {url} with "
                                             f"{args.workers} worker(s)"))
    except ServiceStartError as err:
        raise CLIError(str(err), code=1) from None
    return Outcome({"served": args.market}, "server stopped")


def cmd_token(args) -> Outcome:
    """Create a developer account (or give it a new token) and print the token as the last line."""
    from ..service.accounts import Accounts, check_email

    check_email(args.email)
    market, _ = open_market(args, must_exist=False)
    token = Accounts(market.learnware_organizer.store.engine).issue_token(args.email)
    return Outcome({"email": args.email, "token": token},
                   f"account {args.email} of market {args.market!r}; its token (shown once):\n{token}")


def post_search(args, spec, semantic_spec: dict) -> dict:
    """Send a user's specification (anything with ``save``: a LANE requirement, a Know2Vec query) and semantic
    specification to the market service at --server, as the stock client does; the reply's ``data``."""
    import requests

    with tempfile.TemporaryDirectory(prefix="k2v_search_") as folder:
        path = Path(folder) / "requirement.json"
        spec.save(path)
        url = args.server.rstrip("/") + "/engine/search_learnware"
        try:
            with open(path, "rb") as handle:
                response = requests.post(url, files={"statistical_specification": handle}, timeout=600, data={
                    "semantic_specification": json.dumps(semantic_spec), "limit": args.max, "page": 0})
            reply = response.json()
        except (requests.RequestException, ValueError) as err:
            raise CLIError(f"--server {args.server}: no answer from a market service ({err})", code=1) from None
    if reply.get("code") != 0:
        raise CLIError(f"--server {args.server} refused the search: {reply.get('msg')}", code=1)
    return reply["data"]


def found_learnwares(found: dict) -> tuple[dict | None, list[dict]]:
    """``(mixture, singles)`` of a service's search reply, in ``cmd_search``'s payload shape."""
    def named(entry):
        values = (entry.get("semantic_specification") or {}).get("Name", {}).get("Values", "")
        return {"id": entry["learnware_id"], "name": str(values)}

    def score(entry):  # None when the server matched on semantics alone
        return None if entry.get("matching") is None else float(entry["matching"])

    multi = found.get("learnware_list_multi") or []
    mixture = None if not multi else {
        "score": score(multi[0]), "mmd2": None,
        "learnwares": [{**named(e), "weight": float(e.get("weight", 1.0 / len(multi)))} for e in multi]}
    return mixture, [{**named(e), "score": score(e)} for e in found.get("learnware_list_single", [])]


def search_server(args, data, spec, per_class: int, seconds_so_far: float) -> dict:
    """Send a LANE requirement to a market service; the reply in ``cmd_search``'s payload shape."""
    import time

    from ..market import user_info

    start = time.perf_counter()
    mixture, singles = found_learnwares(post_search(args, spec, user_info(spec).get_semantic_spec()))
    requirement = {"rows": len(data.X), "input_shape": list(data.X.shape[1:]), "points": per_class,
                   "iterations": spec.condensation["iterations"],
                   "seconds": seconds_so_far + time.perf_counter() - start}
    return {"market": args.server, "requirement": requirement, "mixture": mixture, "singles": singles}


__all__ = ["cmd_serve", "cmd_token", "found_learnwares", "name_of", "post_search", "search_server"]
