"""Our loggers, made the ``learnware`` way (its level and format) but once per name.

``learnware.logger.get_module_logger`` adds a console handler on every call, so
five modules asking for ``k2v_learnware.market`` printed every line five times.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def module_logger(name: str):
    """The logger ``name`` with one console handler at ``learnware``'s configured level."""
    from learnware.logger import get_module_logger

    return get_module_logger(name)
