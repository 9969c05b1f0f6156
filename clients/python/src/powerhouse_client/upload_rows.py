"""upload_rows: rows held by the app (tuples or mappings, from any iterable or generator) -> binary COPY
encoded here, byte for byte as the TypeScript SDK encodes it -> one streamed upload (one transaction)."""
from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any, Callable, List, Optional, Sequence, Union

from .body_source import BodySource, Chunk, OneShotSource, ReiterableSource, SpooledSource
from .describe_table import describe_table
from .ndjson_encoder import ndjson_chunks
from .pgcopy_encoder import PGCOPY_HEADER, PGCOPY_TRAILER, PgCopyRowEncoder, binary_supported
from .retry_policy import RetryPolicy
from .send_upload import (
    CallOptions,
    Progress,
    RetryInfo,
    UploadResult,
    auth_headers,
    check_idempotency_key,
    parse_endpoint,
    send_upload,
)
from .table_schema import TableSchema, pick_columns

PGCOPY = "application/x-pgcopy"
NDJSON = "application/x-ndjson"
DEFAULT_CHUNK_BYTES = 128 * 1024
_NOTHING = object()


def pgcopy_chunks(names: List[str], kinds: List[str], rows: Iterator[Any], chunk_bytes: int) -> Iterator[Chunk]:
    """Header, tuples in chunks of about ``chunk_bytes``, trailer."""
    enc = PgCopyRowEncoder(names, kinds)
    out = bytearray(PGCOPY_HEADER)
    while not enc.fill(rows, out, chunk_bytes):
        yield bytes(out), enc.rows
        out = bytearray()
    out += PGCOPY_TRAILER
    yield bytes(out), enc.rows


def upload_rows(
    endpoint: str,
    token: str,
    table: str,
    rows: Iterable[Any],
    columns: Optional[Sequence[str]] = None,
    idempotency_key: Optional[str] = None,
    on_progress: Optional[Callable[[Progress], None]] = None,
    *,
    fingerprint: Optional[str] = None,
    ca: Optional[Union[str, "os.PathLike[str]"]] = None,
    cancel: Any = None,
    retry: Optional[RetryPolicy] = None,
    on_retry: Optional[Callable[[RetryInfo], None]] = None,
    schema: Optional[TableSchema] = None,
    replay: str = "auto",
    spool_dir: Optional[str] = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    timeout: float = 300.0,
) -> UploadResult:
    """Uploads ``rows`` to ``table`` as one transaction: every row is stored, or none is.

    Rows are tuples/lists in ``columns`` order (default: every writable column) or mappings keyed by
    column name (default columns: the first row's keys); None is NULL. They are encoded to binary COPY
    here and streamed; network errors, 503/502/504, 429 and 409 are retried with one Idempotency-Key
    and identical bytes (a generator is spooled to a temp file for that, see ``replay``), so no row is
    ever stored twice.

    ``fingerprint`` (SHA-256 of the endpoint's certificate) or ``ca`` (PEM text or a path) pins an https
    endpoint. ``cancel``: a :class:`Cancel` (or threading.Event) that aborts the upload; nothing is stored.
    ``replay``: "auto" (lists and tuples are encoded again, anything else is spooled), "reiterate" (the
    iterable yields the same rows each time), "spool", or "none" (no retry once rows were read).

    Raises UploadRowError (row, column, source "client"|"server"), UploadRejectedError (status, code,
    body), UploadUnavailableError (retries exhausted; ``.key`` to call again with), UploadAbortedError,
    CertificateTrustError, UploadInputError (rows or columns that do not fit the table; nothing sent),
    ValueError/TypeError (bad arguments).
    """
    t0 = time.monotonic()
    parse_endpoint(endpoint)
    auth_headers(token)
    key = check_idempotency_key(idempotency_key)
    if replay not in ("auto", "reiterate", "spool", "none"):
        raise ValueError(f"replay must be auto, reiterate, spool or none, got {replay!r}")
    if not isinstance(chunk_bytes, int) or chunk_bytes < 1024:
        raise ValueError("chunk_bytes must be at least 1024")
    if isinstance(rows, (str, bytes, bytearray)) or not isinstance(rows, Iterable):
        raise TypeError("rows must be an iterable (list, generator…) of tuples or mappings")
    opts = CallOptions(
        fingerprint=fingerprint,
        ca=ca,
        retry=retry or RetryPolicy(),
        cancel=cancel,
        on_progress=on_progress,
        on_retry=on_retry,
        timeout=timeout,
    )
    mode = replay
    if mode == "auto":
        mode = "reiterate" if isinstance(rows, (list, tuple)) else "spool"
    if mode == "reiterate" and isinstance(rows, Iterator):
        raise ValueError("replay='reiterate' needs an iterable that can be read again, not an iterator")
    it = iter(rows)
    source: Optional[BodySource] = None
    try:
        if schema is None:
            schema = describe_table(endpoint, token, table, _opts=opts)
        first = next(it, _NOTHING)
        cols = pick_columns(schema, columns, first, first is not _NOTHING)
        names = [c.name for c in cols]
        kinds = [c.kind for c in cols]
        binary = all(binary_supported(kd) for kd in kinds)

        def encode(row_iter: Iterator[Any]) -> Iterator[Chunk]:
            if binary:
                return pgcopy_chunks(names, kinds, row_iter, chunk_bytes)
            return ndjson_chunks(names, row_iter, chunk_bytes)

        head: Iterator[Any] = iter(()) if first is _NOTHING else iter((first,))
        first_pass = encode(itertools.chain(head, it))
        if mode == "reiterate":
            attempts = {"n": 0}

            def again() -> Iterator[Chunk]:
                attempts["n"] += 1
                return first_pass if attempts["n"] == 1 else encode(iter(rows))

            source = ReiterableSource(again)
        elif mode == "spool":
            source = SpooledSource(first_pass, spool_dir)
        else:
            source = OneShotSource(first_pass)
        return send_upload(endpoint, token, table, PGCOPY if binary else NDJSON, names, source, key, opts, t0)
    finally:
        if source is None:
            close = getattr(it, "close", None)
            if close is not None:
                close()
