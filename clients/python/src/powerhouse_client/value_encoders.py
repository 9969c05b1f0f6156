"""One Python value -> one binary COPY field (int32 length + the type's send() bytes), per column kind.

The generic, careful path: every value type the client accepts, with the same refusals as the
TypeScript SDK's valueWriter (ingest/formats/pgcopy-encoder.ts). Strings for typed columns go through
the worker's own text rules (text_values). The row encoder's fast path handles the common exact
types inline and falls back to these for anything else.
"""
from __future__ import annotations

import datetime as _dt
import math
import struct
import uuid as _uuid
from decimal import Decimal
from typing import Any, Callable, Dict

from . import column_types as k
from .field_error import FieldError
from .json_text import js_number, stringify, validate_json
from .text_values import (
    check_int_range,
    fround,
    out_of_range,
    parse_bool,
    parse_date,
    parse_float4,
    parse_float8,
    parse_integer,
    parse_timestamp,
    parse_uuid,
)

ValueEncoder = Callable[[Any], bytes]

_I = struct.Struct(">i")
_FIELD_I2 = struct.Struct(">ih")
_FIELD_I4 = struct.Struct(">ii")
_FIELD_I8 = struct.Struct(">iq")
_FIELD_F4 = struct.Struct(">if")
_FIELD_F8 = struct.Struct(">id")
_TRUE = b"\x00\x00\x00\x01\x01"
_FALSE = b"\x00\x00\x00\x01\x00"
_UTC = _dt.timezone.utc
_PG_EPOCH = _dt.datetime(2000, 1, 1, tzinfo=_UTC)
_PG_EPOCH_NAIVE = _dt.datetime(2000, 1, 1)
_PG_EPOCH_ORDINAL = _dt.date(2000, 1, 1).toordinal()
_SAFE = 2**53 - 1
_WIDTH = {k.INT2: 2, k.INT4: 4, k.INT8: 8}
_INT_FIELD = {2: _FIELD_I2, 4: _FIELD_I4, 8: _FIELD_I8}


def utf8(s: str) -> bytes:
    """UTF-8 of a str PostgreSQL text can hold: no NUL, no lone surrogate."""
    if "\x00" in s:
        raise FieldError("string contains a NUL character, which PostgreSQL text cannot hold")
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError("string contains a lone UTF-16 surrogate, which is not valid UTF-8") from None


def text_field(b: bytes) -> bytes:
    return _I.pack(len(b)) + b


def _what(v: Any) -> str:
    return type(v).__name__


def type_error(v: Any, kind: str) -> FieldError:
    return FieldError(f"cannot encode a {_what(v)} as {kind}")


def _text(v: Any) -> bytes:
    if isinstance(v, str):
        return text_field(utf8(v))
    if v is True or v is False:
        return text_field(b"true" if v else b"false")
    if isinstance(v, int):
        return text_field(str(int(v)).encode())
    if isinstance(v, float):
        return text_field(js_number(v).encode())  # String(number), as the TypeScript SDK writes it
    raise type_error(v, k.TEXT)


def _integer(width: int) -> ValueEncoder:
    field = _INT_FIELD[width]

    def enc(v: Any) -> bytes:
        if isinstance(v, str):
            n = parse_integer(utf8(v).decode("utf-8"), width)
        elif v is True or v is False:
            raise type_error(v, _label(width))
        elif isinstance(v, int):
            n = check_int_range(int(v), width)
        elif isinstance(v, float):
            if not v.is_integer():
                raise FieldError(f"not an integer: {js_number(v)}")
            if abs(v) > _SAFE:
                if width != 8:
                    raise out_of_range(js_number(v), width)
                # Past 2^53 a float no longer says which integer was meant.
                raise FieldError(
                    f"{js_number(v)} is beyond 2^53 and may have lost precision; pass int8 values as int or str"
                )
            n = check_int_range(int(v), width)
        elif isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():
            n = check_int_range(int(v), width)
        else:
            raise type_error(v, _label(width))
        return field.pack(width, n)

    return enc


def _label(width: int) -> str:
    return {2: k.INT2, 4: k.INT4, 8: k.INT8}[width]


def _number(v: Any, kind: str) -> float:
    if v is True or v is False or not isinstance(v, (int, float)):
        raise type_error(v, kind)
    try:
        return float(v)
    except OverflowError:
        raise FieldError(f"{v} is out of range for {kind}") from None


