"""upload_file: a CSV, TSV or NDJSON file sent as it is, with its Content-Type: the worker parses and
checks it (CSV and TSV by PostgreSQL's own rules) and answers a bad row with its row and column. Every
attempt re-reads the file, so retries send identical bytes and memory stays at one chunk."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from .body_source import Chunk, ReiterableSource
from .errors import UploadRowError
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

CONTENT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values", "ndjson": "application/x-ndjson"}
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def file_format(path: str, explicit: Optional[str] = None) -> str:
    if explicit is not None:
        if explicit in CONTENT_TYPES:
            return explicit
        raise ValueError(f"format must be csv, tsv or ndjson, got {explicit!r}")
    fmt = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path!r} from its extension: pass format= (csv, tsv or ndjson)")
    return fmt


def _file_chunks(path: str, chunk_bytes: int, header: bool) -> Iterator[Chunk]:
    lines = -1 if header else 0
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            if not data:
                return
            lines += data.count(b"\n")  # rows, for progress only
            yield data, max(0, lines)


def upload_file(
    endpoint: str,
    token: str,
    table: str,
    path: Union[str, "os.PathLike[str]"],
    columns: Optional[Sequence[str]] = None,
    idempotency_key: Optional[str] = None,
    on_progress: Optional[Callable[[Progress], None]] = None,
    *,
    format: Optional[str] = None,
    fingerprint: Optional[str] = None,
    ca: Optional[Union[str, "os.PathLike[str]"]] = None,
    cancel: Any = None,
    retry: Optional[RetryPolicy] = None,
    on_retry: Optional[Callable[[RetryInfo], None]] = None,
    chunk_bytes: int = 256 * 1024,
    timeout: float = 300.0,
) -> UploadResult:
    """Uploads a file (format from its extension: .csv, .tsv/.tab, .ndjson/.jsonl, or ``format=``).

    ``columns``: the file's columns in order when a CSV/TSV file has no header line (for NDJSON: the
    column set). Errors as for upload_rows; an UploadRowError also carries ``file``.
    """
    t0 = time.monotonic()
    parse_endpoint(endpoint)
    auth_headers(token)
    key = check_idempotency_key(idempotency_key)
    file = os.fspath(path)
    fmt = file_format(file, format)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"upload_file: no such file {file!r}")
    opts = CallOptions(
        fingerprint=fingerprint,
        ca=ca,
        retry=retry or RetryPolicy(),
        cancel=cancel,
        on_progress=on_progress,
        on_retry=on_retry,
        timeout=timeout,
    )
    header = columns is None and fmt != "ndjson"
    source = ReiterableSource(lambda: _file_chunks(file, chunk_bytes, header))
    try:
        return send_upload(endpoint, token, table, CONTENT_TYPES[fmt], columns, source, key, opts, t0)
    except UploadRowError as err:
        err.file = file
        raise
