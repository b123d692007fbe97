"""Our reuser against learnware's JobSelectorReuser (default settings), same learnwares, same users.

Five digits learnwares (2-class tasks, SVMs), each packed with a LANE and an RKME
table specification, in one k2v market. Each user mixes two random tasks with a
random proportion. For every user both reusers see only the learnwares and the
user's unlabelled rows, and each works out its own mixture weights from them.
Prints time and accuracy per user and the ratios. Usage:
``python benchmarks/reuse_vs_jobselector.py [--users N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--out", default="bench-out/reuse-vs-jobselector")
    args = parser.parse_args(argv)

    import logging

    import learnware

    learnware.init(logging_level=logging.WARNING)
    from learnware.reuse import JobSelectorReuser
    from learnware.specification import generate_rkme_table_spec
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    from k2v_learnware import generate_lane_spec, pack_learnware
    from k2v_learnware.datasets import load_digits
    from k2v_learnware.demo import TASKS
    from k2v_learnware.packaging import read_semantic_spec
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.reuse import LANEJobSelectorReuser

    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        market = instantiate_market("bench", rebuild=True, root=root)
        ids = []
        for t, classes in enumerate(TASKS):
            keep = np.isin(ytr, classes)
            model = SVC().fit(Xtr[keep], ytr[keep])
            specs = [generate_lane_spec(Xtr[keep], ytr[keep], verbose=False),
                     generate_rkme_table_spec(Xtr[keep], cuda_idx=-1)]
            path = pack_learnware(model, specs, Path(root) / f"t{t}.zip")
            learnware_id, status = market.add_learnware(str(path), read_semantic_spec(path))
            assert status == 1, market.rejection_message
            ids.append(learnware_id)
        learnwares = market.get_learnware_by_ids(ids)
        rng = np.random.default_rng(0)
        for u in range(args.users):
            pair = rng.choice(len(TASKS), size=2, replace=False)
            share = rng.uniform(0.2, 0.8)
            counts = [int(round(args.rows * share)), args.rows - int(round(args.rows * share))]
            picks = [rng.choice(np.flatnonzero(np.isin(yte, TASKS[t])), size=n, replace=False)
                     for t, n in zip(pair, counts)]
            Xu, yu = Xte[np.concatenate(picks)], yte[np.concatenate(picks)]
            result = {"user": u, "tasks": pair.tolist(), "share": share}
            for name, reuser in (("LANEJobSelectorReuser", LANEJobSelectorReuser(learnwares)),
                                 ("JobSelectorReuser", JobSelectorReuser(learnware_list=learnwares))):
                t0 = time.perf_counter()
                pred = np.asarray(reuser.predict(Xu)).reshape(-1)
                result[name] = {"seconds": time.perf_counter() - t0, "accuracy": float(np.mean(pred == yu))}
            r = result
            print(f"user {u} tasks {pair.tolist()} share {share:.2f}: ours {r['LANEJobSelectorReuser']['accuracy']:.3f} "
                  f"in {r['LANEJobSelectorReuser']['seconds']:.2f} s; JobSelector {r['JobSelectorReuser']['accuracy']:.3f} "
                  f"in {r['JobSelectorReuser']['seconds']:.1f} s", flush=True)
            rows.append(result)
    ours = np.mean([r["LANEJobSelectorReuser"]["seconds"] for r in rows])
    theirs = np.mean([r["JobSelectorReuser"]["seconds"] for r in rows])
    acc_ours = np.mean([r["LANEJobSelectorReuser"]["accuracy"] for r in rows])
    acc_theirs = np.mean([r["JobSelectorReuser"]["accuracy"] for r in rows])
    summary = {"users": rows, "seconds_per_user": {"ours": ours, "JobSelectorReuser": theirs},
               "speedup": theirs / ours, "accuracy": {"ours": acc_ours, "JobSelectorReuser": acc_theirs}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"mean per user: ours {ours:.3f} s, JobSelectorReuser {theirs:.1f} s -> {theirs / ours:.0f}x faster; "
          f"accuracy ours {acc_ours:.3f} vs {acc_theirs:.3f}")


if __name__ == "__main__":
    main()
