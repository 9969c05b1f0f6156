"""Cross-language golden test: the same rows through the TypeScript SDK (tests/python/golden.ts) and this
client produce the same request body byte for byte, and both refuse the same rows at the same row and
column. Both bodies are captured by a local HTTP server, so the whole upload path is compared."""
from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from conftest import REPO, golden_file
from powerhouse_client import RetryPolicy, SchemaColumn, TableSchema, UploadRowError, upload_rows

CASES = os.path.join(REPO, "tests", "python", "golden-cases.json")


def untag(v: Any) -> Any:
    """A tagged JSON value (golden-cases.json) as the Python value it stands for."""
    if isinstance(v, list):
        return [untag(x) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        ((tag, arg),) = v.items()
        if tag == "$bigint":
            return int(arg)
        if tag == "$float":
            return float(arg)
        if tag == "$date":
            return dt.datetime.fromisoformat(arg.replace("Z", "+00:00"))
        if tag == "$repeat":
            return arg[0] * arg[1]
        if tag == "$nest":
            x: List[Any] = []
            for _ in range(arg - 1):
                x = [x]
            return x
        if tag == "$pyuuid":
            return uuid.UUID(arg)
        if tag == "$pydate":
            return dt.date.fromisoformat(arg)
        if tag in ("$pynaive", "$pyaware"):
            return dt.datetime.fromisoformat(arg)
    return {k: untag(x) for k, x in v.items()}


@pytest.fixture(scope="module")
def ts_golden(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    path = golden_file()
    if not path:
        npx = shutil.which("npx")
        if npx is None:
            pytest.skip("GOLDEN SKIPPED: no POWERHOUSE_GOLDEN_JSON and no npx to run tests/python/golden.ts")
        path = str(tmp_path_factory.mktemp("golden") / "golden.json")
        subprocess.run([npx, "tsx", "tests/python/golden.ts", path], cwd=REPO, check=True, timeout=300)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class _Capture(http.server.BaseHTTPRequestHandler):
    bodies: List[Tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        data = bytearray()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline().strip()
                if not line:
                    return  # the client abandoned the request (a refused row): nothing to answer
                size = int(line, 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data += self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Capture.bodies.append((self.headers.get("Content-Type", ""), bytes(data)))
        answer = json.dumps({"uploadId": "golden", "table": "golden", "rows": 0, "bytes": len(data)}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def capture() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _spec() -> Dict[str, Any]:
    with open(CASES, encoding="utf-8") as f:
        return json.load(f)


def _send(endpoint: str, case: Dict[str, Any], chunk_bytes: int) -> Tuple[str, bytes]:
    schema = TableSchema("golden", [SchemaColumn(n, t, oid) for n, t, oid in case["columns"]])
    _Capture.bodies.clear()
    upload_rows(
        endpoint, "golden-token", "golden", untag(case["rows"]), columns=[c[0] for c in case["columns"]],
        schema=schema, retry=RetryPolicy(max_attempts=1), chunk_bytes=chunk_bytes,
    )  # fmt: skip
    assert len(_Capture.bodies) == 1
    return _Capture.bodies[0]


@pytest.mark.parametrize("index", range(len(_spec()["cases"])), ids=[c["name"] for c in _spec()["cases"]])
@pytest.mark.parametrize("chunk_bytes", [1024, 128 * 1024])
def test_same_bytes_as_the_typescript_sdk(ts_golden: Dict[str, Any], capture: str, index: int, chunk_bytes: int) -> None:
    case = _spec()["cases"][index]
    ts = ts_golden["cases"][index]
    assert ts["name"] == case["name"]
    content_type, body = _send(capture, case, chunk_bytes)
    expected = base64.b64decode(ts["body"])
    assert content_type == ts["contentType"]
    if body != expected:
        at = next((i for i, (a, b) in enumerate(zip(body, expected)) if a != b), min(len(body), len(expected)))
        pytest.fail(
            f"{case['name']}: bodies differ at byte {at} of {len(expected)} (python {len(body)} bytes): "
            f"python {body[max(0, at - 16):at + 16].hex()} vs typescript {expected[max(0, at - 16):at + 16].hex()}"
        )


@pytest.mark.parametrize("index", range(len(_spec()["refusals"])), ids=[c["name"] for c in _spec()["refusals"]])
def test_refuses_what_the_typescript_sdk_refuses(ts_golden: Dict[str, Any], capture: str, index: int) -> None:
    case = _spec()["refusals"][index]
    ts = ts_golden["refusals"][index]
    assert ts["name"] == case["name"]
    with pytest.raises(UploadRowError) as info:
        _send(capture, case, 128 * 1024)
    err = info.value
    assert (err.row, err.column, err.source) == (ts["row"], ts["column"], "client"), f"TypeScript said: {ts['message']}"
    assert str(err).startswith(f"row {ts['row']}")
