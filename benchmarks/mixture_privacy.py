"""What a LANE spec's class mixtures reveal: ``fidelity``'s membership-inference signal, per stored item.

For every developer task of the reuse benchmark's data set, the task's training
rows are split 50/50: the first half builds a LANE spec (10 points per class,
class mixtures of 4 components and 5 axes) and an RKME (median gamma, 100
points), the second half is held out. ``privacy_gap`` (``k2v_learnware.compare``)
says how much nearer a point set lies to the rows it was built from than to the
held-out rows (0: no nearer; 1: copies of training rows). Point sets: the
condensed points, the mixtures' component means, 500 mimic samples drawn from
the mixtures and from the condensed points' Gaussians, and the RKME's reduced
set. Mean over tasks.

    OMP_NUM_THREADS=1 python benchmarks/mixture_privacy.py digits
"""

import argparse

import numpy as np


def main(dataset: str) -> None:
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.bench import rkme_baselines as rb
    from k2v_learnware.bench.reuse_parties import without_mixtures
    from k2v_learnware.bench.settings import load_setting
    from k2v_learnware.compare.fidelity import privacy_gap

    setting = load_setting(dataset, quick=False, seed=0, verbose=False)
    gaps = {}
    for t in range(len(setting.tasks)):
        rows = setting.task_rows(t)
        rng = np.random.default_rng(t)
        rows = rng.permutation(rows)
        own, held = rows[: len(rows) // 2], rows[len(rows) // 2:]
        X, y = setting.X_train[own], setting.y_train[own]
        spec = generate_lane_spec(X, y, num_per_class=10, seed=0, verbose=False)
        plain = without_mixtures(spec)
        per_class = 500 // len(spec.classes)
        sets = {
            "condensed points": spec.get_z(),
            "mixture means": np.concatenate([m.means for m in spec.class_mixtures]),
            "mimic from mixtures": np.concatenate([spec.sample_class(c, per_class, random_state=0)
                                                   for c in spec.classes]),
            "mimic from points' Gaussians": np.concatenate([plain.sample_class(c, per_class, random_state=0)
                                                            for c in plain.classes]),
            "RKME reduced set": np.asarray(rb.rkme_spec(X, rb.median_gamma(X), 100).get_z()),
        }
        for name, points in sets.items():
            gap, _ = privacy_gap(points, X, setting.X_train[held])
            gaps.setdefault(name, []).append(gap)
    for name, values in gaps.items():
        print(f"{dataset} {name:30s} privacy_gap {np.mean(values):+.3f} (tasks: "
              + " ".join(f"{v:+.3f}" for v in values) + ")", flush=True)


if __name__ == "__main__":
    from k2v_learnware.bench.settings import DATASETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="digits", choices=DATASETS)
    main(parser.parse_args().dataset)
