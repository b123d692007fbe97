"""Ranking a retrieval run's queries with one method: R@1, R@3, top-1 accuracy and correlations.

Kept apart from :mod:`.retrieval` (which builds the zoo and the methods) so that
the same scoring serves the table's queries and the wider set of queries the
methods without forward passes also rank (``RetrievalOptions.wide_queries``):
80 queries put ±0.04 of sampling noise on one seed's R@1, and a method that
answers in a millisecond can be measured on hundreds.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

#: What each method reads of the models and of the user, at search time and before.
ACCESS = {
    "Know2Vec": "black box, once: predictions on the market's probe set; query: per-class means",
    "Know2Vec-identity": "black box, once: predictions on the market's probe set; training tasks from the "
                         "developers' LANE specifications; query: per-class means",
    "LEEP": "forward passes on the query rows (probabilities)",
    "NCE": "forward passes on the query rows (labels)",
    "LogME": "features of the query rows (white box)",
    "H-score": "features of the query rows (white box)",
    "NLEEP": "features of the query rows (white box)",
    "neuralRank": "features of the query rows (white box)",
    "LANE": "none: the developers' LANE specifications; query: unlabelled rows",
    "Query accuracy": "forward passes on the query rows (labels), same label space as the user",
    "Probe accuracy": "black box, once: predictions on the market's labelled probe set; query: class names only",
}

#: Methods that rank without running a model on the query rows: cheap enough to rank the wide query set too.
NO_FORWARD_PASS = ("Know2Vec", "Know2Vec-identity", "LANE", "Probe accuracy")


def _correlation(kind, scores, truth):
    from scipy import stats

    if np.ptp(scores) == 0 or np.ptp(truth) == 0:
        return None
    value = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(scores, truth)[0]
    return float(value) if np.isfinite(value) else None


def _mean(values):
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def rank_queries(score, queries, truths, best_masks, query_datasets, tie_break, *, verbose=False,
                 desc="queries") -> dict:
    """Score every query with ``score(X, y)`` (one value per model) and compare the ranking with the truth.

    A query is hit at k when a model of ``best_masks[q]`` is among the top k; ties in the scores are broken in
    ``tie_break``'s random order, so a method gains nothing from scoring many models alike. ``truths[q]`` holds
    every model's true accuracy (top-1 accuracy is the picked model's); ``query_datasets`` the data set of each
    query (R@1 by data set). Returns the method's entry of ``results.json`` (without its access line)."""
    from .._progress import progress

    if not len(queries) == len(truths) == len(best_masks) == len(query_datasets):
        raise ValueError(f"{len(queries)} queries, {len(truths)} truths, {len(best_masks)} best masks and "
                         f"{len(query_datasets)} data sets: one of each per query")
    if not len(queries):
        raise ValueError("rank_queries needs at least one query")
    hits1, hits3, top1, pearson, spearman, seconds = [], [], [], [], [], []
    for (X, y), truth, best in progress(list(zip(queries, truths, best_masks)), verbose=verbose, desc=desc,
                                        leave=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            s = np.asarray(score(X, y), dtype=float)
            seconds.append(time.perf_counter() - start)
        s = np.where(np.isfinite(s), s, -np.inf)
        order = np.lexsort((tie_break.random(len(s)), -s))  # by score, ties in random order
        hits1.append(bool(best[order[0]])), hits3.append(bool(best[order[:3]].any()))
        top1.append(float(truth[order[0]]))
        finite = np.isfinite(s)
        pearson.append(_correlation("pearson", s[finite], truth[finite]))
        spearman.append(_correlation("spearman", s[finite], truth[finite]))
    datasets = np.asarray(query_datasets)
    by_dataset = {str(d): float(np.mean(np.array(hits1)[datasets == d])) for d in np.unique(datasets)}
    return {"r@1": float(np.mean(hits1)), "r@1_by_dataset": by_dataset, "r@3": float(np.mean(hits3)),
            "top1_accuracy": _mean(top1), "pearson": _mean(pearson), "spearman": _mean(spearman),
            "seconds_per_query": float(np.mean(seconds))}
