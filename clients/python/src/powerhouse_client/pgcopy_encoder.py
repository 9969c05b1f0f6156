"""PostgreSQL binary COPY of Python rows, byte for byte what the TypeScript SDK's PgCopyRowEncoder makes.

Wire format (PostgreSQL docs, "COPY ... Binary Format"): 11-byte signature, int32 flags, int32 header
extension length; per tuple int16 field count, then per field int32 length (-1 = NULL) and the type's
send() bytes; int16 -1 trailer; all big-endian.

Speed: each table's column list gets a row loop generated for it (``_compile``), with the common exact
types (str for text, int for integers, float for floats) encoded inline into one bytearray; any other
value, and any row that fails there, goes through the careful per-value encoders, which also name the
column at fault. A failed row leaves nothing in the output.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterator, List, Sequence as Seq, Tuple

from . import column_types as k
from .errors import UploadRowError
from .field_error import FieldError, quote_for_message
from .value_encoders import ENCODERS

PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PGCOPY_HEADER = PGCOPY_SIGNATURE + b"\x00" * 8
PGCOPY_TRAILER = b"\xff\xff"
NULL_FIELD = b"\xff\xff\xff\xff"


def binary_supported(kind: str) -> bool:
    return kind in ENCODERS


class _Slow(Exception):
    """The fast path cannot take this row; the careful path encodes it (or says what is wrong)."""


Fill = Callable[[Iterator[Any], bytearray, int], Tuple[int, bool]]


class PgCopyRowEncoder:
    """Rows -> tuples. ``fill`` encodes rows from an iterator until ``budget`` bytes are buffered."""

    def __init__(self, names: Seq[str], kinds: Seq[str], first_row: int = 1) -> None:
        if not 1 <= len(names) <= 1600:
            raise ValueError("PgCopyRowEncoder: 1..1600 columns")
        for name, kind in zip(names, kinds):
            if kind not in ENCODERS:
                raise ValueError(f"column {name!r} has a type binary COPY encoding does not support")
        self.names = list(names)
        self.kinds = list(kinds)
        self.encoders = [ENCODERS[kd] for kd in kinds]
        self.rows = first_row - 1
        self._fill = _compile(self.names, self.kinds, self.encoders, self._careful)

    def fill(self, it: Iterator[Any], out: bytearray, budget: int) -> bool:
        """Appends encoded rows to ``out`` until it holds ``budget`` bytes; True when ``it`` is exhausted."""
        before = self.rows
        try:
            n, done = self._fill(it, out, budget, before)
        except _RowFailed as failed:
            self.rows = failed.row - 1
            raise failed.error from None
        self.rows = before + n
        return done

    def encode_row(self, row: Any) -> bytes:
        """One tuple (for tests and small callers)."""
        out = bytearray()
        self.fill(iter((row,)), out, 1 << 62)
        return bytes(out)

    def _careful(self, row: Any, row_no: int) -> bytes:
        n = len(self.names)
        parts: List[bytes] = [struct.pack(">h", n)]
        col = -1
        try:
            if isinstance(row, Mapping):
                present = 0
                for col in range(n):
                    name = self.names[col]
                    v = row.get(name)
                    if name in row:
                        present += 1
                    parts.append(NULL_FIELD if v is None else self.encoders[col](v))
                col = -1
                if present != len(row):
                    extra = next((key for key in row if key not in self.names), "?")
                    shown = quote_for_message(str(extra))
                    raise UploadRowError(row_no, str(extra), f"row {row_no}: key {shown} is not one of the columns", "client")
            elif isinstance(row, Sequence) and not isinstance(row, (str, bytes, bytearray, memoryview)):
                if len(row) != n:
                    raise UploadRowError(row_no, None, f"row {row_no}: {len(row)} values for {n} columns", "client")
                for col in range(n):
                    v = row[col]
                    parts.append(NULL_FIELD if v is None else self.encoders[col](v))
            else:
                what = "None" if row is None else f"a {type(row).__name__}"
                raise UploadRowError(
                    row_no, None, f"row {row_no} is {what}, not a tuple, list or mapping (files go to upload_file)", "client"
                )
        except FieldError as err:
            name = self.names[col]
            msg = f'row {row_no}, column "{name}": {err}'
            raise _RowFailed(row_no, UploadRowError(row_no, name, msg, "client")) from None
        except UploadRowError as err:
            raise _RowFailed(row_no, err) from None
        return b"".join(parts)


class _RowFailed(Exception):
    def __init__(self, row: int, error: UploadRowError) -> None:
        super().__init__(str(error))
        self.row = row
        self.error = error


def _compile(names: List[str], kinds: List[str], encoders: List[Any], careful: Any) -> Any:
    n = len(names)
    env: dict = {
        "_Slow": _Slow,
        "_RowFailed": _RowFailed,
        "NULL": NULL_FIELD,
        "HDR": struct.pack(">h", n),
        "PI": struct.Struct(">i").pack,
        "P2": struct.Struct(">ih").pack,
        "P4": struct.Struct(">ii").pack,
        "P8": struct.Struct(">iq").pack,
        "PF4": struct.Struct(">if").pack,
        "PF8": struct.Struct(">id").pack,
        "careful": careful,
        "tuple_": tuple,
        "list_": list,
        "dict_": dict,
        "str_": str,
        "int_": int,
        "float_": float,
    }
    for i, enc in enumerate(encoders):
        env[f"E{i}"] = enc
    vs = ", ".join(f"v{i}" for i in range(n)) + ("," if n == 1 else "")
    src = [
        "def fill(it, out, budget, base):",
        "    n = 0",
        "    for row in it:",
        "        n += 1",
        "        start = len(out)",
        "        try:",
        "            c = row.__class__",
        "            if c is tuple_ or c is list_:",
        f"                {vs} = row",
        "            elif c is dict_:",
        f"                if len(row) != {n}: raise _Slow",
        *[f"                v{i} = row[{name!r}]" for i, name in enumerate(names)],
        "            else:",
        "                raise _Slow",
        "            out += HDR",
    ]
    for i, kind in enumerate(kinds):
        v = f"v{i}"
        src.append(f"            if {v} is None: out += NULL")
        if kind == k.TEXT:
            src += [
                f"            elif {v}.__class__ is str_:",
                f"                b = {v}.encode()",
                "                if 0 in b: raise _Slow",
                "                out += PI(len(b))",
                "                out += b",
            ]
        elif kind in (k.INT2, k.INT4, k.INT8):
            width = {k.INT2: 2, k.INT4: 4, k.INT8: 8}[kind]
            src.append(f"            elif {v}.__class__ is int_: out += P{width}({width}, {v})")
        elif kind == k.FLOAT8:
            src.append(f"            elif {v}.__class__ is float_: out += PF8(8, {v})")
        src.append(f"            else: out += E{i}({v})")
    src += [
        "        except _RowFailed:",
        "            raise",
        "        except Exception:",
        "            del out[start:]",
        "            out += careful(row, base + n)",
        "        if len(out) >= budget:",
        "            return n, False",
        "    return n, True",
    ]
    exec(compile("\n".join(src), f"<pgcopy fill {','.join(kinds)}>", "exec"), env)
    return env["fill"]
