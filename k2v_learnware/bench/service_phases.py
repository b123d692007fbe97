"""Timed phases of the service benchmark: requests run so many at a time, each one's latency and error kept.

A phase is one operation (a search, an upload) at one concurrency; a request
that fails is counted with its error, never raised, so one bad answer cannot
stop a run or hide the others' times.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed


class Phase:
    """Latencies and errors of one operation in one phase; thread-safe."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.seconds = 0.0
        self.cpu_seconds: float | None = None  # of whoever served the requests (None: not known by operation)
        self._lock = threading.Lock()

    def record(self, seconds: float, error: str | None) -> None:
        with self._lock:
            self.latencies.append(seconds)
            if error is not None:
                self.errors.append(error)

    def summary(self) -> dict:
        import numpy as np

        ms = np.asarray(self.latencies) * 1000.0
        return {"requests": len(ms), "errors": len(self.errors), "concurrency": self.concurrency,
                "seconds": self.seconds, "throughput_rps": len(ms) / self.seconds if self.seconds else None,
                "cpu_ms_per_request": (1000.0 * self.cpu_seconds / len(ms)
                                       if self.cpu_seconds is not None and len(ms) else None),
                "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
                "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
                "mean_ms": float(ms.mean()) if len(ms) else None}


def run_jobs(jobs, concurrency: int, bar) -> float:
    """Run the callables ``jobs``, ``concurrency`` at a time; the phase's wall time."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in as_completed([pool.submit(job) for job in jobs]):
            future.result()
            bar.update(1)
    return time.perf_counter() - start


def timed_call(phase: Phase, call, check=None):
    """A job that runs ``call``, checks its value with ``check`` (an error text or None) and records both in
    ``phase``."""
    def job():
        began = time.perf_counter()
        error = None
        try:
            value = call()
            error = check(value) if check is not None else None
        except Exception as err:  # any failure of a request is counted, never raised
            error = f"{type(err).__name__}: {err}"
        phase.record(time.perf_counter() - began, error)

    return job
