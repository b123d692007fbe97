"""Service benchmark: the server process under test, its HTTP client, and one-thread pinning.

:class:`ServiceProcess` runs ``k2v-learnware serve`` (2 workers, one thread each)
on a free port of 127.0.0.1 and always stops it; :class:`Client` makes the
two operations the stock ``LearnwareClient`` makes (search and upload), a new
connection per request; :func:`build_zips` and :func:`build_requirements` make
the digits learnwares and LANE requirements the benchmark sends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MARKET = "bench-service"
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SEARCH_LIMIT = 10

def _digits():
    from .settings import load_setting

    return load_setting("digits", quick=False, seed=0, verbose=False)


def build_zips(setting, count: int, first: int, folder: Path) -> list[Path]:
    """``count`` distinct learnware zips, numbered from ``first``: digit-class pair ``k % 45``, seed ``k // 45``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from .. import generate_lane_spec, pack_learnware

    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    paths = []
    for k in range(first, first + count):
        (a, b), seed = pairs[k % len(pairs)], k // len(pairs)
        rows = np.flatnonzero(np.isin(setting.y_train, (a, b)))
        model = LogisticRegression(max_iter=300).fit(setting.X_train[rows], setting.y_train[rows])
        spec = generate_lane_spec(setting.X_train[rows], setting.y_train[rows], num_per_class=3, iterations=3,
                                  seed=seed, verbose=False)
        paths.append(pack_learnware(model, spec, folder / f"lw-{k:04d}.zip", name=f"digits-{a}-{b}-seed{seed}"))
    return paths


def build_requirements(setting, count: int, seed: int, folder: Path) -> list[Path]:
    """``count`` users' requirements (LANE JSON files): 60 test rows of 2 to 6 random digit classes."""
    import numpy as np

    from .. import generate_lane_spec

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        classes = rng.choice(10, size=2 + i % 5, replace=False)
        rows = rng.choice(np.flatnonzero(np.isin(setting.y_test, classes)), size=60, replace=False)
        spec = generate_lane_spec(setting.X_test[rows], num_per_class=10, iterations=20, seed=seed + i,
                                  verbose=False)
        path = folder / f"requirement-{i:03d}.json"
        spec.save(str(path))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- server
class ServiceProcess:
    """``k2v-learnware serve`` on a free port of 127.0.0.1, one thread per worker; ``stop()`` ends it.

    It logs at uvicorn's info level (an access line per request, as a deployed
    server would), which also tells when every worker has built its application.
    """

    def __init__(self, root: Path, database_url: str, workers: int, log: Path):
        from .local_postgres import free_port

        self.port, self.log, self.workers = free_port("127.0.0.1"), log, workers
        self.url = f"http://127.0.0.1:{self.port}"
        # setpriv --pdeathsig: the server gets SIGTERM should this process die without its finally clauses
        guard = [setpriv, "--pdeathsig", "TERM", "--"] if (setpriv := shutil.which("setpriv")) else []
        command = guard + [sys.executable, "-m", "k2v_learnware.cli", "serve", "--root", str(root),
                   "--market", MARKET, "--database-url", database_url, "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", str(workers)]
        with open(log, "w") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **SINGLE_THREAD})

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_until_serving(self, seconds: float = 300) -> None:
        """Until every worker has started its application and the server answers."""
        import requests

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}:\n{self.log_tail()}")
            started = self.log.read_text(errors="replace").count("Application startup complete.")
            try:
                if started >= self.workers and requests.get(f"{self.url}/engine/semantic_specification",
                                                            timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the service was not serving after {seconds:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the worker processes have used so far; None where /proc cannot tell."""
        try:
            children = set()
            for listing in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
                children.update(int(pid) for pid in listing.read_text().split())
            total, tick = 0.0, os.sysconf("SC_CLK_TCK")
            for pid in children:
                if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue  # multiprocessing's resource tracker, not a worker
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            return total
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """The two operations over HTTP; a new connection per request, as the stock ``LearnwareClient`` makes
    (so the server's workers share the connections as they come, not as kept-alive sessions were bound)."""

    def __init__(self, url: str):
        self.url = url

    def _post(self, path: str, **kwargs) -> dict:
        import requests

        response = requests.post(self.url + path, timeout=300, **kwargs)
        try:
            reply = response.json()
        except ValueError:
            raise RuntimeError(f"{path}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}") from None
        if response.status_code != 200 or reply.get("code") != 0:
            raise RuntimeError(f"{path}: HTTP {response.status_code}, code {reply.get('code')}: "
                               f"{str(reply.get('msg'))[:300]}")
        return reply["data"]

    def search(self, requirement: bytes, semantic: str) -> dict:
        return self._post("/engine/search_learnware", data={"semantic_specification": semantic,
                                                             "limit": str(SEARCH_LIMIT), "page": "0"},
                          files={"statistical_specification": ("requirement.json", requirement, "application/json")})

    def upload(self, zip_bytes: bytes, semantic: str, token: str) -> str:
        auth = {"Authorization": f"Bearer {token}"}
        file_hash = hashlib.md5(zip_bytes).hexdigest()
        self._post("/user/chunked_upload", headers=auth, data={"file_hash": file_hash, "chunk_begin": "0"},
                   files={"chunk_file": ("learnware.zip", zip_bytes, "application/octet-stream")})
        added = self._post("/user/add_learnware_uploaded", headers=auth,
                           json={"file_hash": file_hash, "semantic_specification": semantic})
        return added["learnware_id"]


class _one_thread:
    """BLAS, OpenMP and torch limited to one thread here, as in each server worker (OMP_NUM_THREADS=1)."""

    def __enter__(self):
        import torch
        from threadpoolctl import threadpool_limits

        self._torch = torch.get_num_threads()
        torch.set_num_threads(1)
        self._limits = threadpool_limits(1)
        return self

    def __exit__(self, *exc):
        import torch

        self._limits.restore_original_limits()
        torch.set_num_threads(self._torch)
