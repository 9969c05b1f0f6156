"""The columns an upload writes and their types: given by the caller or asked from GET /v1/tables/{table}."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from .column_types import type_kind
from .errors import UploadError, UploadInputError


@dataclass(frozen=True)
class SchemaColumn:
    name: str
    #: PostgreSQL's format_type() text: bigint, text, "timestamp with time zone", jsonb, text[] …
    type: str
    #: Base type oid (domains resolved); 0: chosen by ``type``.
    type_oid: int = 0
    nullable: bool = True
    has_default: bool = False

    @property
    def kind(self) -> str:
        return type_kind(self.type, self.type_oid)


@dataclass(frozen=True)
class TableSchema:
    """The writable columns of a table, in table order."""

    table: str
    columns: Sequence[SchemaColumn]


def parse_table_schema(body: Any, table: str) -> TableSchema:
    """Validates a GET /v1/tables/{table} body."""
    cols = body.get("columns") if isinstance(body, dict) else None
    if not isinstance(cols, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("type"), str) for c in cols
    ):
        raise UploadError(f"GET /v1/tables/{table}: unexpected response {str(body)[:200]}")
    return TableSchema(
        table=body["table"] if isinstance(body.get("table"), str) else table,
        columns=[
            SchemaColumn(
                name=c["name"],
                type=c["type"],
                type_oid=int(c.get("typeOid") or 0),
                nullable=c.get("nullable") is not False,
                has_default=c.get("hasDefault") is True,
            )
            for c in cols
        ],
    )


def _writable(schema: TableSchema) -> str:
    return ", ".join(c.name for c in schema.columns)


def choose_columns(schema: TableSchema, names: Optional[Sequence[str]], fallback: str) -> List[SchemaColumn]:
    """``names`` in order (each must be a writable column), else all columns or those without a default."""
    by_name = {c.name: c for c in schema.columns}
    if names is not None:
        if isinstance(names, str):
            raise TypeError("columns must be a list of column names, not a str")
        if len(names) == 0:
            raise UploadInputError("columns: empty list")
        seen = set()
        out = []
        for n in names:
            if n not in by_name:
                raise UploadInputError(
                    f"column {n!r} is not a writable column of {schema.table} (writable: {_writable(schema)})"
                )
            if n in seen:
                raise UploadInputError(f"column {n!r} given twice")
            seen.add(n)
            out.append(by_name[n])
        return out
    picked = list(schema.columns) if fallback == "all" else [c for c in schema.columns if not c.has_default]
    if not picked:
        raise UploadInputError(f"no columns to write (writable: {_writable(schema)}); pass columns")
    return picked


def pick_columns(schema: TableSchema, names: Optional[Sequence[str]], first: Any, has_first: bool) -> List[SchemaColumn]:
    """The upload's columns: ``names``, else from the first row (a mapping's keys, or all for tuples)."""
    if names is not None:
        return choose_columns(schema, names, "all")
    if not has_first:
        return choose_columns(schema, None, "required")
    if isinstance(first, Mapping):
        keys = list(first.keys())
        known = {c.name for c in schema.columns}
        unknown = [k for k in keys if k not in known]
        if unknown:
            listed = ", ".join(repr(k) for k in unknown)
            verb = "is not a writable column" if len(unknown) == 1 else "are not writable columns"
            raise UploadInputError(f"row 1: {listed} {verb} of {schema.table} (writable: {_writable(schema)})")
        if not keys:
            raise UploadInputError(f"row 1 has no keys (writable columns of {schema.table}: {_writable(schema)})")
        present = set(keys)
        return [c for c in schema.columns if c.name in present]
    all_cols = choose_columns(schema, None, "all")
    if isinstance(first, (tuple, list)) and len(first) != len(all_cols):
        raise UploadInputError(
            f"rows are tuples of {len(first)} values but {schema.table} has {len(all_cols)} writable columns "
            f"({_writable(schema)}): pass columns= with the {len(first)} column names in order"
        )
    return all_cols
