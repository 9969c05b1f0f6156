"""The attempt loop shared by upload_rows and upload_file: POST the body, map the answer to a result or
a typed error, and on a network error, 503 (502/504 from a proxy), 429 or 409 upload_in_progress try
again after a backoff with the same Idempotency-Key and the same bytes, so the server stores the rows
once whatever happened to the previous attempt (rolled back, or committed with the answer lost: then it
replays the first result)."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union, cast
from urllib.parse import SplitResult, quote, urlsplit

from .body_source import BodySource, Chunk
from .errors import (
    UploadAbortedError,
    UploadRejectedError,
    UploadRowError,
    UploadUnavailableError,
)
from .http_exchange import BodySourceError, CancelLike, Reply, TransportError, exchange
from .retry_policy import RetryPolicy, parse_retry_after
from .tls_trust import Trust, resolve_trust

USER_AGENT = "powerhouse-python/0.1"
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


@dataclass(frozen=True)
class Progress:
    #: Rows sent in the current attempt (a retry starts again from 0).
    rows: int
    #: Body bytes sent in the current attempt.
    bytes: int
    #: Rows per second in the current attempt.
    rate: float
    #: 1 for the first attempt.
    attempt: int
    elapsed_ms: int
    #: True once, for the final report with the server's counts.
    done: bool


@dataclass(frozen=True)
class RetryInfo:
    attempt: int
    max_attempts: int
    delay: float
    reason: str


@dataclass(frozen=True)
class UploadResult:
    upload_id: str
    table: str
    #: Rows stored, as the server counted them.
    rows: int
    #: Body bytes the server received.
    bytes: int
    #: Wall time of the whole call on this machine, retries included.
    duration_ms: int
    #: True when an earlier attempt had committed and the server answered from its record.
    replayed: bool
    attempts: int
    idempotency_key: str


@dataclass(frozen=True)
class CallOptions:
    """What every call shares: trust, retries, cancel, callbacks, timeouts."""

    fingerprint: Optional[str] = None
    ca: Optional[Any] = None
    retry: RetryPolicy = RetryPolicy()
    cancel: Optional[CancelLike] = None
    on_progress: Optional[Callable[[Progress], None]] = None
    on_retry: Optional[Callable[[RetryInfo], None]] = None
    progress_interval: float = 0.25
    #: An attempt fails when nothing is sent or received for this long (seconds).
    timeout: float = 300.0


def check_idempotency_key(key: Optional[str]) -> str:
    if key is None:
        return str(uuid.uuid4())
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError("idempotency_key must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return key


def parse_endpoint(endpoint: str) -> SplitResult:
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a str URL (e.g. http://127.0.0.1:8080), got {type(endpoint).__name__}")
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"endpoint {endpoint!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)")
    return url


def request_target(url: SplitResult, rel: str, query: str = "") -> str:
    """The endpoint's path prefix (https://host/ingest/) + rel, with an optional query."""
    base = url.path.rstrip("/") + "/"
    return base + rel + (f"?{query}" if query else "")


def auth_headers(token: str) -> Dict[str, str]:
    if not isinstance(token, str) or not token or "\r" in token or "\n" in token:
        raise ValueError("token must be a non-empty single-line str")
    return {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT}


def call_trust(url: SplitResult, opts: CallOptions) -> Optional[Trust]:
    return resolve_trust(url.scheme, opts.fingerprint, opts.ca)


def table_path(table: str) -> str:
    return quote(table, safe="")


def _body_error(reply: Reply) -> str:
    b = reply.body
    if isinstance(b, dict):
        msg = f": {b['message']}" if isinstance(b.get("message"), str) else ""
        return f"HTTP {reply.status} {b.get('error', '')}{msg}"
    return f"HTTP {reply.status}"


Verdict = Tuple[str, Any, Optional[float]]  # ("done", reply, None) | ("retry", last, retry_after) | ("fail", error, None)


def judge_reply(reply: Reply) -> Verdict:
    status = reply.status
    body = reply.body if isinstance(reply.body, dict) else {}
    if status in (200, 201):
        return ("done", reply, None)
    code = body.get("error")
    if status in (502, 503, 504, 429) or (status == 409 and code == "upload_in_progress"):
        return ("retry", _body_error(reply), parse_retry_after(reply.headers.get("retry-after")))
    if status == 400 and code == "bad_row" and isinstance(body.get("row"), int):
        column = body.get("column") if isinstance(body.get("column"), str) else None
        message = str(body["message"]) if isinstance(body.get("message"), str) else f"row {body['row']} is invalid"
        return ("fail", UploadRowError(body["row"], column, message, "server"), None)
    return ("fail", UploadRejectedError(status, reply.body), None)


class _Meter:
    def __init__(self, cb: Optional[Callable[[Progress], None]], interval: float) -> None:
        self.cb = cb
        self.interval = interval
        self.attempt = 0
        self.rows = 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def start(self, attempt: int) -> None:
        self.attempt = attempt
        self.rows = 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def report(self, sent: int, done: bool = False) -> None:
        if self.cb is None:
            return
        now = time.monotonic()
        if not done and now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.t0
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        self.cb(Progress(self.rows, sent, rate, self.attempt, round(elapsed * 1000), done))


