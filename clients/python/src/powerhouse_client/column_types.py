"""Which encoder a column gets: by type oid (fixed across PostgreSQL versions), else by type name.

Mirrors ingest/formats/column-types.ts.
"""
from __future__ import annotations

import re

TEXT, INT2, INT4, INT8, FLOAT4, FLOAT8, BOOL, UUID, DATE, TIMESTAMP, TIMESTAMPTZ, JSON, JSONB, OTHER = (
    "text", "int2", "int4", "int8", "float4", "float8", "bool", "uuid", "date", "timestamp",
    "timestamptz", "json", "jsonb", "other",
)  # fmt: skip

_BY_OID = {
    25: TEXT, 1043: TEXT, 1042: TEXT, 21: INT2, 23: INT4, 20: INT8, 700: FLOAT4, 701: FLOAT8,
    16: BOOL, 2950: UUID, 1082: DATE, 1114: TIMESTAMP, 1184: TIMESTAMPTZ, 114: JSON, 3802: JSONB,
}  # fmt: skip

_BY_NAME = {
    "text": TEXT, "varchar": TEXT, "character varying": TEXT, "bpchar": TEXT, "character": TEXT,
    "char": TEXT, "int2": INT2, "smallint": INT2, "int4": INT4, "integer": INT4, "int": INT4,
    "int8": INT8, "bigint": INT8, "float4": FLOAT4, "real": FLOAT4, "float8": FLOAT8,
    "double precision": FLOAT8, "bool": BOOL, "boolean": BOOL, "uuid": UUID, "date": DATE,
    "timestamp": TIMESTAMP, "timestamp without time zone": TIMESTAMP, "timestamptz": TIMESTAMPTZ,
    "timestamp with time zone": TIMESTAMPTZ, "json": JSON, "jsonb": JSONB,
}  # fmt: skip

_TYPMOD = re.compile(r"\(\d+(,\s*\d+)?\)")


def type_kind(type_name: str, type_oid: int = 0) -> str:
    """The encoder kind of a column; OTHER when binary COPY has no encoder for it."""
    by_oid = _BY_OID.get(type_oid)
    if by_oid is not None:
        return by_oid
    # "character varying(20)" / "timestamp(3) with time zone": drop the typmod before the lookup.
    name = " ".join(_TYPMOD.sub("", type_name.lower(), count=1).split())
    return _BY_NAME.get(name, OTHER)
