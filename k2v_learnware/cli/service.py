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


def check_server_url(url: str) -> str:
    """--server as an http(s) URL with a host, checked before any work (condensing takes a while).

    The URL is also prepared as ``requests`` will send it: ``urlsplit`` takes a
    host such as ``exa mple.com`` that ``requests`` refuses, which was found
    only after the condensation and reported as the server's fault (exit 1).
    """
    from urllib.parse import urlsplit

    import requests

    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
        requests.Request("POST", url).prepare()
    except (ValueError, requests.RequestException):
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise CLIError(f"--server {url}: give the market service's URL with its scheme and host, e.g. "
                       "http://127.0.0.1:8000")
    return url


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
    if not isinstance(reply, dict) or "code" not in reply:
        raise CLIError(f"--server {args.server} did not answer as a market service: {str(reply)[:200]}", code=1)
    if reply.get("code") != 0:
        raise CLIError(f"--server {args.server} refused the search: {reply.get('msg')}", code=1)
    if not isinstance(reply.get("data"), dict):
        raise CLIError(f"--server {args.server} answered without a search result: {str(reply)[:200]}", code=1)
    return reply["data"]


def found_learnwares(found: dict, server: str) -> tuple[dict | None, list[dict]]:
    """``(mixture, singles)`` of a service's search reply, in ``cmd_search``'s payload shape; a reply of another
    shape, or with a score or weight that is not a finite number, is the server's fault (exit 1) naming it."""
    import math

    def fault(what):
        return CLIError(f"--server {server} answered a malformed search result: {what}", code=1)

    def number(value, what):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fault(f"{what} {str(value)[:40]!r} is not a finite number")
        return float(value)

    def entries(key):
        value = found.get(key) or []
        if not isinstance(value, list) or not all(isinstance(e, dict) and isinstance(e.get("learnware_id"), str)
                                                  for e in value):
            raise fault(f"{key} must be a list of entries with a learnware_id")
        return value

    def named(entry):
        semantic = entry.get("semantic_specification")
        name = semantic.get("Name") if isinstance(semantic, dict) else None
        return {"id": entry["learnware_id"], "name": str(name.get("Values", "") if isinstance(name, dict) else "")}

    def score(entry):  # None when the server matched on semantics alone
        return None if entry.get("matching") is None else number(entry["matching"], "matching")

    multi, singles = entries("learnware_list_multi"), entries("learnware_list_single")
    mixture = None if not multi else {
        "score": score(multi[0]), "mmd2": None,
        "learnwares": [{**named(e), "weight": number(e.get("weight", 1.0 / len(multi)), "weight")} for e in multi]}
    return mixture, [{**named(e), "score": score(e)} for e in singles]


def search_server(args, data, spec, per_class: int, seconds_so_far: float) -> dict:
    """Send a LANE requirement to a market service; the reply in ``cmd_search``'s payload shape."""
    import time

    from ..market import user_info

    start = time.perf_counter()
    mixture, singles = found_learnwares(post_search(args, spec, user_info(spec).get_semantic_spec()), args.server)
    requirement = {"rows": len(data.X), "input_shape": list(data.X.shape[1:]), "points": per_class,
                   "iterations": spec.condensation["iterations"],
                   "seconds": seconds_so_far + time.perf_counter() - start}
    return {"market": args.server, "requirement": requirement, "mixture": mixture, "singles": singles}


__all__ = ["check_server_url", "cmd_serve", "cmd_token", "found_learnwares", "name_of", "post_search",
           "search_server"]
