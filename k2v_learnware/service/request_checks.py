"""Market service: what a request may hold, checked before the market sees it.

JSON bodies are pydantic models with bounded fields; semantic specifications
are JSON objects of ``{"Values": str | [str], "Type": str}`` fields without NaN,
infinities or deep nesting; learnware ids are short, safe names.
"""

from __future__ import annotations

import json
import math
import re

from pydantic import BaseModel, Field

from .replies import BAD_REQUEST, ServiceError

LEARNWARE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_SEMANTIC_CHARS = 1 << 20


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    token: str = Field(max_length=256)


class ListBody(BaseModel):
    page: int = Field(0, ge=0, le=10**6)
    limit: int = Field(10000, ge=1, le=100000)


class LearnwareBody(BaseModel):
    learnware_id: str = Field(max_length=40)


class AddUploadedBody(BaseModel):
    file_hash: str = Field(max_length=64)
    semantic_specification: str = Field(max_length=MAX_SEMANTIC_CHARS)


#: Integers a float64 holds exactly; a larger one (400 digits) overflows when read as a float.
MAX_JSON_INT = 2**53


class _Refused(ValueError):
    """A number JSON can spell but a request may not hold."""


def _no_constants(name):
    raise _Refused(f"non-finite number {name} is not allowed")


def _bounded_int(text: str) -> int:
    value = int(text)  # Python's digit limit (4300) refuses longer ones as a ValueError
    if abs(value) > MAX_JSON_INT:
        raise _Refused(f"integer {text[:20]}{'...' if len(text) > 20 else ''} is too large (beyond 2**53)")
    return value


def _check_finite(value, where="semantic_specification"):
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceError(BAD_REQUEST, f"{where} holds a non-finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, where)


def strict_json(text, field: str):
    """JSON from a request field; NaN, infinities spelled out, integers beyond 2**53, bad encodings and deep
    nesting refused (a float beyond 1e308 parses to an infinity, refused where numbers are read)."""
    try:
        return json.loads(text, parse_constant=_no_constants, parse_int=_bounded_int)
    except RecursionError:
        raise ServiceError(BAD_REQUEST, f"{field} is nested too deeply") from None
    except _Refused as err:
        raise ServiceError(BAD_REQUEST, f"{field}: {err}") from None
    except (TypeError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise ServiceError(BAD_REQUEST, f"{field} is not JSON: {err}") from None


def semantic_spec(text) -> dict:
    """A semantic specification: a JSON object of fields, each ``{"Values": str | [str], "Type": str}``."""
    value = strict_json(text, "semantic_specification")
    if not isinstance(value, dict):
        raise ServiceError(BAD_REQUEST, f"semantic_specification must be a JSON object, got "
                                        f"{type(value).__name__}")
    try:
        _check_finite(value)
    except RecursionError:
        raise ServiceError(BAD_REQUEST, "semantic_specification is nested too deeply") from None
    for key, field in value.items():
        if not isinstance(field, dict):
            raise ServiceError(BAD_REQUEST, f"semantic_specification.{key} must be an object, got "
                                            f"{type(field).__name__}")
        values = field.get("Values", "")
        if not (isinstance(values, str) or (isinstance(values, list) and all(isinstance(v, str) for v in values))):
            if key not in ("Input", "Output"):
                raise ServiceError(BAD_REQUEST, f"semantic_specification.{key}.Values must be a string or a list "
                                                "of strings")
        if not isinstance(field.get("Type", ""), str):
            raise ServiceError(BAD_REQUEST, f"semantic_specification.{key}.Type must be a string")
    return value


def learnware_id(value) -> str:
    if not isinstance(value, str) or not LEARNWARE_ID.fullmatch(value):
        raise ServiceError(BAD_REQUEST, f"learnware_id must be 1-40 letters, digits, '.', '_' or '-' starting "
                                        f"with a letter or digit, got "
                                        f"{str(value)[:80]!r}")
    return value
