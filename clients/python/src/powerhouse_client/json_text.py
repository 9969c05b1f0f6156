"""JSON text as the TypeScript SDK makes and checks it.

``js_number`` is ECMAScript's Number::toString and ``stringify`` is JSON.stringify, so a json/jsonb or
text value built from Python objects has the same bytes the TypeScript SDK sends for the same value.
``validate_json`` is the worker's check (json-scanner.ts): RFC 8259, no \\u0000, no lone surrogates,
nesting <= 512.
"""
from __future__ import annotations

import json
import math
import re
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, List

from .field_error import FieldError

MAX_DEPTH = 512
_REPR = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:e([+-][0-9]+))?\Z")


def js_number(x: float) -> str:
    """String(x) in JavaScript: shortest round-trip digits (Python's repr has the same), JS layout."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    m = _REPR.match(repr(x))
    assert m is not None
    sign, int_part, frac, exp = m.group(1), m.group(2), m.group(3) or "", int(m.group(4) or 0)
    full = int_part + frac
    lead = len(full) - len(full.lstrip("0"))
    digits = full[lead:].rstrip("0")
    n = len(int_part) + exp - lead  # the value is 0.digits × 10^n
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mant = digits if k == 1 else digits[0] + "." + digits[1:]
        out = f"{mant}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


class RawJSON(str):
    """Already JSON text (a Decimal's digits): stringify emits it as it is."""


def stringify(v: Any) -> str:
    """JSON.stringify(v) for None, bool, int, float, str, dict (string keys) and list/tuple values."""
    parts: List[str] = []
    _stringify(v, parts, 0)
    return "".join(parts)


def _stringify(v: Any, out: List[str], depth: int) -> None:
    if depth > MAX_DEPTH + 1:
        raise FieldError(f"JSON nesting deeper than {MAX_DEPTH}")
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, RawJSON):
        out.append(str.__str__(v))
    elif isinstance(v, str):
        out.append(encode_basestring(v))
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(js_number(v) if math.isfinite(v) else "null")  # JSON.stringify(NaN) is null
    elif isinstance(v, dict):
        out.append("{")
        first = True
        for k, item in v.items():
            if not isinstance(k, str):
                raise FieldError(f"cannot encode a dict key of type {type(k).__name__} as JSON (keys must be str)")
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(k))
            out.append(":")
            _stringify(item, out, depth + 1)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _stringify(item, out, depth + 1)
        out.append("]")
    else:
        raise FieldError(f"cannot encode a {type(v).__name__} as JSON")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _ignore(_text: str) -> None:
    return None


def validate_json(text: str) -> None:
    """Raises FieldError unless ``text`` is one JSON value the worker (and jsonb) accepts."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_ignore, parse_float=_ignore)
    except RecursionError:
        raise FieldError(f"JSON nesting deeper than {MAX_DEPTH}") from None
    except ValueError as err:
        raise FieldError(f"invalid JSON: {err}") from None
    # json.loads decodes \u0000 and lone surrogate escapes into the str: look for them in every string.
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            if depth > MAX_DEPTH:
                raise FieldError(f"JSON nesting deeper than {MAX_DEPTH}")
            for k, item in v.items():
                _check_string(k)
                stack.append((item, depth + 1))
        elif isinstance(v, list):
            if depth > MAX_DEPTH:
                raise FieldError(f"JSON nesting deeper than {MAX_DEPTH}")
            stack.extend((item, depth + 1) for item in v)
        elif isinstance(v, str):
            _check_string(v)


_SURROGATE_OR_NUL = re.compile("[\x00\ud800-\udfff]")


def _check_string(s: str) -> None:
    m = _SURROGATE_OR_NUL.search(s)
    if m:
        what = "\\u0000" if m.group() == "\x00" else "a lone surrogate"
        raise FieldError(f"JSON string contains {what}, which PostgreSQL cannot store")
