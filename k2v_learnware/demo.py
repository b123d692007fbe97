"""The main job: a demo learnware market on scikit-learn's digits, end to end.

Five developers each hold a 2-class task of digits ({0,1}, {2,3}, ...), train an
SVM, condense their data into a LANE specification and submit a learnware. A user
whose unlabelled data mixes two tasks 70/30 builds a LANE specification of it,
searches the market, and reuses what it returns. Printed: the weights found
against the truth, and the reuse accuracy against every single learnware and the
oracle (each row predicted by its true task's model).

Run with ``python -m k2v_learnware.demo [--root DIR] [--quiet]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

TASKS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
USER_MIX = {0: 0.7, 2: 0.3}  # task index -> share of the user's rows


def build_market(root, quiet=True, seed=0):
    """Train, specify, pack and submit one learnware per task; return the market and the test data."""
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    from k2v_learnware import generate_lane_spec, pack_learnware
    from k2v_learnware.datasets import load_digits
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.packaging import read_semantic_spec

    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=seed, stratify=y)
    market = instantiate_market("demo", rebuild=True, root=root)
    models = []
    for t, classes in enumerate(TASKS):
        rows = np.isin(ytr, classes)
        model = SVC().fit(Xtr[rows], ytr[rows])
        spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=10, seed=seed, verbose=not quiet)
        zip_path = pack_learnware(model, spec, Path(root) / f"task{t}.zip", name=f"digits {classes}",
                                  overwrite=True)
        learnware_id, status = market.add_learnware(str(zip_path), read_semantic_spec(zip_path))
        if learnware_id is None:
            raise RuntimeError(f"task {t} was rejected: {market.rejection_message}")
        models.append((learnware_id, model))
    return market, models, (Xte, yte)


def make_user(Xte, yte, n=200, seed=0):
    """User rows drawn from the tasks in USER_MIX; returns X, true labels and each row's task."""
    rng = np.random.default_rng(seed)
    X, y, task = [], [], []
    for t, share in USER_MIX.items():
        pool = np.flatnonzero(np.isin(yte, TASKS[t]))
        rows = rng.choice(pool, size=int(round(n * share)), replace=False)
        X.append(Xte[rows])
        y.append(yte[rows])
        task.append(np.full(len(rows), t))
    return np.concatenate(X), np.concatenate(y), np.concatenate(task)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="market folder (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    import logging
    import warnings

    import learnware

    learnware.init(verbose=False, logging_level=logging.WARNING)  # before the market modules create loggers
    warnings.filterwarnings("ignore", message="Converted matrix .* to scipy.sparse")  # qpsolvers, every solve

    from k2v_learnware import generate_lane_spec
    from k2v_learnware.market import user_info
    from k2v_learnware.reuse import LANEClassRouterReuser

    with tempfile.TemporaryDirectory(prefix="k2v-demo-") as tmp:
        root = args.root or tmp
        t0 = time.perf_counter()
        market, models, (Xte, yte) = build_market(root, quiet=args.quiet, seed=args.seed)
        print(f"market: {len(market)} learnwares submitted in {time.perf_counter() - t0:.1f} s "
              f"(digits tasks {TASKS}), stored under {root}"
              + ("" if args.root else " (removed at the end; --root DIR keeps it)"))

        X, y, task = make_user(Xte, yte, seed=args.seed)
        t1 = time.perf_counter()
        user_spec = generate_lane_spec(X, None, num_per_class=50, seed=args.seed, verbose=not args.quiet)
        result = market.search_learnware(user_info(user_spec))
        search_seconds = time.perf_counter() - t1
        mixture = result.get_multiple_results()[0]
        print(f"user: {len(X)} unlabelled rows, {int(USER_MIX[0] * 100)}% task {TASKS[0]} + "
              f"{int(USER_MIX[2] * 100)}% task {TASKS[2]}; spec + search {search_seconds:.1f} s")
        print("single results (best first):",
              ", ".join(f"{it.learnware.id} {it.score:.3f}" for it in result.get_single_results()))
        truth = {models[t][0]: share for t, share in USER_MIX.items()}
        all_weights = dict(zip([m[0] for m in models], mixture.mixture.learnware_weights))
        print("mixture weights, found vs true:")
        for lid, w in all_weights.items():
            print(f"  learnware {lid}: {w:.3f}  (true {truth.get(lid, 0.0):.1f})")
        l1 = sum(abs(all_weights[lid] - truth.get(lid, 0.0)) for lid in all_weights)
        print(f"  L1 error {l1:.3f}")

        t2 = time.perf_counter()
        reuser = LANEClassRouterReuser(mixture.learnwares, mixture.weights)
        pred = reuser.predict(X)
        reuse_seconds = time.perf_counter() - t2
        refined = dict(zip([lw.id for lw in mixture.learnwares], reuser.weights_))
        refined_l1 = sum(abs(refined.get(lid, 0.0) - truth.get(lid, 0.0)) for lid in all_weights)
        print("weights re-estimated from the rows by the reuser (label-shift EM): "
              + ", ".join(f"{lid} {w:.3f}" for lid, w in refined.items()) + f"; L1 error {refined_l1:.3f}")
        oracle = np.concatenate([models[t][1].predict(X[task == t]) for t in USER_MIX])
        print(f"reuse accuracy: LANE {np.mean(pred == y):.3f} ({reuse_seconds:.2f} s), "
              f"oracle {np.mean(oracle == y):.3f}")
        for lid, model in models:
            print(f"  learnware {lid} alone: {np.mean(model.predict(X) == y):.3f}")
        print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
