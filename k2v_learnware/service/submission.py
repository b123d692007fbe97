"""Market service: each submission (an add, an update) runs in a process of its own, bounded in time and memory.

The market's checks import the learnware's ``__init__.py`` and run its model
(the learnware checker, the Know2Vec specification), so a submission runs the
developer's code. In the server process it would run under the lock every
other request waits on, with the server's pid, for as long as it liked. Here
the worker hands each submission to a fresh process that opens the same market
(root, market id, database URL: the storage is safe across processes, see
:mod:`~k2v_learnware.market.organizer`), adds or updates, and sends back one
JSON result; the worker holds no lock meanwhile and refreshes its view of the
market afterwards.

The processes are forked from a ``multiprocessing`` fork server that has
imported torch, ``learnware`` and the market once (a fresh interpreter would
spend ~4 s importing them on every add); each child is a clean fork of it,
never of a process that ran a learnware's code. A child starts a session of
its own, so on expiry of ``submission_timeout_s`` (counted once the child has
opened the market, which loads every stored learnware: ~40 ms each here, an
allowance of its own) its whole process group is killed and the client told why; an add killed half-way leaves at most a
pending row and a staging folder, which the organizer removes as abandoned.
The data memory it may add to what the libraries hold is capped with
``RLIMIT_DATA`` (``RLIMIT_AS`` would count the ~2.2 GB of address space torch
maps, so it bounds nothing useful), its
``TMPDIR`` is a folder of its own removed afterwards, its output goes to a file
there (the server logs the tail when a submission fails), and its result comes
back as JSON bytes, never a pickle: the child ran untrusted code. The process
is not a sandbox: it can read and write what the service can.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import tempfile
import threading
from pathlib import Path

from .._logging import module_logger
from .replies import BUSY, INTERNAL, REJECTED, ServiceError

logger = module_logger("k2v_learnware.service")

#: Submissions one worker runs at once; more wait for a slot (each process may use a few hundred MB).
SLOTS = 2
#: Imported once by the fork server, so a submission's process starts with them loaded.
PRELOAD = ["k2v_learnware.service.submission", "k2v_learnware.market.k2v_market", "sklearn.linear_model"]
_context_lock = threading.Lock()
#: The child's first message: the market is open, the learnware's part (what the time limit bounds) begins.
OPENED = b"opened"


def _forkserver():
    with _context_lock:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # read when the server first starts
        return context


class Submissions:
    """The worker's side: run a submission in a child process and read its result."""

    def __init__(self, settings):
        self.settings = settings
        self._slots = threading.BoundedSemaphore(SLOTS)

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
            return self._run(request, timeout)
        finally:
            self._slots.release()

    def _run(self, request: dict, timeout: float) -> dict:
        s = self.settings
        request = {**request, "root": str(s.root), "market": s.market, "database_url": s.database_url,
                   "memory_bytes": s.submission_memory_bytes}
        context = _forkserver()
        with tempfile.TemporaryDirectory(prefix="k2v_submission_") as scratch:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=child_main, args=(json.dumps(request), scratch, send), daemon=True)
            process.start()
            send.close()
            with receive:
                answer = _receive(receive, timeout)  # first: the market is open (its own allowance) ...
                opened = answer == OPENED
                if opened:
                    answer = _receive(receive, timeout)  # ... then the learnware's part, within the limit
            if answer is None:
                _kill_group(process)
            process.join(30)
            if process.is_alive():
                _kill_group(process)
            output = _tail(Path(scratch) / "output.log")
        if not opened and not answer:  # no learnware code ran yet: the market's fault, not the submission's
            logger.error(f"a submission's process did not open the market in {timeout:g} s (exit code "
                         f"{process.exitcode}); its output ended: {output}")
            raise ServiceError(INTERNAL, "the market could not run the submission; the server's log has the details")
        if answer is None:
            logger.warning(f"a submission ran past {timeout:g} s and was killed; its output ended: {output}")
            raise ServiceError(REJECTED, f"the learnware was refused: its checks ran longer than the market's "
                                         f"limit of {timeout:g} s and were stopped (does its code wait or loop?)")
        result = _as_result(answer)
        if result is None:
            logger.warning(f"a submission's process ended with exit code {process.exitcode} and no result; its "
                           f"output ended: {output}")
            raise ServiceError(REJECTED, f"the learnware was refused: its checks ended without a result (exit "
                                         f"code {process.exitcode}: did its code exit, or use more memory than the "
                                         "market allows?)")
        if "error" in result:
            logger.error(f"a submission could not run: {result['error']}; its output ended: {output}")
            raise ServiceError(INTERNAL, "the market could not run the submission; the server's log has the details")
        return result


def _receive(receive, timeout: float):
    """The next message from the child: its bytes, None when none came in ``timeout`` s, b"" when it ended."""
    try:
        return receive.recv_bytes(1 << 20) if receive.poll(timeout) else None
    except (EOFError, OSError):
        return b""


def _kill_group(process) -> None:
    """Kill the child and everything it started (a session of its own)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not yet its own group leader
        process.kill()


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - limit))
            return f.read().decode("utf-8", errors="replace").strip() or "(nothing)"
    except OSError:
        return "(nothing)"


def _as_result(answer):
    try:
        value = json.loads(answer)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) and ("error" in value or {"learnware_id", "status"} <= set(value)) \
        else None


# ----------------------------------------------------------------------------------------------- the child
def child_main(request_text: str, scratch: str, send) -> None:
    """Run one submission in this forked process and send its result as JSON bytes."""
    import resource
    import tempfile as child_tempfile

    os.setsid()  # a group of its own: the worker kills it and whatever it started at once
    request = json.loads(request_text)
    memory = int(request.get("memory_bytes") or 0)
    if memory:  # on top of what the fork server's libraries already hold (torch alone: ~1 GB of data mappings)
        limit = _data_bytes() + memory
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    os.environ.update(TMPDIR=scratch, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    child_tempfile.tempdir = None
    log = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # print() of the learnware's code, and C-level output, go to the scratch folder
    os.dup2(log, 2)
    try:
        market = _open_market(request)
    except Exception as err:  # the market, not the learnware: the worker reports an internal error
        result = {"error": f"{type(err).__name__}: {err}"}
    else:
        send.send_bytes(OPENED)
        try:
            result = _submit(market, request)
        except BaseException as err:  # the learnware's code raised past the checks, or called sys.exit
            result = {"learnware_id": None, "status": -1,
                      "reason": f"its code stopped the check: {type(err).__name__}: {err}"}
        finally:
            market.learnware_organizer.store.engine.dispose()
    send.send_bytes(json.dumps(result).encode())
    send.close()


def _data_bytes() -> int:
    """This process's data memory now (``VmData``: what RLIMIT_DATA counts); 0 where /proc cannot say."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _open_market(request: dict):
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import learnware

    learnware.init(verbose=False, logging_level=logging.WARNING)
    from ..market import instantiate_market

    return instantiate_market(request["market"], root=request["root"], database_url=request["database_url"],
                              strict=False)


def _submit(market, request: dict) -> dict:
    if request["action"] == "add":
        learnware_id, status = market.add_learnware(request["zip"], request["semantic"], owner=request["owner"])
    elif request["action"] == "update":
        learnware_id = request["learnware_id"]
        status = market.update_learnware(learnware_id, zip_path=request.get("zip"),
                                         semantic_spec=request["semantic"])
    else:
        raise ValueError(f"unknown submission action {request['action']!r}")
    return {"learnware_id": learnware_id, "status": int(status), "reason": market.rejection_message}
