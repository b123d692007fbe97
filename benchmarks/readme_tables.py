"""Render the README's reuse tables from a reuse run's ``results.json``.

The reuse bench's own ``results.md`` lists every method and specification size;
the README shows the main routes with the paired column, the weights and the
costs against RKME, and the paired comparison with RKME-median+SVM. This prints
those two tables, so the README's numbers are copied from one ``make bench`` run
by a program, not by hand:

    python benchmarks/readme_tables.py bench-out/reuse-digits/results.json
"""

import argparse
import json

from k2v_learnware.bench.report import check_results

ORDER = ("Oracle", "LANE", "LANE-paper", "RKME", "RKME-median", "RKME+SVM", "RKME-median+SVM", "MAX")
PAIRED = ("LANE", "LANE-paper")


def _g(x):
    return f"{x:.3g}"


def _cost(entry, key):
    value = entry.get(key)
    if value is None:
        return "-"
    ratio = entry.get("ratio_to_rkme", {}).get(key)
    return f"{_g(value)} ({_g(ratio)}x)" if ratio is not None else _g(value)


def method_table(doc) -> list[str]:
    counts = doc["mixture_counts"]
    lines = ["| method | " + " | ".join(f"m={m}" for m in counts) + f" | paired m={'/'.join(map(str, counts))} | "
             "weights L1 | spec s/learnware | search s/user | reuse s/user |",
             "|" + "---|" * (len(counts) + 6)]
    for name in ORDER:
        entry = doc["methods"].get(name)
        if entry is None:
            continue
        l1 = [v for v in (entry.get("weights_l1") or []) if v is not None]
        row = [f"**{name}**" if name == "LANE" else name]
        row += [f"{a:.3f}" for a in entry["accuracy"]]
        row.append("/".join(f"{a:.3f}" for a in entry["accuracy_jobselector_users"]))
        row += ["-" if not l1 else f"{sum(l1) / len(l1):.3f}", _cost(entry, "spec_seconds"),
                _cost(entry, "search_seconds"), _cost(entry, "reuse_seconds")]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def paired_table(doc) -> list[str]:
    counts = doc["mixture_counts"]
    lines = ["| paired with RKME-median+SVM | " + " | ".join(f"m={m}" for m in counts) + " |",
             "|" + "---|" * (len(counts) + 1)]
    for name in PAIRED:
        paired = doc["methods"][name]["paired"]
        cells = []
        for m in counts:
            q = paired.get(str(m))
            if q is None:
                cells.append("-")
                continue
            low, high = q["bootstrap_95"]
            cells.append(f"{q['mean_difference'] * 100:+.1f} pts, {q['wins']}/{q['losses']}, "
                         f"p={q['sign_test_p']:.2g}, [{low * 100:+.1f}, {high * 100:+.1f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a reuse run's results.json")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("benchmark") != "reuse":
            raise ValueError(f"not a reuse benchmark's results (benchmark: "
                             f"{doc.get('benchmark') if isinstance(doc, dict) else None!r})")
        check_results(doc)  # the shape every results.json has (report.py)
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read {args.results}: {exc}")
    print("\n".join(method_table(doc) + [""] + paired_table(doc)))
    print(f"\n{doc.get('users_per_count')} users per m, {doc.get('wall_seconds', 0):.0f} s: {doc.get('command')}")


if __name__ == "__main__":
    main()
