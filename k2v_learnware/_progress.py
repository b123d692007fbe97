"""Progress bars for long work: on a terminal only, never in a log file, a pipe or CI output."""

from __future__ import annotations

import sys


def progress(iterable=None, *, verbose: bool = True, **options):
    """A ``tqdm`` bar over ``iterable`` (or a manual one), shown when ``verbose`` and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not (verbose and sys.stderr.isatty()), **options)
