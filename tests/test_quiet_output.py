"""Output that reads cleanly: progress bars on a terminal only, each log line once."""

import io
import logging
import sys


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bars_show_on_a_terminal_only(monkeypatch):
    from k2v_learnware._progress import progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress(range(3)).disable  # a pipe, a log file, CI
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert not progress(range(3)).disable
    assert progress(range(3), verbose=False).disable  # --quiet


def test_every_market_module_shares_one_log_handler():
    from k2v_learnware.market import k2v_market, lane_means, market_know2vec, organizer, searchers  # noqa: F401

    assert len(logging.getLogger("k2v_learnware.market").handlers) == 1
