"""LANE reuse variants paired over the reuse benchmark's own users: the measurement behind issue 13's open item.

For one data set of ``python -m k2v_learnware.bench reuse`` (same tasks, models,
users and seeds; its LANE row is reproduced exactly by the ``format2`` variant),
each variant's accuracy per mixture count and its per-user difference to the
first variant (mean, wins/losses):

- ``format1`` / ``format2``: specs condensed in the calibrated family (format 1)
  or the fixed one (format 2), the reuser as shipped (Eq. 10: as many mimic
  samples as the user has rows, shared in proportion to the weights);
- ``mimic1000``: format 2 with 1000 mimic samples;
- ``weighted50`` / ``weighted100``: format 2, a fixed 50 / 100 mimic samples per
  class of every chosen learnware, each weighted by w_i / K_i in the SVM (the same
  prior as Eq. 10 with less variance).

    OMP_NUM_THREADS=1 python benchmarks/lane_reuse_paired.py digits [--users 20] [--seed 0]
"""

import argparse

import numpy as np
from sklearn.svm import SVC

from k2v_learnware import generate_lane_spec
from k2v_learnware.bench.reuse_parties import draw_users, in_memory_learnware, train_developers
from k2v_learnware.bench.settings import load_setting
from k2v_learnware.reuse import LANEJobSelectorReuser
from k2v_learnware.search import mixture_weights


class WeightedMimicReuser(LANEJobSelectorReuser):
    """``per_class`` mimic samples per class of every chosen learnware, weighted so the prior is the weights."""

    per_class = 50

    def fit(self, X):
        weights = self.chosen_weights(X)
        self.used_ = np.flatnonzero(weights > 0)
        if len(self.used_) == 1:
            self.selector_ = None
            return self
        rng = np.random.default_rng(self.random_state)
        rows, owner, weight = [], [], []
        for i in self.used_:
            spec = self.specs[i]
            for c in spec.classes:
                rows.append(spec.sample_class(c, self.per_class, random_state=rng).reshape(self.per_class, -1))
                owner.append(np.full(self.per_class, i))
                weight.append(np.full(self.per_class, weights[i] / len(spec.classes) / self.per_class))
        weight = np.concatenate(weight)
        self.selector_ = SVC().fit(np.concatenate(rows), np.concatenate(owner), sample_weight=weight / weight.mean())
        return self


def _reuser(variant, learnwares, weights, seed):
    if variant.startswith("weighted"):
        reuser = WeightedMimicReuser(learnwares, weights, random_state=seed)
        reuser.per_class = int(variant[len("weighted"):])
        return reuser
    num_mimic = 1000 if variant == "mimic1000" else None
    return LANEJobSelectorReuser(learnwares, weights, num_mimic=num_mimic, random_state=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("digits", "fashion-mnist", "bbc-news"))
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="condensation seed (the users stay the bench's)")
    parser.add_argument("--variants", default="format1,format2,mimic1000,weighted50,weighted100")
    args = parser.parse_args()
    setting = load_setting(args.dataset, quick=False, seed=0, verbose=False)
    tasks = len(setting.tasks)
    dim = int(np.prod(setting.X_train.shape[1:]))
    models, data = train_developers(setting)
    users = draw_users(setting, list(range(1, tasks + 1)), args.users, 0)
    counts = np.array([m for m, *_ in users])
    specs = {}
    results = {}
    for variant in args.variants.split(","):
        normalization = "calibrated" if variant == "format1" else "none"
        if normalization not in specs:
            specs[normalization] = [generate_lane_spec(X, y, num_per_class=10, seed=args.seed,
                                                       normalization=normalization, verbose=False) for X, y in data]
        learnwares = [in_memory_learnware(f"lw{t}", models[t], dim, {"LANESpecification": s})
                      for t, s in enumerate(specs[normalization])]
        accuracy = []
        for m, rows, truth, proportions in users:
            X, y = setting.X_test[rows], setting.y_test[rows]
            weights = mixture_weights(X, specs[normalization]).learnware_weights
            predicted = _reuser(variant, learnwares, weights, 0).predict(X)
            accuracy.append(float(np.mean(np.asarray(predicted).reshape(-1) == y)))
        results[variant] = np.array(accuracy)
        line = " / ".join(f"{results[variant][counts == m].mean():.4f}" for m in range(1, tasks + 1))
        print(f"{args.dataset} {variant}: accuracy m=1..{tasks} {line}", flush=True)
        first = next(iter(results))
        if variant != first:
            diff = results[variant] - results[first]
            print("    vs " + first + ": " + ", ".join(
                f"m={m} {d.mean():+.4f} ({(d > 0).sum()}/{(d < 0).sum()})"
                for m, d in ((m, diff[counts == m]) for m in range(1, tasks + 1))), flush=True)


if __name__ == "__main__":
    main()
