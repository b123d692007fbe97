"""Market files under concurrency and crashes: what two processes writing at once, or one killed half-way, leave.

Each test runs the real thing in real processes (and, where a database is
involved, on SQLite and on a real PostgreSQL server through ``database_url``).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from k2v_learnware.datasets import load_digits
from k2v_learnware.retrieval.proxy import Know2VecProxy
from k2v_learnware.specification.know2vec import generate_know2vec_spec

REPO = Path(__file__).resolve().parents[1]

# The other process of a race: it sets itself up (SETUP), says "ready", then each round waits for the file
# GO-<round>, does WRITE again and again until the time that file holds (this process stops then too), and
# says so in DONE-<round>. Its arguments: the signals folder, the rounds, then the race's own.
_RACER = """
import sys, time
from pathlib import Path
signals, rounds, args = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
{setup}
(signals / "ready").touch()
for r in range(rounds):
    while not (signals / f"go-{{r}}").exists():
        time.sleep(0.001)
    stop = float((signals / f"go-{{r}}").read_text())
    while time.time() < stop:
        {write}
    (signals / f"done-{{r}}").touch()
"""

# Saving a proxy: the proxy in SOURCE, saved into FOLDER.
_SAVER = _RACER.format(setup="""from k2v_learnware.retrieval.proxy import Know2VecProxy
source, folder = Path(args[0]), Path(args[1])
proxy = Know2VecProxy.load(source)""", write="proxy.save(folder)")


def small_proxy(seed: int) -> Know2VecProxy:
    X, y = load_digits()
    subsets = [(0, 1), (2, 3, 4)]
    models = [LogisticRegression(max_iter=500).fit(X[np.isin(y, s)], y[np.isin(y, s)]) for s in subsets]
    specs = [generate_know2vec_spec(m, X[::20]) for m in models]
    return Know2VecProxy(hidden=8, embedding_dim=8, epochs=2, batch_size=8, seed=seed, verbose=False) \
        .fit(specs, models, probe_X=X[1::20])


def race_with(child, signals: Path, rounds: int, write, check) -> None:
    """Drive ``child`` (a script above) through ``rounds``: each round both processes write at once for 0.1 s
    (this one calls ``write`` over and over), then ``check(round)`` reads what is left. Kills the child if a
    check fails."""
    try:
        while not (signals / "ready").exists():
            assert child.poll() is None, child.communicate()[1][-3000:]
            time.sleep(0.01)
        for r in range(rounds):
            stop = time.time() + 0.1
            (signals / f"go-{r}.tmp").write_text(repr(stop))
            (signals / f"go-{r}.tmp").rename(signals / f"go-{r}")
            while time.time() < stop:
                write()
            while not (signals / f"done-{r}").exists():
                assert child.poll() is None, child.communicate()[1][-3000:]
                time.sleep(0.001)
            check(r)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err[-3000:]
    finally:
        if child.poll() is None:
            child.kill()


def test_two_processes_saving_the_proxy_at_once_leave_one_that_loads(tmp_path):
    """Each save drops every weights file but its own after swapping proxy.json in. Two saves at once used to
    interleave so that one deleted the weights the other's proxy.json (the one left) names: the market's proxy
    no longer loaded until it was trained again. Saves now take turns, so after any mix the proxy loads."""
    folder, signals, rounds = tmp_path / "proxy", tmp_path / "signals", 20
    signals.mkdir()
    mine, theirs = small_proxy(0), small_proxy(1)
    theirs.save(tmp_path / "theirs")
    child = subprocess.Popen([sys.executable, "-c", _SAVER, str(signals), str(rounds), str(tmp_path / "theirs"),
                              str(folder)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def check(r):
        Know2VecProxy.load(folder)  # raised SpecificationFileNotFound: its weights were deleted
        assert len(list(folder.glob("proxy-*.pt"))) == 1  # and no other save's weights are left

    race_with(child, signals, rounds, lambda: mine.save(folder), check)


# Opening the market in ROOT with another probe set, and its labels.
_PROBE_OPENER = _RACER.format(setup="""from tests.test_market_crashes import probe_of
from k2v_learnware.market import instantiate_market
probe, labels = probe_of(1), [i % 3 for i in range(4000)]
organizer = instantiate_market("probe-race", root=args[0], probe_X=probe, probe_y=labels).learnware_organizer""",
                              write="organizer.reload_market(probe_X=probe, probe_y=labels)")


def probe_of(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(4000, 64)).astype(np.float32)


def test_a_probe_set_given_with_labels_keeps_them_whatever_another_process_opens_at_once(tmp_path):
    """Opening a market with a new probe set and no labels removes labels of another probe set. Done while another
    process stored its probe set and labels, it removed the labels that belonged to the probe set left stored:
    the market lost its labelled regime. Probe set and labels are now written in turns."""
    from k2v_learnware.market import instantiate_market

    signals, rounds, mine = tmp_path / "signals", 10, probe_of(0)
    signals.mkdir()
    organizer = instantiate_market("probe-race", root=tmp_path, probe_X=mine).learnware_organizer
    child = subprocess.Popen([sys.executable, "-c", _PROBE_OPENER, str(signals), str(rounds), str(tmp_path)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def check(r):
        stored = instantiate_market("probe-race", root=tmp_path).learnware_organizer
        if np.array_equal(stored.probe_X, probe_of(1)):  # the child's probe set is the one stored
            assert stored.probe_y == [i % 3 for i in range(4000)], f"round {r}: its labels were removed"
        else:
            assert stored.probe_y is None

    race_with(child, signals, rounds, lambda: organizer.reload_market(probe_X=mine), check)
