"""How many column-generation rounds does a market search need? The check behind ``SEARCH_ROUNDS``.

On the scale benchmark's synthetic market of N learnwares, for 12 planted users:
the proven optimum of Eq. 9 (rounds until no class violates its optimality
condition), then the search stopped after 1, 2 and 3 rounds: seconds (median),
weight L1 to the optimum and planted recall.

    OMP_NUM_THREADS=1 python benchmarks/column_generation_rounds.py 10000   # ~3 min
"""

import sys
import time

import numpy as np

from k2v_learnware.bench.scale_market import SyntheticMarket, lane_spec_of_points
from k2v_learnware.search.class_mean_index import ClassMeanIndex


def main(n: int) -> None:
    market = SyntheticMarket(n, 0)
    specs = [lane_spec_of_points(*market.points(g)) for g in range(n)]
    family = specs[0].embedding_family()
    index = ClassMeanIndex.from_specs(specs, family)
    users = [market.user(q) for q in range(12)]
    stages, optima, rounds_needed, optimum_seconds = [], [], [], []
    for user in users:
        u = lane_spec_of_points(user.rows, [None] * len(user.rows)).mean_embedding(family)
        stage = index.stage_one(u)
        start = time.perf_counter()
        best = index.mixture(stage, max_rounds=50)
        optimum_seconds.append(time.perf_counter() - start)
        stages.append(stage)
        optima.append(index.learnware_weights(best))
        rounds_needed.append(best.rounds if best.exact else None)
    print(f"N = {n}: proven optimum after {sorted(rounds_needed)} rounds, "
          f"median {np.median(optimum_seconds):.3f} s")
    for rounds in (1, 2, 3):
        seconds, l1, recall = [], [], []
        for user, stage, optimum in zip(users, stages, optima):
            start = time.perf_counter()
            weights = index.learnware_weights(index.mixture(stage, max_rounds=rounds))
            seconds.append(time.perf_counter() - start)
            l1.append(np.abs(weights - optimum).sum())
            found = set(np.flatnonzero(weights >= 0.05).tolist())
            recall.append(len(found & set(user.planted)) / len(user.planted))
        print(f"  {rounds} round(s): median {np.median(seconds):.3f} s, weight L1 to the optimum "
              f"{np.mean(l1):.3f}, planted recall {np.mean(recall):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
