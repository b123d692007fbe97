"""Retrieval results of several seeds side by side: per-seed R@1 of every method, mean ± sd, a plot.

    python benchmarks/retrieval_seeds.py bench-out/retrieval bench-out/retrieval-seed-[1-4] --out OUT_DIR

Each folder holds the results.json of ``python -m k2v_learnware.bench retrieval --seed N``; the runs must differ
only in their seed. Writes summary.json, summary.md and r1-over-seeds.png to --out and prints the table.
"""

import argparse
import sys

from k2v_learnware.bench.seed_summary import write_seed_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="result folders of runs that differ only in --seed")
    parser.add_argument("--out", required=True, help="folder for summary.json, summary.md and the plot")
    args = parser.parse_args()
    try:
        paths = write_seed_summary(args.runs, args.out)
    except (ValueError, TypeError) as error:
        print(f"retrieval_seeds: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(paths[1].read_text(), end="")


if __name__ == "__main__":
    main()
