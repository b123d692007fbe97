"""What the condensed points are worth by where they start and how many steps they take (issue 15's defaults).

Two measures of the points alone (a search reads the rows' class means now, and
reuse the class mixtures):

- ``svm``: digits, 10 points per class from the 1257 training rows, accuracy of
  an RBF SVM trained only on the points, on the 540 test rows, mean of seeds 0-2
  (the table of README "Choosing the defaults");
- ``privacy``: fidelity's membership signal of the points (``privacy_gap``: are
  they nearer the developer's rows than fresh rows of the same classes?) for the
  reuse benchmark's tasks 0 and 2 of ``digits`` or ``fashion-mnist``, each against
  as many of its test rows.

    OMP_NUM_THREADS=1 python benchmarks/lane_points_start.py svm
    OMP_NUM_THREADS=1 python benchmarks/lane_points_start.py privacy --dataset fashion-mnist
"""

import argparse
import logging
import time

import numpy as np

STARTS = (("real", 0), ("real", 20), ("real", 30), ("real", 200), ("kmeans", 0), ("kmeans", 20), ("kmeans", 30),
          ("kmeans", 200))


def svm_table():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    from k2v_learnware import generate_lane_spec

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16, y, test_size=540, random_state=0, stratify=y)
    for init, steps in STARTS:
        scores = []
        for seed in range(3):
            spec = generate_lane_spec(Xtr, ytr, num_per_class=10, iterations=steps, init=init, seed=seed,
                                      verbose=False)
            z = spec.get_z()
            scores.append(SVC().fit(z.reshape(len(z), -1), spec.get_labels()).score(Xte, yte))
        print(f"digits start={init:<6s} steps={steps:<3d} SVM on the points {np.mean(scores):.3f}", flush=True)


def privacy_table(dataset: str):
    import learnware

    learnware.init(logging_level=logging.WARNING)
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.bench.settings import load_setting
    from k2v_learnware.compare import privacy_gap

    setting = load_setting(dataset, quick=False, seed=0, verbose=False)
    for task in (0, 2):
        rows = setting.task_rows(task)
        X, y = setting.X_train[rows], setting.y_train[rows]
        held = setting.X_test[setting.task_rows(task, "test")]
        n = min(len(X), len(held))
        for init, steps in STARTS:
            start = time.perf_counter()
            spec = generate_lane_spec(X, y, num_per_class=10, iterations=steps, init=init, seed=0, verbose=False)
            seconds = time.perf_counter() - start
            gap, _ = privacy_gap(spec.get_z(), X[:n], held[:n])
            print(f"{dataset} task {task} start={init:<6s} steps={steps:<3d} {seconds:.2f} s privacy gap {gap:+.3f}",
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=("svm", "privacy"))
    parser.add_argument("--dataset", choices=("digits", "fashion-mnist"), default="digits")
    args = parser.parse_args()
    svm_table() if args.measure == "svm" else privacy_table(args.dataset)


if __name__ == "__main__":
    main()
