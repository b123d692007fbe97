"""How many condensation steps LANE needs, and what a specification costs against RKME's (issue 15).

Same tasks, models and users as ``python -m k2v_learnware.bench reuse``. For each
number of condensation iterations: the seconds to build each developer's LANE
specification (median over developers) and RKME-median's (100 points, timed in
the same run), their ratio; then, per mixture count, over the same users, the
weight L1 of the search (Eq. 9 on the condensed points), and the class router's
accuracy and weight L1 (LANE's reuse), with the paired difference against the
first setting listed. The search reads the class means of the developer's rows
that a spec carries (format 4, the default); ``points' means L1`` is the same
search on the condensed points' means (the paper's search, formats 1-3).
``--mixture-means`` adds, per setting, the search's weight L1 when each class
is stood for by 200 samples of its class mixture instead of the condensed
points (what the search could read without condensing at all).

    OMP_NUM_THREADS=1 python benchmarks/lane_spec_time.py digits --iterations 200@0.05,50,30@0.1,20

(``N@LR``: N steps at Adam learning rate LR; without ``@``, the package's default rate.)
"""

import argparse
import copy
import logging
import time

import numpy as np


def _median_seconds(build, items, repeats: int = 3):
    """Each item's median over ``repeats`` builds; returns (results of the last round, median over items)."""
    per_item, results = [], []
    for item in items:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = build(item)
            times.append(time.perf_counter() - start)
        per_item.append(np.median(times)), results.append(result)
    return results, float(np.median(per_item))


def main():
    from k2v_learnware.bench.settings import DATASETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("--users", type=int, default=20, help="users per mixture count")
    parser.add_argument("--mixture-means", action="store_true",
                        help="also: the search's weight L1 with mixture samples standing for each class")
    parser.add_argument("--iterations", default="200@0.05,30@0.1",
                        help="comma-separated condensation step counts, each optionally @ a learning rate")
    args = parser.parse_args()
    import learnware

    learnware.init(logging_level=logging.WARNING)
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.bench import rkme_baselines as rb
    from k2v_learnware.bench.reuse_parties import draw_users, in_memory_learnware, train_developers
    from k2v_learnware.bench.settings import load_setting
    from k2v_learnware.reuse import LANEClassRouterReuser
    from k2v_learnware.search import mixture_weights

    setting = load_setting(args.dataset, quick=False, seed=0, verbose=False)
    T, dim = len(setting.tasks), int(np.prod(setting.X_train.shape[1:]))
    models, data = train_developers(setting)
    generate_lane_spec(*data[0], num_per_class=10, iterations=5, seed=0, verbose=False)  # warm torch up
    gamma = float(np.median([rb.median_gamma(X, seed=0) for X, _ in data]))
    _, rkme_seconds = _median_seconds(lambda d: rb.rkme_spec(d[0], gamma, 100), data)
    users = list(draw_users(setting, list(range(1, T + 1)), args.users, 0))

    reference = None
    for setting_text in args.iterations.split(","):
        iterations, _, lr = setting_text.partition("@")
        iterations, lr = int(iterations), ({"lr": float(lr)} if lr else {})
        specs, seconds = _median_seconds(
            lambda d: generate_lane_spec(d[0], d[1], num_per_class=10, iterations=iterations, seed=0,
                                         verbose=False, **lr), data)
        on_points = []
        for spec in specs:
            plain = copy.copy(spec)
            plain.data_class_means = None
            plain._forget_derived()
            on_points.append(plain)
        learnwares = [in_memory_learnware(f"lw{t}", models[t], dim, {"LANESpecification": s})
                      for t, s in enumerate(specs)]
        if args.mixture_means:
            drawn = []
            for spec in specs:
                stand_in = copy.copy(spec)
                stand_in.__dict__ = {k: v for k, v in spec.__dict__.items() if not k.startswith("_")}
                stand_in.data_class_means = None
                stand_in.z = np.concatenate([spec.sample_class(c, 200, random_state=0) for c in spec.classes])
                stand_in.labels = [c for c in spec.classes for _ in range(200)]
                drawn.append(stand_in)
        rows_out, mixture_l1 = [], []
        for m, rows, _, proportions in users:
            X, y = setting.X_test[rows], setting.y_test[rows]
            if args.mixture_means:
                mixture_l1.append(np.abs(mixture_weights(X, drawn).learnware_weights - proportions).sum())
            start = mixture_weights(X, specs).learnware_weights
            reuser = LANEClassRouterReuser(learnwares, start, random_state=0)
            accuracy = float(np.mean(reuser.predict(X) == y))
            points_l1 = np.abs(mixture_weights(X, on_points).learnware_weights - proportions).sum()
            rows_out.append((m, accuracy, np.abs(start - proportions).sum(),
                             np.abs(reuser.weights_ - proportions).sum(), points_l1))
        values = np.array(rows_out)
        reference = values if reference is None else reference
        counts = values[:, 0]
        diff = values[:, 1] - reference[:, 1]
        cells = [f"m={m:g} {values[counts == m, 1].mean():.3f} {diff[counts == m].mean():+.3f}"
                 f"({(diff[counts == m] > 0).sum()}/{(diff[counts == m] < 0).sum()})" for m in np.unique(counts)]
        print(f"{args.dataset} iterations={setting_text:<9s} spec {seconds:.3f} s = {seconds / rkme_seconds:.1f}x "
              f"RKME-median ({rkme_seconds:.3f} s) | search L1 {values[:, 2].mean():.3f} (points' means L1 "
              f"{values[:, 4].mean():.3f}) | router L1 "
              f"{values[:, 3].mean():.3f} | " + " ".join(cells)
              + (f" | search L1 from mixture samples {np.mean(mixture_l1):.3f}" if mixture_l1 else ""), flush=True)


if __name__ == "__main__":
    main()
