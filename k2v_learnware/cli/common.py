"""Pieces every ``k2v-learnware`` command shares: errors, outcomes, output and the learnware setup.

Serves all stages of the learnware paradigm at once (a developer's
specification and submission, the market's storage, a user's search and
reuse): whatever a command does, it reports success as an :class:`Outcome`
and bad input as a :class:`CLIError`, so that :mod:`.dispatch` can print
either the same way. Nothing heavy is imported here; ``learnware`` only when
:func:`init_learnware` is called.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROG = "k2v-learnware"


class CLIError(Exception):
    """An error to report as ``k2v-learnware: error: <message>`` with exit code ``code`` (2: bad input).

    Commands raise it for problems the user can fix, so the message is all
    they see: no traceback, and an exit code scripts can tell from a crash.
    """

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    """What a subcommand produced: a JSON-able payload, its human rendering, and the exit code.

    Commands build both renderings and let :mod:`.dispatch` choose, so
    ``--json`` never needs a branch inside a command.
    """

    payload: dict
    text: str
    code: int = 0


def say(args, message: str) -> None:
    """Chatter for a human on stderr; silenced by --quiet (stdout is kept for results)."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def report_error(args, message: str, code: int) -> int:
    """Print the one ``k2v-learnware: error:`` line (and, under --json, the error as the JSON document).

    Returns ``code`` so callers can ``return report_error(...)`` as their exit code.
    """
    print(f"{PROG}: error: {message}", file=sys.stderr)
    if args is not None and args.json:
        print(json.dumps({"error": message, "exit_code": code}))
    return code


def existing_file(path, what: str) -> Path:
    """``path`` as a Path, checked to be a file, so a typo is reported by name before any heavy work."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not path.is_file():
        raise CLIError(f"{what} {path} is not a file")
    return path


def writable_output(path, what: str = "output") -> Path:
    """``path`` as a Path, checked to be writable before any work (a directory or a read-only place is refused).

    An existing path must be a regular file: outputs are written under a
    temporary name and renamed over the target, which would replace a device,
    a FIFO or a socket by a plain file (``-o /dev/full`` run as root did).
    """
    import stat
    import uuid

    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{what} {path} is a directory; give a file name")
    try:
        mode = path.stat().st_mode  # follows a link: what a write would reach
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise CLIError(f"{what} {path} cannot be written: {err.strerror or err}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise CLIError(f"{what} {path} is {kind}; give the name of a regular file to write")
    probe = path.parent / f".{path.name}.{uuid.uuid4().hex}.probe"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
    except OSError as err:
        raise CLIError(f"{what} {path} cannot be written: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return path


def to_jsonable(value):
    """``json.dumps`` fallback for numpy scalars, arrays and paths, which payloads carry as they come."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout (Python or C level) to stderr, so --json output stays clean.

    Libraries print progress and solver logs to stdout; under --json the one
    document on stdout must be ours alone.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout file descriptor
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def init_learnware(quiet: bool) -> None:
    """Quiet the learnware loggers: they take their level when first created, so this runs before any import."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # qpsolvers converts our dense QP matrices for clarabel on every solve; nothing a user can act on.
    warnings.filterwarnings("ignore", message="Converted matrix .* to scipy.sparse")
    if quiet:
        warnings.filterwarnings("ignore")
    import learnware

    learnware.init(verbose=False, logging_level=logging.ERROR if quiet else logging.WARNING)
