"""The Know2Vec path of the ``k2v-learnware`` console script, end to end in subprocesses on digits.

An operator gives a market its labelled probe set (``probe``), four developers
add learnwares (an accurate and a poor one on each half of the digits), the
operator trains the proxy (``fit-proxy``), and a user's labelled rows find the
accurate learnware of their classes (``search --know2vec``), from the market
folder and from a served market (``serve`` on a free local port) that picks up
a proxy trained after it started.
"""

import json

import numpy as np
import pytest

from k2v_learnware.datasets import load_digits
from tests._service_helpers import running_server
from tests.test_cli import as_json, failed, ok, run, run_together

HALVES = {"low": (0, 1, 2, 3, 4), "high": (5, 6, 7, 8, 9)}
MARKET = ["--market", "k2v", "--root", "market"]
FIT = ["--epochs", "150", "--task-group", "0,1,2,3,4", "--task-group", "5,6,7,8,9"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Probe rows (every 4th), developers' rows (every 4th + 0), users' rows (every 4th + 3) as .npz files."""
    folder = tmp_path_factory.mktemp("cli-know2vec")
    X, y = load_digits()
    part = np.arange(len(y)) % 4
    np.savez(folder / "probe.npz", X=X[part == 1], y=y[part == 1])
    for name, half in HALVES.items():
        rows = np.flatnonzero(np.isin(y, half) & (part == 0))
        few = np.concatenate([rows[y[rows] == c][:3] for c in half])
        np.savez(folder / f"good-{name}.npz", X=X[rows], y=y[rows])
        np.savez(folder / f"poor-{name}.npz", X=X[few], y=y[few])
        users = np.flatnonzero(np.isin(y, half[1:4]) & (part == 3))
        np.savez(folder / f"user-{name}.npz", X=X[users], y=y[users])
    return folder


@pytest.fixture(scope="module")
def market(work):
    """probe -> generate, pack (a logistic regression) -> add -> fit-proxy; each step's result."""
    steps = {"probe": run(work, "--json", "probe", "probe.npz", *MARKET)}
    names = [f"{kind}-{half}" for kind in ("good", "poor") for half in HALVES]
    for done in run_together(work, *[["-q", "generate", f"{n}.npz", "-o", f"{n}.json", "--per-class", "3",
                                      "--iterations", "10"] for n in names]):
        ok(done)
    for done in run_together(work, *[["-q", "pack", f"{n}.json", "--train", "logistic", f"{n}.npz", "-o",
                                      f"{n}.zip", "--name", n] for n in names]):
        ok(done)
    steps["add"] = run(work, "--json", "add", *[f"{n}.zip" for n in names], *MARKET)
    steps["fit"] = run(work, "--json", "fit-proxy", *MARKET, *FIT)
    return steps


def test_probe_sets_a_labelled_probe_set(market):
    out = as_json(market["probe"])
    assert out["labelled"] and sorted(out["classes"]) == list(range(10)) and out["rows"] == 449
    assert out["learnwares"] == 0


def test_fit_proxy_trains_on_labelled_probe_tasks(work, market):
    added = as_json(market["add"])
    assert added["rejected"] == [] and added["size"] == 4
    out = as_json(market["fit"])
    assert out["training"] == "labelled-probe" and out["learnwares"] == 4 and 0 < out["steps"] <= 150
    meta = json.loads((work / "market" / "k2v" / "know2vec" / "proxy" / "proxy.json").read_text())
    assert meta["training"] == "labelled-probe"


def test_search_know2vec_finds_the_accurate_learnware(work, market):
    names = {a["id"]: a["name"] for a in as_json(market["add"])["added"]}
    local = [as_json(r) for r in run_together(work, *[["--json", "search", "--know2vec", f"user-{h}.npz", *MARKET]
                                                     for h in HALVES])]
    for half, out in zip(HALVES, local):
        assert out["query"]["classes"] == list(HALVES[half][1:4])
        assert names[out["singles"][0]["id"]] == f"good-{half}", out["singles"]
    shown = ok(run(work, "search", "--know2vec", "user-low.npz", *MARKET))
    assert "sent as their per-class means" in shown.stdout and "1. " in shown.stdout
    assert "[INFO]" not in shown.stderr  # learnware's loggers are quieted before the market makes them



def test_know2vec_commands_refuse_what_they_cannot_do(work, market, tmp_path):
    from k2v_learnware.market import instantiate_market

    np.savez(tmp_path / "unlabelled.npz", X=np.zeros((4, 64)))
    np.savez(tmp_path / "one-class.npz", X=np.zeros((4, 64)), y=[1, 1, 1, 1])
    instantiate_market("bare", root=tmp_path / "bare")  # a market without a probe set
    bare = ["--market", "bare", "--root", str(tmp_path / "bare")]
    refusals = {  # command -> what its one error line says; independent, so run side by side
        ("search", "--know2vec", str(tmp_path / "unlabelled.npz"), *MARKET): "has no labels",
        ("fit-proxy", *MARKET, "--task-group", "0,1,x"): "not labels of the probe set",
        ("fit-proxy", *MARKET, "--epochs", "0"): "must be >= 1",
        ("fit-proxy", "--market", "none", "--root", "market"): "no market 'none'",
        ("fit-proxy", *bare): "has no probe set",
        ("search", "--know2vec", "user-low.npz", *bare): "has no Know2Vec proxy",
        ("probe", str(tmp_path / "one-class.npz"), *bare): "at least 2 classes",
    }
    for (command, message), done in zip(refusals.items(), run_together(work, *refusals)):
        assert message in failed(done), command
    unlabelled = as_json(run(work, "--json", "probe", str(tmp_path / "one-class.npz"), "--unlabelled", *bare))
    assert not unlabelled["labelled"] and unlabelled["classes"] is None
    assert "needs a labelled probe set" in failed(run(work, "fit-proxy", *bare, "--task-group", "0,1"))


def test_a_running_service_answers_with_the_proxy_trained_after_it_started(work, market, tmp_path):
    """Before any proxy a Know2Vec search is refused with a reason (not answered on semantics alone); once the
    operator runs fit-proxy the same running service ranks with it."""
    import shutil

    shutil.copytree(work / "market", tmp_path / "market")
    shutil.rmtree(tmp_path / "market" / "k2v" / "know2vec" / "proxy")
    copy = ["--market", "k2v", "--root", str(tmp_path / "market")]
    with running_server(tmp_path / "market", "k2v") as url:
        refused = failed(run(work, "search", "--know2vec", "user-low.npz", "--server", url), code=1)
        assert "has no Know2Vec proxy" in refused and "fit-proxy" in refused
        ok(run(work, "-q", "fit-proxy", *copy, *FIT))
        served = as_json(run(work, "--json", "search", "--know2vec", "user-low.npz", "--server", url))
    local = as_json(run(work, "--json", "search", "--know2vec", "user-low.npz", *copy))
    assert [s["id"] for s in served["singles"]] == [s["id"] for s in local["singles"]]
    assert served["singles"][0]["score"] == pytest.approx(local["singles"][0]["score"], abs=1e-5)


def test_probe_build_specs_gives_older_learnwares_their_specifications(work, market, tmp_path):
    late = ["--market", "late", "--root", str(tmp_path / "market")]
    names = [f"{kind}-{half}" for kind in ("good", "poor") for half in HALVES]
    ok(run(work, "-q", "add", *[f"{n}.zip" for n in names], *late))
    counted = as_json(run(work, "--json", "probe", "probe.npz", *late))
    assert counted["learnwares"] == 4 and counted["on_this_probe_set"] == 0 and counted["built"] is None
    built = as_json(run(work, "--json", "probe", "probe.npz", "--build-specs", *late))
    assert len(built["built"]["built"]) == 4 and built["built"]["failed"] == {} and built["on_this_probe_set"] == 4
