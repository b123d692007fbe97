"""Market service: what a request may hold, checked before the market sees it.

JSON bodies are pydantic models with bounded fields; semantic specifications
are JSON objects of ``{"Values": str | [str], "Type": str}`` fields without NaN,
infinities or deep nesting; learnware ids are short, safe names.
"""

from __future__ import annotations

import json
import math
import re

from pydantic import BaseModel, Field, field_validator

from .replies import BAD_REQUEST, ServiceError

LEARNWARE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_SEMANTIC_CHARS = 1 << 20
#: The tasks ``learnware``'s semantic check allows for each kind of data.
TASKS_FOR = {"Table": ("Classification", "Regression", "Feature Extraction", "Others"),
             "Image": ("Classification", "Regression", "Feature Extraction", "Segmentation", "Object Detection",
                       "Others"),
             "Text": ("Classification", "Regression", "Feature Extraction", "Text Generation", "Others")}
#: Largest input or output dimension a semantic specification may state.
MAX_DIMENSION = 10**7


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    token: str = Field(max_length=256)


class ListBody(BaseModel):
    page: int = Field(0, ge=0, le=10**6)
    limit: int = Field(10000, ge=1, le=100000)

    @field_validator("page", "limit", mode="before")
    @classmethod
    def _not_a_truth_value(cls, value):
        """``true`` is not page 1 (pydantic's lax ints take it); numbers as text stay allowed, as on Beimingwu."""
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true or false")
        return value


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
        if key in ("Input", "Output"):
            _dimensions(key, field)
            continue
        values = field.get("Values", "")
        if not (isinstance(values, str) or (isinstance(values, list) and all(isinstance(v, str) for v in values))):
            raise ServiceError(BAD_REQUEST, f"semantic_specification.{key}.Values must be a string or a list "
                                            "of strings")
        if not isinstance(field.get("Type", ""), str):
            raise ServiceError(BAD_REQUEST, f"semantic_specification.{key}.Type must be a string")
    return value


def _dimensions(key: str, field: dict) -> None:
    """``Input``/``Output``: ``{"Dimension": 1..MAX_DIMENSION, "Description": {"<index>": str}}``."""
    where = f"semantic_specification.{key}"
    dim = field.get("Dimension")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIMENSION:
        raise ServiceError(BAD_REQUEST, f"{where}.Dimension must be an integer from 1 to {MAX_DIMENSION}, got "
                                        f"{str(dim)[:40]}")
    description = field.get("Description", {})
    if not isinstance(description, dict):
        raise ServiceError(BAD_REQUEST, f"{where}.Description must be an object of index: text")
    for index, text in description.items():
        if not (index.isdigit() and int(index) < dim) or not isinstance(text, str):
            raise ServiceError(BAD_REQUEST, f"{where}.Description maps an index in [0, {dim}) to a string; got "
                                            f"{index[:20]!r}: {str(text)[:40]!r}")


def learnware_semantic_spec(text) -> dict:
    """A developer's semantic specification (add, update): the shape above, then ``learnware``'s vocabulary.

    The market's ``EasySemanticChecker`` would refuse the same specification
    later, but with a Python traceback for a reason; here every field of
    ``C.semantic_specs`` is checked first, each refusal one line.
    """
    from learnware.config import C
    from learnware.market import EasySemanticChecker

    value = semantic_spec(text)
    required = ", ".join(k for k, rule in C.semantic_specs.items() if rule["Type"] != "Optional")
    for key, rule in C.semantic_specs.items():
        where = f"semantic_specification.{key}"
        if key not in value:
            if rule["Type"] == "Optional":
                continue
            raise ServiceError(BAD_REQUEST, f"{where} is missing; a learnware's semantic specification has "
                                            f"{required}")
        field, allowed = value[key], rule["Values"]
        if field.get("Type") != rule["Type"]:
            raise ServiceError(BAD_REQUEST, f"{where}.Type must be {rule['Type']!r}, got "
                                            f"{str(field.get('Type'))[:40]!r}")
        values = field.get("Values")
        if rule["Type"] in ("Class", "Optional", "Tag"):
            one = rule["Type"] != "Tag"
            if not isinstance(values, list) or not values or (one and len(values) != 1) \
                    or any(v not in allowed for v in values):
                raise ServiceError(BAD_REQUEST, f"{where}.Values must be {'one' if one else 'a list'} of "
                                                f"{allowed}, got {str(values)[:80]}")
        elif not isinstance(values, str) or not values:
            raise ServiceError(BAD_REQUEST, f"{where}.Values must be a non-empty string")
    data, task = value["Data"]["Values"][0], value["Task"]["Values"][0]
    if task not in TASKS_FOR.get(data, (task,)):
        raise ServiceError(BAD_REQUEST, f"semantic_specification.Task {task!r} is not one for {data} data; it takes "
                                        f"{', '.join(TASKS_FOR[data])}")
    if data == "Table" and "Input" not in value:
        raise ServiceError(BAD_REQUEST, "semantic_specification.Input is missing: a Table learnware says its "
                                        "input Dimension (and optionally a Description per feature)")
    if task in ("Classification", "Regression") and "Output" not in value:
        raise ServiceError(BAD_REQUEST, f"semantic_specification.Output is missing: a {task} learnware says its "
                                        "output Dimension")
    status, message = EasySemanticChecker.check_semantic_spec(value)  # anything the rules above do not cover
    if status == EasySemanticChecker.INVALID_LEARNWARE:
        last = [line for line in str(message).strip().splitlines() if line.strip()][-1:] or ["refused"]
        raise ServiceError(BAD_REQUEST, f"semantic_specification was refused by the market's semantic check: "
                                        f"{last[0].strip()[:200]}")
    return value


def learnware_id(value) -> str:
    if not isinstance(value, str) or not LEARNWARE_ID.fullmatch(value):
        raise ServiceError(BAD_REQUEST, f"learnware_id must be 1-40 letters, digits, '.', '_' or '-' starting "
                                        f"with a letter or digit, got "
                                        f"{str(value)[:80]!r}")
    return value
