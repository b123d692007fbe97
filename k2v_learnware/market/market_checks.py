"""Market stage: the checks the market's public entries apply to their arguments before anything is stored.

A market keeps what it is given for good, so a wrong value must be refused
where it is given, with a message naming it: ``bool("False")`` is True (a
``rebuild`` read from a config file would delete every learnware), and an
unknown Know2Vec option would make every later add fail far from where it was
set.
"""

from __future__ import annotations

import inspect

import numpy as np

from .._checks import positive_float, positive_int, seed_int


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

