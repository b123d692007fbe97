"""LANE's class-router reuse against RKME-median+SVM, paired over the reuse benchmark's users (issue 15).

Same tasks, models, specifications and users as ``python -m k2v_learnware.bench
reuse``. For each setting of :class:`~k2v_learnware.reuse.LANEClassRouterReuser`
(the logistic regression's ``C``, with or without BIC pruning, the factor on
BIC's penalty when two learnwares remain), per mixture
count: LANE's and RKME-median+SVM's mean accuracy, the paired difference with
wins/losses, and both weight L1 errors. ``--paper`` adds the paper's route on the
same condensed points (Eq. 9 weights, mimic data from the points' Gaussians,
LANEJobSelectorReuser). This is how the defaults in ``reuse/label_shift.py`` were
chosen (README, "Choosing the defaults").

    OMP_NUM_THREADS=1 python benchmarks/lane_label_shift.py digits --C 0.3,1,3 [--no-prune] [--paper]
    OMP_NUM_THREADS=1 python benchmarks/lane_label_shift.py fashion-mnist --C 2 --single-factor 1,1.5 \
        --users 50 --user-seed 1

``--user-seed`` draws other users than the bench's (seed 0): a default chosen on
the bench's users is checked on users it was not chosen on.
"""

import argparse
import contextlib
import functools
import logging
from unittest import mock

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("digits", "fashion-mnist", "bbc-news"))
    parser.add_argument("--users", type=int, default=20, help="users per mixture count")
    parser.add_argument("--C", default="3", help="comma-separated values of the logistic regression's C")
    parser.add_argument("--no-prune", action="store_true", help="also run each C without the BIC step")
    parser.add_argument("--paper", action="store_true", help="also run the paper's route")
    parser.add_argument("--single-factor", default=None,
                        help="comma-separated factors on BIC's penalty when two learnwares remain "
                             "(default: the package's)")
    parser.add_argument("--user-seed", type=int, default=0, help="seed of the users' draw (the bench's: 0)")
    args = parser.parse_args()
    import learnware

    learnware.init(logging_level=logging.WARNING)
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.bench import rkme_baselines as rb
    from k2v_learnware.bench.reuse_parties import draw_users, in_memory_learnware, train_developers, without_mixtures
    from k2v_learnware.bench.settings import load_setting
    from k2v_learnware.reuse import LANEClassRouterReuser, LANEJobSelectorReuser, label_shift
    from k2v_learnware.search import mixture_weights

    bic_prune = label_shift.prune_by_bic
    setting = load_setting(args.dataset, quick=False, seed=0, verbose=False)
    T, dim = len(setting.tasks), int(np.prod(setting.X_train.shape[1:]))
    models, data = train_developers(setting)
    specs = [generate_lane_spec(X, y, num_per_class=10, seed=0, verbose=False) for X, y in data]
    learnwares = [in_memory_learnware(f"lw{t}", models[t], dim, {"LANESpecification": s})
                  for t, s in enumerate(specs)]
    plain = [without_mixtures(s) for s in specs]
    paper_learnwares = [in_memory_learnware(f"paper{t}", models[t], dim, {"LANESpecification": s})
                        for t, s in enumerate(plain)]
    gamma = float(np.median([rb.median_gamma(X, seed=0) for X, _ in data]))
    rkme = [rb.rkme_spec(X, gamma, 100) for X, _ in data]

    factors = [None] if args.single_factor is None else [float(f) for f in args.single_factor.split(",")]
    variants = [(float(c), True, f) for c in args.C.split(",") for f in factors]
    if args.no_prune:
        variants += [(float(c), False, None) for c in args.C.split(",")]
    results = {}  # name -> list of (m, accuracy, weight L1)
    for m, rows, _, proportions in draw_users(setting, list(range(1, T + 1)), args.users, args.user_seed):
        X, y = setting.X_test[rows], setting.y_test[rows]
        w = rb.rkme_weights(rb.rkme_spec(X, gamma, reduce=False), rkme)
        results.setdefault("RKME-median+SVM", []).append(
            (m, np.mean(rb.RKMESVMReuser(models, rkme, w).predict(X) == y), np.abs(w - proportions).sum()))
        start = mixture_weights(X, specs).learnware_weights
        for C, prune, factor in variants:
            name = f"LANE C={C:g}" + ("" if prune else " no-prune") + ("" if factor is None else f" last x{factor:g}")
            if not prune:
                patched = mock.patch.object(label_shift, "prune_by_bic", lambda P, pi, owner: (pi, []))
            elif factor is not None:
                patched = mock.patch.object(label_shift, "prune_by_bic",
                                            functools.partial(bic_prune, single_factor=factor))
            else:
                patched = contextlib.nullcontext()
            with patched:
                reuser = LANEClassRouterReuser(learnwares, start, C=C, random_state=0)
                accuracy = np.mean(reuser.predict(X) == y)
            results.setdefault(name, []).append((m, accuracy, np.abs(reuser.weights_ - proportions).sum()))
        if args.paper:
            found = mixture_weights(X, plain).learnware_weights
            reuser = LANEJobSelectorReuser(paper_learnwares, found, random_state=0)
            results.setdefault("LANE-paper", []).append(
                (m, np.mean(reuser.predict(X) == y), np.abs(found - proportions).sum()))

    anchor = np.array(results["RKME-median+SVM"])
    counts = anchor[:, 0]
    for name, values in results.items():
        values = np.array(values)
        diff = values[:, 1] - anchor[:, 1]
        cells = [f"m={m:g} {values[counts == m, 1].mean():.3f} {diff[counts == m].mean():+.3f}"
                 f"({(diff[counts == m] > 0).sum()}/{(diff[counts == m] < 0).sum()})" for m in np.unique(counts)]
        print(f"{args.dataset} {name:24s} " + " ".join(cells) + f" | weight L1 {values[:, 2].mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
