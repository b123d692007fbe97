"""One developer process for the concurrency tests: open a market, wait for the start signal, add zips.

Run as ``python -m tests._market_adder ROOT MARKET_ID DATABASE_URL|- READY GO OUT ZIP...``;
writes ``{zip: [learnware_id, status, rejection_message]}`` as JSON to OUT.
"""

import json
import sys
import time
from pathlib import Path


def main(argv) -> int:
    root, market_id, database_url, ready, go, out, *zips = argv
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.packaging import read_semantic_spec

    market = instantiate_market(market_id, root=root, database_url=None if database_url == "-" else database_url)
    Path(ready).touch()
    deadline = time.time() + 300
    while not Path(go).exists():  # every process adds at the same moment
        if time.time() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.01)
    results = {}
    for zip_path in zips:
        learnware_id, status = market.add_learnware(zip_path, read_semantic_spec(zip_path))
        results[zip_path] = [learnware_id, status, market.rejection_message]
    Path(out).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
