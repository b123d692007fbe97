"""Market service: the side of a submission that runs the learnware's code, in a process of its own.

A worker starts one *zygote* process (:func:`zygote_main`): it imports torch,
``learnware`` and the market once, opens the market (loading every stored
learnware once), and then, for each submission the worker sends, brings its
view of the market up to date (only what changed since the last one: one small
query and the new learnwares) and forks a child. The zygote never runs a
learnware's code itself: loading a stored learnware reads its specifications
through allow-listed classes and never imports its model. The child
(:func:`_child`) starts a session of its own, drops the inherited database
connections, caps its data memory, sends its output to the submission's
scratch folder, adds or updates, and writes one JSON line to the result pipe
the worker handed over with the request. Opening the market in every child
instead cost ~40 ms per stored learnware on each add (2.3 s an add with 40).

Protocol on the worker's socket: the zygote answers ``ready`` once the market
is open (or ``error <why>``); each request is an 8-byte length sent with the
result pipe's descriptor, then that many bytes of JSON; the zygote answers the
child's pid (or ``error <why>``). Lines end in ``\\n``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import struct
import sys

HEADER = struct.Struct("!Q")
#: Modules a learnware's model commonly needs, imported once by the zygote rather than by every child (the
#: classifiers ``pack --train`` makes are scikit-learn's: importing sklearn.linear_model took an add from
#: 1.26 to 0.32 s).
PRELOAD = ("sklearn.linear_model", "sklearn.svm", "sklearn.ensemble", "sklearn.neighbors", "sklearn.tree",
           "sklearn.pipeline", "sklearn.preprocessing")


def zygote_main(setup: dict) -> None:
    """Serve the worker on the socket ``setup["fd"]`` until it goes away."""
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the setup pipe is read; children inherit nothing of it
    channel = socket.socket(fileno=int(setup["fd"]))
    try:
        market = _open_market(setup)
    except Exception as err:  # the market, not a learnware: the worker reports it as an internal error
        channel.sendall(f"error {type(err).__name__}: {err}".replace("\n", " ").encode() + b"\n")
        return
    channel.sendall(b"ready\n")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; the worker reads pipes
    while True:
        received = _receive(channel)
        if received is None:  # the worker went away
            return
        payload, result_fd = received
        try:
            request = json.loads(payload)
            market.learnware_organizer.refresh()  # what other processes changed since the last submission
            pid = os.fork()
        except Exception as err:
            os.close(result_fd)
            channel.sendall(f"error {type(err).__name__}: {err}".replace("\n", " ").encode() + b"\n")
            continue
        if pid == 0:
            channel.close()  # the learnware's code must not reach the worker's channel
            try:
                _child(market, request, result_fd)
            finally:
                os._exit(0)
        os.close(result_fd)
        channel.sendall(f"{pid}\n".encode())


def _receive(channel):
    """``(payload bytes, result fd)`` of the next request, or None when the worker closed the channel."""
    header, fds, _, _ = socket.recv_fds(channel, HEADER.size, 1)
    if not header:
        return None
    while len(header) < HEADER.size:
        more = channel.recv(HEADER.size - len(header))
        if not more:
            return None
        header += more
    (size,) = HEADER.unpack(header)
    chunks, left = [], size
    while left:
        chunk = channel.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    if len(fds) != 1:
        raise RuntimeError("a submission request came without its result pipe")
    return b"".join(chunks), fds[0]


def _open_market(setup: dict):
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import learnware
    import torch

    torch.set_num_threads(1)  # no thread pool to inherit across fork
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    learnware.init(verbose=False, logging_level=logging.WARNING)
    from ..market import instantiate_market

    return instantiate_market(setup["market"], root=setup["root"], database_url=setup["database_url"],
                              strict=False)


def _child(market, request: dict, result_fd: int) -> None:
    """The forked child: set its bounds, run the submission, write its JSON result line."""
    import resource
    import tempfile

    os.setsid()  # a group of its own: the worker kills it and whatever it started at once
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own children are its to wait for
    market.learnware_organizer.store.engine.dispose(close=False)  # the zygote's connections stay the zygote's
    memory = int(request.get("memory_bytes") or 0)
    if memory:  # on top of what the libraries already hold (torch alone: ~1 GB of data mappings)
        limit = _data_bytes() + memory
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    scratch = request["scratch"]
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = None
    log = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # print() of the learnware's code, and C-level output, go to the scratch folder
    os.dup2(log, 2)
    os.close(log)
    try:
        result = _submit(market, request)
    except BaseException as err:  # the learnware's code raised past the checks, or called sys.exit
        result = {"learnware_id": None, "status": -1,
                  "reason": f"its code stopped the check: {type(err).__name__}: {err}"}
    line = json.dumps(result).encode() + b"\n"
    while line:
        line = line[os.write(result_fd, line):]
    os.close(result_fd)
    sys.stdout.flush(), sys.stderr.flush()


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
