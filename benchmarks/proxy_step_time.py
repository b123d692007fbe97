"""What one Know2Vec proxy training step costs: class rows batched by length against packed sequences.

On the retrieval benchmark's zoo (``python -m k2v_learnware.bench retrieval``,
best-model protocol), fit the bench's proxy for ``--steps`` steps (tasks cut from
the labelled probe set, no validation) ``--repeats`` times with the model
encoder's BiLSTMs reading the class rows batched by length (dense calls, the
encoder's way since issue 16's last change) and packed into one sequence batch
(its way before), the two alternating, and print the median milliseconds per
step and their ratio. The specifications' stored answers label the probe tasks
(no model is called), so the timings are the training steps' own. Both ways give
the same embeddings to float rounding; the script checks that on the zoo's
graphs before timing.

    OMP_NUM_THREADS=1 python benchmarks/proxy_step_time.py [--steps 200] [--repeats 3] [--quick] [--seed N]
"""

import argparse
import contextlib
import time

import numpy as np


@contextlib.contextmanager
def packed_rows():
    """The model encoder as it was: every class row and every graph through one packed sequence batch."""
    from k2v_learnware.retrieval import encoders

    by_length = encoders._last_states_by_length
    encoders._last_states_by_length = encoders._last_states
    try:
        yield
    finally:
        encoders._last_states_by_length = by_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the bench's --quick zoo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        raise SystemExit("proxy_step_time: error: --steps and --repeats must be positive")

    import torch

    from k2v_learnware.bench.zoo import bench_zoo
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    start = time.perf_counter()
    options, data, models, specs = bench_zoo(args.seed, args.quick)
    probe_X, probe_y = data.probe
    sizes = sorted({len(s.classes) for s in specs})
    print(f"zoo of {len(models)} models ({'/'.join(map(str, sizes))} classes), built in "
          f"{time.perf_counter() - start:.0f} s", flush=True)

    def fit():
        proxy = Know2VecProxy(epochs=args.steps, validation=0, seed=options.seed, verbose=False)
        start = time.perf_counter()
        proxy.fit(specs, specs, probe_X=probe_X, probe_y=probe_y, task_groups=list(data.groups.values()))
        return proxy, (time.perf_counter() - start) / args.steps * 1000

    proxy, _ = fit()  # warm-up (imports, allocator), and the weights the equality check reads
    with torch.no_grad():
        dense = proxy.embed_models(specs)
        with packed_rows():
            packed = proxy.embed_models(specs)
    gap = float(np.abs(dense - packed).max())
    if gap > 1e-4:
        raise SystemExit(f"proxy_step_time: error: the two ways of batching differ by {gap:.2g}")
    times = {"rows batched by length": [], "packed sequences (before)": []}
    for _ in range(args.repeats):
        times["rows batched by length"].append(fit()[1])
        with packed_rows():
            times["packed sequences (before)"].append(fit()[1])
    medians = {name: float(np.median(v)) for name, v in times.items()}
    for name, v in times.items():
        print(f"{name:28s} {medians[name]:6.1f} ms/step (median of {args.repeats} fits of {args.steps} steps; "
              f"runs {', '.join(f'{t:.1f}' for t in v)})")
    print(f"embeddings agree to {gap:.1g}; packed / by length: "
          f"{medians['packed sequences (before)'] / medians['rows batched by length']:.2f}x")


if __name__ == "__main__":
    main()
