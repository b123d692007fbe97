"""Where LANE's mixture-weight error on Fashion-MNIST comes from: condensed points or the embedding?

Same setting as ``python -m k2v_learnware.bench reuse --dataset fashion-mnist``
(same tasks, same users). For each user, Eq. 9 is solved twice in the same
search-time embedding (the specs' random-MLP family, BatchNorm calibrated on the
user's rows): once with the class means of each learnware's condensed LANE points
(what the market does), once with the class means of the developer's real
training rows (not private; a diagnostic only). Usage:
``OMP_NUM_THREADS=1 python benchmarks/lane_weight_diagnosis.py [--users N]``.
"""

from __future__ import annotations

import argparse
import logging
import warnings

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="users per mixture count")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*csc_matrix.*")
    import learnware

    learnware.init(logging_level=logging.WARNING)
    from k2v_learnware import generate_lane_spec
    from k2v_learnware.bench.reuse import LANE_DEFAULT_K
    from k2v_learnware.bench.reuse_parties import draw_users
    from k2v_learnware.bench.settings import load_setting
    from k2v_learnware.search.mixture_qp import _weights_from_embeddings, embed_requirement_and_classes

    setting = load_setting("fashion-mnist")
    specs, real = [], []
    for t in range(len(setting.tasks)):
        rows = setting.task_rows(t)
        X, y = setting.X_train[rows], setting.y_train[rows]
        specs.append(generate_lane_spec(X, y, num_per_class=LANE_DEFAULT_K, verbose=False))
        real.append((X, y))
    users = draw_users(setting, range(1, len(setting.tasks) + 1), args.users, seed=0)
    condensed, from_real = [], []
    for _, rows, _, proportions in users:
        Xu = setting.X_test[rows]
        u, class_means = embed_requirement_and_classes(Xu, specs)
        w = _weights_from_embeddings(u, class_means, specs, "clarabel", None).learnware_weights
        condensed.append(np.abs(w - proportions).sum())
        family = specs[0].embedding_family()
        embedded = family.embed([X for X, _ in real], reference=Xu)
        real_means = [np.stack([e[y == c].mean(axis=0) for c in s.classes]) for e, (_, y), s in
                      zip(embedded, real, specs)]
        w = _weights_from_embeddings(u, real_means, specs, "clarabel", None).learnware_weights
        from_real.append(np.abs(w - proportions).sum())
    print(f"{len(users)} users: weights L1 from condensed points {np.mean(condensed):.3f}, "
          f"from the real class means {np.mean(from_real):.3f} (same embedding, same users)")


if __name__ == "__main__":
    main()