def sleep_or_cancel(seconds: float, cancel: Optional[CancelLike]) -> None:
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds) or cancel.is_set():
        raise UploadAbortedError()


def send_upload(
    endpoint: str,
    token: str,
    table: str,
    content_type: str,
    columns: Optional[Sequence[str]],
    source: BodySource,
    key: str,
    opts: CallOptions,
    t0: float,
) -> UploadResult:
    """Runs the attempts; always closes the source."""
    try:
        return _attempts(endpoint, token, table, content_type, columns, source, key, opts, t0)
    finally:
        source.close()


def _attempts(
    endpoint: str,
    token: str,
    table: str,
    content_type: str,
    columns: Optional[Sequence[str]],
    source: BodySource,
    key: str,
    opts: CallOptions,
    t0: float,
) -> UploadResult:
    url = parse_endpoint(endpoint)
    query = "columns=" + quote(",".join(columns), safe=",") if columns else ""
    target = request_target(url, f"v1/tables/{table_path(table)}/uploads", query)
    trust = call_trust(url, opts)
    headers = {**auth_headers(token), "Content-Type": content_type, "Idempotency-Key": key}
    meter = _Meter(opts.on_progress, opts.progress_interval)
    policy = opts.retry
    last = ""
    attempt = 0
    while True:
        attempt += 1
        meter.start(attempt)
        state = {"rows": 0}

        def body(chunks: Iterator[Chunk] = source.open()) -> Iterator[bytes]:
            for data, rows in chunks:
                state["rows"] = rows
                yield data

        def sent(n: int) -> None:
            meter.rows = state["rows"]
            meter.report(n)

        try:
            verdict = judge_reply(
                exchange(url, "POST", target, headers, body(), timeout=opts.timeout, trust=trust,
                         cancel=opts.cancel, on_chunk_sent=sent)
            )  # fmt: skip
        except BodySourceError as err:
            raise err.error from None
        except TransportError as err:
            verdict = ("retry", f"{err.code}: {err}", None)
        kind, what, retry_after = verdict
        if kind == "done":
            return _result(cast(Reply, what), table, attempt, key, t0, meter)
        if kind == "fail":
            raise cast(BaseException, what)
        last = str(what)
        if attempt >= policy.max_attempts:
            break
        if not source.can_retry():
            last += " (the rows could be read only once and spooling was turned off, so no retry)"
            break
        delay = policy.delay(attempt, retry_after)
        if opts.on_retry is not None:
            opts.on_retry(RetryInfo(attempt, policy.max_attempts, delay, last))
        sleep_or_cancel(delay, opts.cancel)
    raise UploadUnavailableError(attempt, key, last)


def _result(reply: Reply, table: str, attempt: int, key: str, t0: float, meter: _Meter) -> UploadResult:
    b = reply.body
    # A 2xx that is not the worker's answer (e.g. a captive portal or a misrouted proxy).
    if not isinstance(b, dict) or not isinstance(b.get("uploadId"), str) or not isinstance(b.get("rows"), int):
        raise UploadRejectedError(reply.status, reply.body)
    result = UploadResult(
        upload_id=b["uploadId"],
        table=b["table"] if isinstance(b.get("table"), str) else table,
        rows=int(b["rows"]),
        bytes=int(b.get("bytes") or 0),
        duration_ms=round((time.monotonic() - t0) * 1000),
        replayed=b.get("replayed") is True,
        attempts=attempt,
        idempotency_key=key,
    )
    meter.rows = result.rows
    meter.report(result.bytes, True)
    return result


def get_json(
    endpoint: str, token: str, rel: str, opts: CallOptions, what: str, query: str = ""
) -> Union[Dict[str, Any], Any]:
    """A GET with the upload's auth, trust and retries (network errors, 503)."""
    url = parse_endpoint(endpoint)
    target = request_target(url, rel, query)
    headers = auth_headers(token)
    trust = call_trust(url, opts)
    policy = opts.retry
    attempt = 0
    while True:
        attempt += 1
        retry_after = None
        try:
            kind, value, retry_after = judge_reply(
                exchange(url, "GET", target, headers, None, timeout=min(opts.timeout, 30.0), trust=trust,
                         cancel=opts.cancel)
            )  # fmt: skip
            if kind == "done":
                return value.body
            if kind == "fail":
                raise value
            last = value
        except TransportError as err:
            last = f"{err.code}: {err}"
        if attempt >= policy.max_attempts:
            raise UploadUnavailableError(attempt, None, f"{what}: {last}")
        delay = policy.delay(attempt, retry_after)
        if opts.on_retry is not None:
            opts.on_retry(RetryInfo(attempt, policy.max_attempts, delay, f"{what}: {last}"))
        sleep_or_cancel(delay, opts.cancel)
