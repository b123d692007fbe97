"""How good are a LANE spec's points as training data? The check behind format 2's condensation objective.

For every developer task of the reuse benchmark's data set, condense the task's
training rows (10 points per class, seed 0) and train an RBF SVM on 200 mimic
samples per class drawn from the spec's class Gaussians (what the reuser's
selector learns from); report test accuracy on the task's test rows, mean over
tasks, and the specification time.

    OMP_NUM_THREADS=1 python benchmarks/condensation_objective.py fashion-mnist

Rows: ``calibrated`` (format 1's family) and ``none`` (format 2: the fixed
network and its calibrated twin). The "fixed network only" figures in the README
were measured with this script on commit 27ad382, before the twin.
"""

import sys
import time

import numpy as np
from sklearn.svm import SVC

from k2v_learnware import generate_lane_spec
from k2v_learnware.bench.settings import load_setting


def main(dataset: str) -> None:
    setting = load_setting(dataset, quick=False, seed=0, verbose=False)
    for normalization in ("calibrated", "none"):
        on_points, on_mimic, seconds = [], [], []
        for t in range(len(setting.tasks)):
            train, test = setting.task_rows(t, "train"), setting.task_rows(t, "test")
            start = time.perf_counter()
            spec = generate_lane_spec(setting.X_train[train], setting.y_train[train], num_per_class=10,
                                      normalization=normalization, seed=0, verbose=False)
            seconds.append(time.perf_counter() - start)
            X_test, y_test = setting.X_test[test], setting.y_test[test]
            z = spec.get_z().reshape(len(spec.get_z()), -1)
            on_points.append(SVC().fit(z, spec.get_labels()).score(X_test, y_test))
            mimic = np.concatenate([spec.sample_class(c, 200, random_state=0).reshape(200, -1) for c in spec.classes])
            on_mimic.append(SVC().fit(mimic, np.repeat(spec.classes, 200)).score(X_test, y_test))
        print(f"{dataset} normalization={normalization}: SVM on points {np.mean(on_points):.4f}, "
              f"on mimic samples {np.mean(on_mimic):.4f}, spec {np.mean(seconds):.2f} s per task", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "digits")
