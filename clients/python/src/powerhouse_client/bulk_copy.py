"""bulk_copy(db, table_name, columns, rows): the planning notes' db_utils entry point.

- an Endpoint (or connect info): the rows are uploaded (upload_rows: binary COPY, one transaction);
- a sqlite3.Connection, or an SQLAlchemy engine/connection on SQLite (dev mode): batched INSERTs
  (executemany) in one transaction, all or nothing; a refused row is named (1-based) with its column
  where SQLite's message names one.
"""
from __future__ import annotations

import datetime as _dt
import re
import sqlite3
import uuid as _uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from .connect_info import Endpoint, connect_info
from .errors import UploadRowError
from .json_text import stringify

SQLITE_BATCH_ROWS = 5000
_COLUMN_IN_MESSAGE = re.compile(
    r"(?:NOT NULL constraint failed|UNIQUE constraint failed|cannot store \w+ value in \w+ column): "
    r"(?:[^.,\s]+\.)?([^.,\s]+)\Z"
)
_BINDING = re.compile(r"Error binding parameter (?::?\w*?)?(\d+)")


def bulk_copy(db: Any, table_name: str, columns: Sequence[str], rows: Iterable[Any], **kwargs: Any) -> int:
    """Stores ``rows`` (tuples in ``columns`` order, or mappings) in ``table_name``; returns the row count.

    ``db``: an Endpoint, a connect-info dict, a sqlite3.Connection, or an SQLAlchemy SQLite engine or
    connection. Extra keyword arguments go to upload_rows (idempotency_key, on_progress, cancel, …).
    """
    if isinstance(db, Endpoint):
        return int(db.upload_rows(table_name, rows, columns=list(columns), **kwargs).rows)
    if isinstance(db, dict):
        return bulk_copy(connect_info(db), table_name, columns, rows, **kwargs)
    if isinstance(db, sqlite3.Connection):
        return sqlite_bulk_insert(db, table_name, columns, rows)
    if type(db).__module__.startswith("sqlalchemy"):
        return _sqlalchemy(db, table_name, columns, rows)
    raise TypeError(
        f"bulk_copy: db must be an Endpoint (connect_info(…)), a sqlite3.Connection or an SQLAlchemy SQLite "
        f"engine/connection, got {type(db).__name__}"
    )


def _sqlalchemy(db: Any, table: str, columns: Sequence[str], rows: Iterable[Any]) -> int:
    dialect = getattr(getattr(db, "dialect", None), "name", None)
    if dialect != "sqlite":
        raise TypeError(f"bulk_copy: an SQLAlchemy {dialect} database: upload to the ingest endpoint (an Endpoint) instead")
    if hasattr(db, "raw_connection"):  # an Engine
        raw = db.raw_connection()
        try:
            return sqlite_bulk_insert(_driver(raw), table, columns, rows)
        finally:
            raw.close()
    # A Connection: its DBAPI connection, inside whatever transaction SQLAlchemy began (a savepoint here).
    return sqlite_bulk_insert(_driver(db.connection), table, columns, rows)


def _driver(proxy: Any) -> sqlite3.Connection:
    conn = getattr(proxy, "driver_connection", None) or getattr(proxy, "dbapi_connection", None) or proxy.connection
    if not isinstance(conn, sqlite3.Connection):
        conn = getattr(conn, "driver_connection", None) or getattr(conn, "connection", conn)
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError("bulk_copy: the SQLAlchemy connection is not a sqlite3 connection")
    return conn


def _quote(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return stringify(v)  # json/jsonb columns: the same text the endpoint would store
    if isinstance(v, (_uuid.UUID, Decimal)):
        return str(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    return v


def _params(columns: Sequence[str], rows: Iterable[Any]) -> Iterator[Tuple[Any, ...]]:
    n = len(columns)
    names = set(columns)
    for i, row in enumerate(rows, 1):
        if isinstance(row, Mapping):
            extra = [k for k in row if k not in names]
            if extra:
                raise UploadRowError(i, str(extra[0]), f"row {i}: key {extra[0]!r} is not one of the columns", "client")
            values: Sequence[Any] = [row.get(c) for c in columns]
        elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
            if len(row) != n:
                raise UploadRowError(i, None, f"row {i}: {len(row)} values for {n} columns", "client")
            values = row
        else:
            raise UploadRowError(i, None, f"row {i} is a {type(row).__name__}, not a tuple, list or mapping", "client")
        yield tuple(_sqlite_value(v) for v in values)


def sqlite_bulk_insert(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Any]) -> int:
    """executemany in batches of SQLITE_BATCH_ROWS, in one transaction (a savepoint inside the caller's)."""
    if isinstance(columns, str) or len(columns) == 0:
        raise ValueError("columns must be a non-empty list of column names")
    sql = (
        f"INSERT INTO {_quote(table)} ({', '.join(_quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    outer = not conn.in_transaction
    conn.execute("BEGIN" if outer else "SAVEPOINT powerhouse_bulk_copy")
    stored = 0
    try:
        batch: List[Tuple[Any, ...]] = []
        for params in _params(columns, rows):
            batch.append(params)
            if len(batch) >= SQLITE_BATCH_ROWS:
                _insert_batch(conn, sql, batch, stored, columns)
                stored += len(batch)
                batch = []
        if batch:
            _insert_batch(conn, sql, batch, stored, columns)
            stored += len(batch)
    except BaseException:
        conn.execute("ROLLBACK" if outer else "ROLLBACK TO powerhouse_bulk_copy")
        if not outer:
            conn.execute("RELEASE powerhouse_bulk_copy")
        raise
    conn.execute("COMMIT" if outer else "RELEASE powerhouse_bulk_copy")
    return stored


def _insert_batch(conn: sqlite3.Connection, sql: str, batch: List[Tuple[Any, ...]], before: int, columns: Sequence[str]) -> None:
    conn.execute("SAVEPOINT powerhouse_batch")
    try:
        conn.executemany(sql, batch)
        conn.execute("RELEASE powerhouse_batch")
        return
    except sqlite3.Error:
        conn.execute("ROLLBACK TO powerhouse_batch")
    # executemany does not say which row failed: replay the batch row by row to find it.
    try:
        for i, params in enumerate(batch):
            try:
                conn.execute(sql, params)
            except sqlite3.Error as err:
                row = before + i + 1
                column = _column_of(str(err), columns)
                where = f'row {row}, column "{column}"' if column else f"row {row}"
                raise UploadRowError(row, column, f"{where}: {err}", "server") from None
    finally:
        conn.execute("ROLLBACK TO powerhouse_batch")
        conn.execute("RELEASE powerhouse_batch")
    raise RuntimeError("bulk_copy: a batch failed in executemany but every row succeeded alone")


def _column_of(message: str, columns: Sequence[str]) -> Optional[str]:
    m = _COLUMN_IN_MESSAGE.search(message)
    if m and m.group(1) in columns:
        return m.group(1)
    b = _BINDING.search(message)
    if b:
        index = int(b.group(1))
        # 1-based on Python >= 3.11 ("Error binding parameter 1: …"); 0-based on older versions.
        if not message.startswith("Error binding parameter :"):
            index = index - 1 if _BINDING_ONE_BASED else index
        if 0 <= index < len(columns):
            return columns[index]
    return None


def _binding_base() -> bool:
    c = sqlite3.connect(":memory:")
    try:
        c.execute("select ?", (set(),))
    except (sqlite3.Error, sqlite3.ProgrammingError) as err:
        return "parameter 1" in str(err)
    finally:
        c.close()
    return True


_BINDING_ONE_BASED = _binding_base()