def _float4(v: Any) -> bytes:
    if isinstance(v, str):
        return _FIELD_F4.pack(4, parse_float4(utf8(v).decode("utf-8")))
    d = _number(v, k.FLOAT4)
    f = fround(d)
    # Same range rules as text input: a finite double that does not fit a float is an error.
    if math.isfinite(d) and (not math.isfinite(f) or (f == 0 and d != 0)):
        raise FieldError(f"{js_number(d)} is out of range for float4")
    return _FIELD_F4.pack(4, f)


def _float8(v: Any) -> bytes:
    if isinstance(v, str):
        return _FIELD_F8.pack(8, parse_float8(utf8(v).decode("utf-8")))
    return _FIELD_F8.pack(8, _number(v, k.FLOAT8))


def _bool(v: Any) -> bytes:
    if v is True:
        return _TRUE
    if v is False:
        return _FALSE
    if isinstance(v, str):
        return _TRUE if parse_bool(utf8(v).decode("utf-8")) else _FALSE
    if isinstance(v, (int, float)) and (v == 0 or v == 1):
        return _TRUE if v == 1 else _FALSE
    raise type_error(v, k.BOOL)


def _uuid_value(v: Any) -> bytes:
    if isinstance(v, _uuid.UUID):
        return b"\x00\x00\x00\x10" + v.bytes
    if isinstance(v, str):
        return b"\x00\x00\x00\x10" + parse_uuid(utf8(v).decode("utf-8"))
    raise type_error(v, k.UUID)


def _date(v: Any) -> bytes:
    if isinstance(v, str):
        return _FIELD_I4.pack(4, parse_date(utf8(v).decode("utf-8")))
    if isinstance(v, _dt.datetime):
        # An instant names one calendar date only at UTC midnight, without guessing a zone.
        if v.tzinfo is None or v.utcoffset() is None:
            raise FieldError("a naive datetime for a date column: pass a datetime.date or 'YYYY-MM-DD'")
        u = v.astimezone(_UTC)
        if (u.hour, u.minute, u.second, u.microsecond) != (0, 0, 0, 0):
            raise FieldError("a datetime for a date column must be exactly UTC midnight; pass a datetime.date")
        return _FIELD_I4.pack(4, u.toordinal() - _PG_EPOCH_ORDINAL)
    if isinstance(v, _dt.date):
        return _FIELD_I4.pack(4, v.toordinal() - _PG_EPOCH_ORDINAL)
    raise type_error(v, k.DATE)


_US = _dt.timedelta(microseconds=1)


def _timestamptz(v: Any) -> bytes:
    if isinstance(v, str):
        return _FIELD_I8.pack(8, parse_timestamp(utf8(v).decode("utf-8"), True))
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None or v.utcoffset() is None:
            raise FieldError(
                "a naive datetime is not an instant: give it a tzinfo (e.g. timezone.utc) for a timestamptz column"
            )
        return _FIELD_I8.pack(8, (v - _PG_EPOCH) // _US)
    raise type_error(v, k.TIMESTAMPTZ)


def _timestamp(v: Any) -> bytes:
    if isinstance(v, str):
        return _FIELD_I8.pack(8, parse_timestamp(utf8(v).decode("utf-8"), False))
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None and v.utcoffset() is not None:
            raise FieldError(
                "an aware datetime is an instant, but timestamp (without time zone) is a wall-clock time: "
                "pass a naive datetime or use a timestamptz column"
            )
        return _FIELD_I8.pack(8, (v - _PG_EPOCH_NAIVE) // _US)
    raise type_error(v, k.TIMESTAMP)


def json_text(v: Any, kind: str) -> str:
    """A str is JSON text; anything else is serialized as JSON.stringify would."""
    if isinstance(v, str):
        text = v
    elif isinstance(v, Decimal) or not isinstance(v, (dict, list, tuple, int, float, bool)):
        raise type_error(v, kind)
    else:
        text = stringify(v)
    utf8(text)
    validate_json(text)
    return text


def _json(v: Any) -> bytes:
    return text_field(json_text(v, k.JSON).encode("utf-8"))


def _jsonb(v: Any) -> bytes:
    b = json_text(v, k.JSONB).encode("utf-8")
    return _I.pack(len(b) + 1) + b"\x01" + b  # jsonb's binary form: version byte 1 and the text


ENCODERS: Dict[str, ValueEncoder] = {
    k.TEXT: _text,
    k.INT2: _integer(2),
    k.INT4: _integer(4),
    k.INT8: _integer(8),
    k.FLOAT4: _float4,
    k.FLOAT8: _float8,
    k.BOOL: _bool,
    k.UUID: _uuid_value,
    k.DATE: _date,
    k.TIMESTAMP: _timestamp,
    k.TIMESTAMPTZ: _timestamptz,
    k.JSON: _json,
    k.JSONB: _jsonb,
}
