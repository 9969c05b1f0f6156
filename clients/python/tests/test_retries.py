"""Which answers are retried, and that every attempt sends the same Idempotency-Key and the same bytes:
a scripted HTTP server on 127.0.0.1 answers each attempt with the next status of its script."""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from typing import Any, Iterator, List, Tuple

import pytest

from powerhouse_client import (
    RetryPolicy,
    SchemaColumn,
    TableSchema,
    UploadRejectedError,
    UploadUnavailableError,
    upload_rows,
)

SCHEMA = TableSchema("t", [SchemaColumn("id", "bigint", 20), SchemaColumn("s", "text", 25)])
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


class _Scripted(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: List[Tuple[int, dict, dict]] = []
    seen: List[Tuple[str, str, str]] = []  # (key, sha256 of the body, authorization)

    def do_POST(self) -> None:  # noqa: N802
        body = bytearray()
        while True:
            line = self.rfile.readline().strip()
            if not line:
                return
            size = int(line, 16)
            if size == 0:
                self.rfile.readline()
                break
            body += self.rfile.read(size)
            self.rfile.readline()
        auth = self.headers.get("Authorization", "")
        _Scripted.seen.append((self.headers.get("Idempotency-Key", ""), hashlib.sha256(body).hexdigest(), auth))
        status, answer, headers = _Scripted.script.pop(0) if _Scripted.script else (201, {}, {})
        if status == 201:
            answer = {"uploadId": "u1", "table": "t", "rows": 3000, "bytes": len(body), **answer}
        data = json.dumps(answer).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Scripted.script = []
    _Scripted.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _rows() -> Iterator[Tuple[int, str]]:
    return ((i, f"row {i} 🎉") for i in range(3000))  # a generator: retries come from the spool file


def test_503_502_504_429_and_409_are_retried_with_one_key_and_identical_bytes(server: str) -> None:
    _Scripted.script = [
        (503, {"error": "unavailable"}, {"Retry-After": "0"}),
        (502, {}, {}),
        (504, {}, {}),
        (429, {}, {}),
        (409, {"error": "upload_in_progress"}, {}),
    ]
    r = upload_rows(server, "tok", "t", _rows(), schema=SCHEMA, retry=FAST, chunk_bytes=1024)
    assert (r.rows, r.attempts) == (3000, 6)
    keys = {k for k, _, _ in _Scripted.seen}
    bodies = {b for _, b, _ in _Scripted.seen}
    assert len(_Scripted.seen) == 6 and len(keys) == 1 and len(bodies) == 1 and keys == {r.idempotency_key}


def test_retry_after_is_honoured(server: str) -> None:
    _Scripted.script = [(503, {"error": "unavailable"}, {"Retry-After": "1"})]
    t0 = time.monotonic()
    upload_rows(server, "tok", "t", [(1, "a")], schema=SCHEMA, retry=FAST)
    assert time.monotonic() - t0 >= 1.0


def test_exhausted_retries_say_the_key_to_call_again_with(server: str) -> None:
    _Scripted.script = [(503, {"error": "unavailable", "message": "busy"}, {})] * 3
    with pytest.raises(UploadUnavailableError) as info:
        upload_rows(server, "tok", "t", _rows(), schema=SCHEMA, idempotency_key="job-42",
                    retry=RetryPolicy(max_attempts=3, base_delay=0.01))  # fmt: skip
    assert (info.value.key, info.value.attempts) == ("job-42", 3)
    assert "Idempotency-Key job-42" in str(info.value) and "503 unavailable: busy" in str(info.value)


def test_409_of_another_kind_and_500_are_not_retried(server: str) -> None:
    _Scripted.script = [(409, {"error": "token_exists"}, {})]
    with pytest.raises(UploadRejectedError) as e409:
        upload_rows(server, "tok", "t", [(1, "a")], schema=SCHEMA, retry=FAST)
    _Scripted.script = [(500, {"error": "internal", "message": "boom"}, {})]
    with pytest.raises(UploadRejectedError) as e500:
        upload_rows(server, "tok", "t", [(1, "a")], schema=SCHEMA, retry=FAST)
    assert (e409.value.status, e500.value.status, len(_Scripted.seen)) == (409, 500, 2)


def test_replay_none_gives_up_after_rows_were_read(server: str) -> None:
    _Scripted.script = [(503, {"error": "unavailable"}, {})]
    with pytest.raises(UploadUnavailableError, match="spooling was turned off"):
        upload_rows(server, "tok", "t", _rows(), schema=SCHEMA, retry=FAST, replay="none")
    assert len(_Scripted.seen) == 1


def test_bad_arguments_are_clear_before_anything_is_sent(server: str) -> None:
    for kwargs, match in [
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"chunk_bytes": 10}, "chunk_bytes"),
        ({"replay": "sometimes"}, "replay"),
    ]:
        with pytest.raises(ValueError, match=match):
            upload_rows(server, "tok", "t", [(1, "a")], schema=SCHEMA, **kwargs)
    with pytest.raises(ValueError, match="token"):
        upload_rows(server, "tok\n", "t", [(1, "a")], schema=SCHEMA)
    with pytest.raises(ValueError, match="not an http"):
        upload_rows("ftp://x", "tok", "t", [(1, "a")], schema=SCHEMA)
    assert _Scripted.seen == []
