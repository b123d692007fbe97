"""The reuse benchmark's ``results.json``: means per mixture count, ratios to RKME, a paired test.

Every method's accuracy is compared user by user with ``PAIRED_ANCHOR``'s (the
strongest RKME route): the mean difference, wins and losses, a two-sided sign
test (scipy's ``binomtest``) and a 95% bootstrap interval of the mean.
"""

from __future__ import annotations

import numpy as np

#: Every method's accuracy is compared user by user with this one's.
PAIRED_ANCHOR = "RKME-median+SVM"


def paired_with(method, anchor, counts, seed: int) -> dict | None:
    """Per mixture count, ``method`` minus ``anchor`` user by user: mean, wins, losses, sign test, bootstrap CI."""
    from scipy.stats import binomtest

    if anchor is None or method is anchor:
        return None
    out = {}
    rng = np.random.default_rng(seed)
    for m in counts:
        a, b = method.accuracy.get(m, []), anchor.accuracy.get(m, [])
        if not a or len(a) != len(b):
            out[str(m)] = None  # not run on the same users
            continue
        diff = np.asarray(a) - np.asarray(b)
        wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
        boot = rng.choice(diff, size=(2000, len(diff))).mean(axis=1)
        out[str(m)] = {"mean_difference": float(diff.mean()), "wins": wins, "losses": losses,
                       "sign_test_p": float(binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0,
                       "bootstrap_95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]}
    return out


def reuse_document(setting, options, counts, methods) -> dict:
    """The ``results.json`` document: per method and mixture count, means, ratios to RKME and the paired test."""
    from .. import __version__

    def mean_per_count(values):
        return [float(np.mean(values[m])) if values.get(m) else None for m in counts]

    def mean_or_none(values):
        return float(np.mean(values)) if values else None

    out = {}
    for name, method in methods.items():
        out[name] = {
            "accuracy": mean_per_count(method.accuracy),
            "accuracy_jobselector_users": mean_per_count(method.paired_accuracy),
            "weights_l1": mean_per_count(method.weights_l1),
            "spec_seconds": method.spec_seconds,
            "search_seconds": mean_or_none(method.search_seconds),
            "reuse_seconds": mean_or_none(method.reuse_seconds),
            "users": [len(method.accuracy.get(m, [])) for m in counts],
            "spec_points": method.spec_points,
            "spec_bytes": method.spec_bytes,
            "paired": paired_with(method, methods.get(PAIRED_ANCHOR), counts, options.seed),
        }
    anchor = out.get("RKME", {})
    for entry in out.values():
        entry["ratio_to_rkme"] = {key: (entry[key] / anchor[key] if entry.get(key) and anchor.get(key) else None)
                                  for key in ("spec_seconds", "search_seconds", "reuse_seconds")}
    return {
        "benchmark": "reuse",
        "dataset": setting.name,
        "description": setting.description,
        "mixture_counts": counts,
        "users_per_count": options.users_per_count,
        "user_rows": setting.user_rows,
        "jobselector_users_per_count": options.jobselector_users,
        "herding_num": options.herding_num,
        "seed": options.seed,
        "version": __version__,
        "methods": out,
    }
