"""`make demo`, one of the README's two set-up commands, run as a user runs it."""

import re
import subprocess
import sys

from tests._service_helpers import REPO


def test_the_demo_market_finds_the_users_mixture_and_reuses_it(tmp_path):
    done = subprocess.run([sys.executable, "-m", "k2v_learnware.demo", "--quiet", "--root", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "market: 5 learnwares submitted" in out and str(tmp_path) in out and "removed at the end" not in out
    assert float(re.search(r"^  L1 error (\S+)", out, re.M).group(1)) < 0.1  # the search's weights, true 0.7/0.3
    lane, oracle = map(float, re.search(r"reuse accuracy: LANE (\S+) .*oracle (\S+)", out).groups())
    assert lane >= 0.9 and oracle == 1.0
    assert (tmp_path / "database" / "market_demo.db").exists()  # --root keeps the market
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr[-3000:]
