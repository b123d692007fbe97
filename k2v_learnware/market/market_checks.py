"""Market stage: the checks the market's public entries apply to their arguments before anything is stored.

A market keeps what it is given for good, so a wrong value must be refused
where it is given, with a message naming it: ``bool("False")`` is True (a
``rebuild`` read from a config file would delete every learnware), ``int(2.9)``
is 2 (a status would be stored that no checker gave), an unknown Know2Vec
option would make every later add fail far from where it was set, and an int
id or a long owner behaves differently on SQLite and PostgreSQL. Nothing here
imports ``learnware`` (the store and the listing use these checks too).
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from .._checks import positive_float, positive_int, seed_int

#: ``BaseChecker.NONUSABLE_LEARNWARE`` and ``USABLE_LEARNWARE``, the statuses a stored learnware may carry
#: (``INVALID_LEARNWARE``, -1, is a refusal and never stored); a test checks them against ``learnware``'s.
STORED_STATUSES = (0, 1)

#: The owner column's width (``store.learnware_table``): SQLite would keep a longer one, PostgreSQL refuses it.
MAX_OWNER = 320


def check_flag(value, name: str) -> bool:
    """``value`` if it is a real bool (numpy's too); a TypeError otherwise (``bool("False")`` is True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r})")
    return bool(value)


def _know2vec_option_names() -> tuple[str, ...]:
    from ..specification.know2vec import Know2VecSpecification

    parameters = inspect.signature(Know2VecSpecification.generate_stat_spec_from_system).parameters
    return tuple(name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)


#: How each option's value is checked, as ``generate_know2vec_spec`` will check it on every add.
_OPTION_CHECKS = {
    "max_retries": positive_int,
    "max_queries": positive_int,
    "seed": seed_int,
    "tol": lambda value, name: None if value is None else positive_float(value, name),
}


def check_know2vec_options(options) -> dict:
    """A copy of ``options`` for ``generate_know2vec_spec`` (``{}`` for None); unknown names and bad values are
    refused when the market opens rather than on every later add."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"know2vec_options must be a dict of generate_know2vec_spec options, got "
                        f"{type(options).__name__}")
    known = _know2vec_option_names()
    unknown = sorted(str(k) for k in options if k not in known)
    if unknown:
        raise ValueError(f"know2vec_options: unknown option(s) {unknown}; generate_know2vec_spec takes "
                         f"{sorted(known)}")
    for name, value in options.items():
        if name in _OPTION_CHECKS:
            _OPTION_CHECKS[name](value, f"know2vec_options[{name!r}]")
    return dict(options)



def stored_status(value) -> int:
    """A status to store: NONUSABLE_LEARNWARE (0) or USABLE_LEARNWARE (1) as an int, else a ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or int(value) not in STORED_STATUSES:
        raise ValueError(f"check_status must be None, BaseChecker.NONUSABLE_LEARNWARE ({STORED_STATUSES[0]}) or "
                         f"BaseChecker.USABLE_LEARNWARE ({STORED_STATUSES[1]}), got {value!r}")
    return int(value)


def check_learnware_id(value) -> str:
    """``value`` if it is a str (the market's ids are strings such as "00000001"), else a TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"learnware id must be a str such as '00000001', got {type(value).__name__} ({value!r})")
    return value


def check_owner(value) -> str | None:
    """``value`` if it is None or a str of at most ``MAX_OWNER`` characters (one limit on every database)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"owner must be a str or None, got {type(value).__name__} ({value!r})")
    if len(value) > MAX_OWNER:
        raise ValueError(f"owner must be at most {MAX_OWNER} characters, got {len(value)}")
    return value
