"""Running a real market service for the tests: ``k2v-learnware serve`` on a free local port."""

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
#: The pid of each running server, by its URL (with one worker, the process that answers).
SERVER_PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(root, market: str, database_url=None, workers: int = 1, extra=()):
    """Start ``k2v-learnware serve`` and yield its base URL once it answers; stop it afterwards."""
    port = free_port()
    log = Path(root) / f"server-{port}.log"
    cmd = [sys.executable, "-m", "k2v_learnware.cli", "serve", "--quiet", "--root", str(root), "--market", market,
           "--port", str(port), "--workers", str(workers), *extra]
    if database_url:
        cmd += ["--database-url", database_url]
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/engine/semantic_specification", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise AssertionError(f"server did not answer in 240 s: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        if workers > 1:  # every worker has built its app once all of them answer; give the rest a moment
            _wait_for_workers(url, workers)
        SERVER_PIDS[url] = proc.pid
        yield url
    finally:
        SERVER_PIDS.pop(url, None)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_workers(url: str, workers: int, seconds: float = 60) -> None:
    """uvicorn answers as soon as one worker is up; wait until requests stop failing for a few in a row."""
    deadline, streak = time.time() + seconds, 0
    while streak < 4 * workers and time.time() < deadline:
        try:
            streak = streak + 1 if requests.get(f"{url}/engine/semantic_specification", timeout=5).ok else 0
        except requests.RequestException:
            streak = 0
        time.sleep(0.1)


def issue_token(root, market: str, email: str, database_url=None) -> str:
    """A developer token, through the ``k2v-learnware token add`` command (its last line)."""
    cmd = [sys.executable, "-m", "k2v_learnware.cli", "token", "add", email, "--quiet", "--root", str(root),
           "--market", market]
    if database_url:
        cmd += ["--database-url", database_url]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]
