"""What a Know2Vec proxy fit costs when the specifications answer the probe set, against asking the models.

A format 2 Know2Vec specification keeps its model's answer on every probe row
(they were asked once, to build its boundary graph). On the retrieval
benchmark's zoo (``python -m k2v_learnware.bench retrieval``, best-model
protocol, ``--seed N``) fit the bench's proxy (its settings: early stopping, at
most 1000 steps) ``--repeats`` times with the 40 models as task sources, which
answer the probe set inside the fit (the anchor: how the proxy trained before),
and with the specifications as task sources, which call no model, alternating;
print the median fit seconds of each and their ratio. Both give the same tasks,
so the script also checks that the losses and the embeddings are equal.

    OMP_NUM_THREADS=1 python benchmarks/proxy_fit_sources.py [--repeats 3] [--quick] [--seed N]
"""

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the bench's --quick zoo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("proxy_fit_sources: error: --repeats must be positive")

    from k2v_learnware.bench.zoo import bench_zoo
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    start = time.perf_counter()
    options, data, models, specs = bench_zoo(args.seed, args.quick)
    probe_X, probe_y = data.probe
    print(f"zoo of {len(models)} models and a probe set of {len(probe_X)} rows, built in "
          f"{time.perf_counter() - start:.0f} s", flush=True)

    def fit(sources, epochs=options.proxy_epochs):
        proxy = Know2VecProxy(epochs=epochs, patience=options.proxy_patience, seed=options.seed, verbose=False)
        start = time.perf_counter()
        proxy.fit(specs, sources, probe_X=probe_X, probe_y=probe_y, task_groups=list(data.groups.values()))
        return proxy, time.perf_counter() - start

    fit(specs, epochs=2)  # warm-up: imports (the optimiser's first one costs seconds), outside the timings
    names = {"models answer the probe set (before)": models, "specifications' stored answers": specs}
    times, fitted = {name: [] for name in names}, {}
    for _ in range(args.repeats):
        for name, sources in names.items():
            fitted[name], seconds = fit(sources)
            times[name].append(seconds)
    asked, stored = fitted.values()
    if asked.losses_ != stored.losses_ or not np.array_equal(asked.embed_models(specs), stored.embed_models(specs)):
        raise SystemExit("proxy_fit_sources: error: the two ways trained different proxies")
    medians = {name: float(np.median(v)) for name, v in times.items()}
    for name, v in times.items():
        print(f"{name:38s} {medians[name]:6.1f} s (median of {args.repeats} fits of {len(asked.losses_)} steps; "
              f"runs {', '.join(f'{t:.1f}' for t in v)})")
    before, after = medians.values()
    print(f"same losses and embeddings; fit time before / after: {before / after:.2f}x ({before - after:.1f} s less)")


if __name__ == "__main__":
    main()
