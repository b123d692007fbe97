"""Market service: each submission (an add, an update) runs in a process of its own, bounded in time and memory.

The market's checks import the learnware's ``__init__.py`` and run its model
(the learnware checker, the Know2Vec specification), so a submission runs the
developer's code. In the server process it would run under the lock every
other request waits on, with the server's pid, for as long as it liked. Here
the worker hands each submission to a child process forked from a zygote that
holds the market open (:mod:`.submission_child`; the storage is safe across
processes, see :mod:`~k2v_learnware.market.organizer`); the child adds or
updates and writes one JSON result (never a pickle: it ran untrusted code) to
a pipe, the worker holds no lock meanwhile and refreshes its view afterwards.

The child runs in a session of its own, so on expiry of
``submission_timeout_s`` its whole process group is killed and the client told
why; an add killed half-way leaves at most a pending row and a staging folder,
which the organizer removes as abandoned. The data memory it may add to what
the libraries hold is capped with ``RLIMIT_DATA`` (``RLIMIT_AS`` would count the
~2.2 GB of address space torch maps, so it bounds nothing useful); its
``TMPDIR`` and its output are a scratch folder of its own, removed afterwards
(the server logs the output's tail when a submission fails). The process is
not a sandbox: it can read and write what the service can.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .._logging import module_logger
from .replies import BUSY, INTERNAL, REJECTED, ServiceError
from .submission_child import HEADER

logger = module_logger("k2v_learnware.service")

#: Submissions one worker runs at once; more wait for a slot (each child may use a few hundred MB).
SLOTS = 2
#: How long the zygote may take to import and open the market, or to fork once it has brought it up to date.
START_ALLOWANCE_S = 600.0
_BOOT = ("import json, sys; setup = json.loads(sys.stdin.readline()); sys.path[:] = setup['sys_path']; "
         "from k2v_learnware.service.submission_child import zygote_main; zygote_main(setup)")


class Submissions:
    """The worker's side: fork a child for each submission through the zygote and read its result."""

    def __init__(self, settings):
        self.settings = settings
        self._slots = threading.BoundedSemaphore(SLOTS)
        self._zygote = _Zygote(settings)

    def run(self, request: dict) -> dict:
        """``{"learnware_id", "status", "reason"}`` of an ``{"action": "add" | "update", ...}`` request.

        A submission that overruns its time, or whose code ends its process, is
        a REJECTED ServiceError; one the market could not even start is INTERNAL.
        """
        timeout = self.settings.submission_timeout_s
        if not self._slots.acquire(timeout=timeout):
            raise ServiceError(BUSY, f"the market is busy checking other submissions; none finished within "
                                     f"{timeout:g} s, try again later")
        try:
            with tempfile.TemporaryDirectory(prefix="k2v_submission_") as scratch:
                return self._run(request, timeout, scratch)
        finally:
            self._slots.release()

    def _run(self, request: dict, timeout: float, scratch: str) -> dict:
        request = {**request, "scratch": scratch, "memory_bytes": self.settings.submission_memory_bytes}
        read_end, write_end = os.pipe()
        try:
            try:
                pid = self._zygote.fork(request, write_end)
            finally:
                os.close(write_end)
            answer = _read_line(read_end, timeout)
        finally:
            os.close(read_end)
        _kill_group(pid)  # past its time, or done: nothing it started outlives the submission
        output = _tail(Path(scratch) / "output.log")
        if answer is None:
            logger.warning(f"a submission ran past {timeout:g} s and was killed; its output ended: {output}")
            raise ServiceError(REJECTED, f"the learnware was refused: its checks ran longer than the market's "
                                         f"limit of {timeout:g} s and were stopped (does its code wait or loop?)")
        result = _as_result(answer)
        if result is None:
            logger.warning(f"a submission's process ended without a result; its output ended: {output}")
            raise ServiceError(REJECTED, "the learnware was refused: its checks ended without a result (did its "
                                         "code exit, or use more memory than the market allows?)")
        return result


class _Zygote:
    """The worker's handle on its zygote process, started on the first submission and again if it died."""

    def __init__(self, settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._channel: socket.socket | None = None

    def fork(self, request: dict, result_fd: int) -> int:
        """The pid of a child forked for ``request``, which writes its result to ``result_fd``."""
        payload = json.dumps(request).encode()
        with self._lock:
            for attempt in range(2):
                try:
                    if self._process is None or self._process.poll() is not None:
                        self._start()
                    socket.send_fds(self._channel, [HEADER.pack(len(payload))], [result_fd])
                    self._channel.sendall(payload)
                    reply = _channel_line(self._channel)
                except (OSError, ValueError) as err:  # it died meanwhile: once more with a fresh one
                    self._stop()
                    if attempt:
                        logger.error(f"the submission zygote failed: {type(err).__name__}: {err}")
                        raise ServiceError(INTERNAL, "the market could not run the submission; the server's log "
                                                     "has the details") from None
                    continue
                if reply.isdigit():
                    return int(reply)
                logger.error(f"the submission zygote could not fork: {reply}")
                raise ServiceError(INTERNAL, "the market could not run the submission; the server's log has the "
                                             "details")
        raise AssertionError("unreachable")

    def _start(self) -> None:
        s = self.settings
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        setup = {"sys_path": list(sys.path), "fd": theirs.fileno(), "root": str(s.root), "market": s.market,
                 "database_url": s.database_url}
        with theirs:
            self._process = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE,
                                             pass_fds=[theirs.fileno()], start_new_session=True)
        self._process.stdin.write(json.dumps(setup).encode() + b"\n")  # the database URL may hold a password
        self._process.stdin.close()
        self._channel = ours
        ours.settimeout(START_ALLOWANCE_S)
        ready = _channel_line(ours)
        if ready != "ready":
            self._stop()
            raise ValueError(f"the submission zygote did not start: {ready or 'it ended'}")

    def _stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = self._channel = None


def _channel_line(channel: socket.socket) -> str:
    """One ``\\n``-ended line from the zygote (short: a pid, ``ready`` or ``error ...``); raises OSError if it ends."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = channel.recv(4096)
        if not chunk:
            raise ConnectionError("the submission zygote closed its channel")
        data += chunk
    return data.decode("utf-8", errors="replace").strip()


def _read_line(fd: int, timeout: float) -> bytes | None:
    """The child's result line from the pipe ``fd``; None when it did not end within ``timeout`` s, b"" at EOF."""
    deadline, data = time.monotonic() + timeout, b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk or len(data) > 1 << 20:
            return data
        data += chunk
    return data.split(b"\n", 1)[0]


def _kill_group(pid: int) -> None:
    """Kill the child's process group: it and everything it started (the child made the group its first act;
    the zygote reaps it). Gone already is fine; the group id is never a bare pid that may have been reused."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - limit))
            return f.read().decode("utf-8", errors="replace").strip() or "(nothing)"
    except OSError:
        return "(nothing)"


def _as_result(answer: bytes):
    try:
        value = json.loads(answer)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) and {"learnware_id", "status"} <= set(value) else None
