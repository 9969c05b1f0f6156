"""NDJSON bodies, for tables with a column type the binary encoder lacks (numeric, arrays, intervals…):
the worker then parses the values and PostgreSQL's input functions check them. The same bytes the
TypeScript SDK sends (JSON.stringify of each row, int8 beyond 2^53 as a string), except that a NaN or
infinite float is refused here instead of becoming NULL."""
from __future__ import annotations

import datetime as _dt
import math
import uuid as _uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Iterator, List

from .errors import UploadRowError
from .field_error import FieldError
from .json_text import RawJSON, stringify

_SAFE = 2**53 - 1
_UTC = _dt.timezone.utc


def _value(v: Any) -> Any:
    """A row value as the JSON the worker reads for its column."""
    if v is None or v is True or v is False or isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(int(v)) if abs(v) > _SAFE else v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FieldError(f"{v} has no JSON form (JSON.stringify would store NULL); pass it as a str")
        return v
    if isinstance(v, Decimal):
        if not v.is_finite():
            return str(v)  # numeric accepts 'NaN' and 'Infinity' as text
        return RawJSON(str(v))
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None or v.utcoffset() is None:
            return v.isoformat()
        u = v.astimezone(_UTC)
        frac = f".{u.microsecond // 1000:03d}" if u.microsecond % 1000 == 0 else f".{u.microsecond:06d}"
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"  # Date.prototype.toJSON's form
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, _uuid.UUID):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    raise FieldError(f"cannot encode a {type(v).__name__} as JSON")


def ndjson_chunks(names: List[str], rows: Iterator[Any], chunk_bytes: int, first_row: int = 1) -> Iterator[tuple]:
    """(bytes, rows so far) chunks of one NDJSON body."""
    n = first_row - 1
    parts: List[bytes] = []
    size = 0
    for row in rows:
        n += 1
        obj = _row_object(names, row, n)
        col = None
        try:
            line = {}
            for col, v in obj.items():
                line[col] = _value(v)
            col = None
            text = stringify(line)
            if "\x00" in text:
                raise FieldError("string contains a NUL character, which PostgreSQL text cannot hold")
            data = text.encode("utf-8") + b"\n"
        except FieldError as err:
            raise UploadRowError(n, col, f'row {n}{f", column {col!r}" if col else ""}: {err}', "client") from None
        except UnicodeEncodeError:
            raise UploadRowError(n, None, f"row {n}: a string contains a lone UTF-16 surrogate", "client") from None
        parts.append(data)
        size += len(data)
        if size >= chunk_bytes:
            yield b"".join(parts), n
            parts, size = [], 0
    yield b"".join(parts), n


def _row_object(names: List[str], row: Any, n: int) -> Mapping:
    if isinstance(row, Mapping):
        return row
    if isinstance(row, Sequence) and not isinstance(row, (str, bytes, bytearray)):
        if len(row) != len(names):
            raise UploadRowError(n, None, f"row {n}: {len(row)} values for {len(names)} columns", "client")
        return dict(zip(names, row))
    what = "None" if row is None else f"a {type(row).__name__}"
    raise UploadRowError(n, None, f"row {n} is {what}, not a tuple, list or mapping", "client")
