"""How many training steps does the Know2Vec proxy need? R@1 and fit time against steps (issue 16's question).

On the retrieval benchmark's zoo, probe set and query tasks
(``python -m k2v_learnware.bench retrieval``, best-model protocol: tasks cut from
the labelled probe set), fit one proxy per step count with the bench's settings
and report its fit time (wall, one thread) and R@1 / R@3 over the bench's
queries, so that a shorter default is chosen from a measurement. Fixed step
counts train as the proxy did before early stopping (64 tasks per step, no
held-out tasks); the last rows train with early stopping on held-out probe
tasks (32 tasks per step), by default with the proxy's own patience and step
cap, or with each ``--early patience:most_steps`` variant, in the same run; each
``--variant key=value,...`` adds one more early-stopping run with those proxy
settings (e.g. ``patience=3,lr=0.006``). R@1 breaks ties in the scores at
random, seeded as the retrieval bench does, so a variant with the bench's
settings gives the bench's Know2Vec R@1.

    OMP_NUM_THREADS=1 python benchmarks/proxy_fit_steps.py [--steps 100,200,400,800,1500] [--early 5:1500,3:1500]
        [--variant patience=3,batch_size=128 ...] [--quick] [--seed N]
"""

import argparse
import time

import numpy as np


def _settings(variant: str) -> dict:
    """``key=value,...`` as proxy keyword arguments (ints, floats)."""
    settings = {}
    for item in variant.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"proxy_fit_steps: error: --variant needs key=value,..., got {variant!r}")
        try:
            settings[key.strip()] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            raise SystemExit(f"proxy_fit_steps: error: --variant {key.strip()} needs a number, got {value!r}") from None
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="100,200,400,800,1500")
    parser.add_argument("--quick", action="store_true", help="the bench's --quick zoo and queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--early", default="5:1500",
                        help="early-stopping variants, patience:most steps, comma-separated (default: the proxy's)")
    parser.add_argument("--variant", action="append", default=[],
                        help="one more early-stopping run with these proxy settings, key=value,... (repeatable)")
    args = parser.parse_args()
    variants = [(variant, _settings(variant)) for variant in args.variant]  # refused before minutes of zoo building

    from k2v_learnware.bench.zoo import bench_zoo
    from k2v_learnware.bench.zoo_data import draw_queries
    from k2v_learnware.retrieval.proxy import Know2VecProxy, Know2VecQuery

    start = time.perf_counter()
    options, data, models, specs = bench_zoo(args.seed, args.quick)
    probe_X, probe_y = data.probe
    queries = draw_queries(data, options)
    truths = [np.array([np.mean(np.asarray(m.predict(Xe)) == ye) for m in models]) for *_, Xe, ye in queries]
    print(f"zoo of {len(models)} models, {len(queries)} queries, built in {time.perf_counter() - start:.0f} s",
          flush=True)

    runs = [(f"steps {int(v):5d}", dict(epochs=int(v), batch_size=64, validation=0)) for v in args.steps.split(",")]
    for variant in args.early.split(","):  # patience:most steps, e.g. 5:1500 (the default), 3:1500, 5:600
        patience, most = (int(v) for v in variant.split(":"))
        runs.append((f"early stopping, patience {patience}, at most {most} steps", dict(patience=patience,
                                                                                         epochs=most)))
    runs += [(f"early stopping, {variant}", settings) for variant, settings in variants]
    for label, settings in runs:
        proxy = Know2VecProxy(seed=options.seed, verbose=False, **settings)
        start = time.perf_counter()
        proxy.fit(specs, specs, probe_X=probe_X, probe_y=probe_y, task_groups=list(data.groups.values()))
        seconds = time.perf_counter() - start
        embeddings = proxy.embed_models(specs)
        hits1, hits3 = [], []
        tie_break = np.random.default_rng(options.seed + 2)
        for (_, X, y, _, _), truth in zip(queries, truths):
            scores = proxy.scores(Know2VecQuery.from_data(X, y), model_embeddings=embeddings)
            order = np.lexsort((tie_break.random(len(scores)), -np.asarray(scores)))  # as the bench breaks ties
            best = truth >= truth.max() - 1e-12
            hits1.append(bool(best[order[0]]))
            hits3.append(bool(best[order[:3]].any()))
        steps = len(proxy.losses_)
        kept = max(proxy.history_, key=lambda r: (r["r@1"], -r["loss"]))["step"] if proxy.history_ else steps
        print(f"{label}: {steps} steps, fit {seconds:7.1f} s ({seconds / steps * 1000:.0f} ms/step), "
              f"R@1 {np.mean(hits1):.3f}, R@3 {np.mean(hits3):.3f}, final loss {np.mean(proxy.losses_[-20:]):.4f}, "
              f"best validation near step {kept}",
              flush=True)


if __name__ == "__main__":
    main()
