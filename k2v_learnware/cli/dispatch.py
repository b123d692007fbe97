"""``main``: parse the command line, run one command, print its outcome, turn failures into exit codes.

Serves every stage of the learnware paradigm the same way, so that scripts
driving a market (a developer's submissions, a user's searches) can rely on
one contract: one result on stdout (one JSON document under ``--json``),
``k2v-learnware: error: ...`` on stderr otherwise, exit code 0 on success, 2
for bad input or usage, 1 for any other failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

from .common import CLIError, report_error, stdout_to_stderr, to_jsonable
from .parser import build_parser


def main(argv=None) -> int:
    """Run one command; returns the exit code (0 success, 2 bad input or usage, 1 other failure)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    for flag in ("json", "quiet", "debug"):
        if not hasattr(args, flag):
            setattr(args, flag, False)
    if args.command is None:
        return report_error(args, f"a command is required; see `{parser.prog} --help`", 2)

    try:
        with (stdout_to_stderr() if args.json else contextlib.nullcontext()):
            outcome = args.func(args)
    except KeyboardInterrupt:
        return report_error(args, "interrupted", 130)
    except Exception as exc:
        return _failure(args, exc)
    try:
        text = json.dumps(outcome.payload, default=to_jsonable, allow_nan=False) if args.json else outcome.text
    except ValueError:  # JSON has no NaN: a result that holds one is an error, not invalid JSON on stdout
        return report_error(args, "the result holds a NaN or infinite number, which JSON cannot carry", 1)
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `k2v-learnware ... | head`: the reader left, which is not our failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return outcome.code


def _failure(args, exc: Exception) -> int:
    """Report a command's exception as one error line; 2 when the input was at fault, else 1.

    Bad files and values surface from deep inside numpy, jsonschema or
    ``learnware`` as these built-in types; the user can fix them, so they
    get the message alone. Anything else may be a bug, hence the --debug hint.
    """
    from ..specification.formats import SpecificationFormatError

    if args.debug:
        import traceback

        traceback.print_exc()
    if isinstance(exc, CLIError):
        return report_error(args, str(exc), exc.code)
    if isinstance(exc, FileNotFoundError):
        message = str(exc) if not exc.filename else f"file not found: {exc.filename}"
        return report_error(args, message, 2)
    if isinstance(exc, (SpecificationFormatError, ValueError, TypeError, IsADirectoryError, PermissionError)):
        return report_error(args, str(exc), 2)
    kind = "" if isinstance(exc, (RuntimeError, OSError)) else f"{type(exc).__name__}: "
    hint = "" if args.debug else " (run with --debug for a traceback)"
    return report_error(args, f"{kind}{exc}{hint}", 1)
