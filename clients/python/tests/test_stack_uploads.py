"""upload_rows / upload_file / bulk_copy against the real local stack: what PostgreSQL stored after each
kind of upload and refusal (counted with psql as the superuser)."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterator

import pytest

from conftest import Stack
from powerhouse_client import (
    Cancel,
    Endpoint,
    RetryPolicy,
    UploadAbortedError,
    UploadRejectedError,
    UploadRowError,
    UploadUnavailableError,
    bulk_copy,
    connect_info,
    describe_table,
    upload_file,
    upload_rows,
)
from powerhouse_client.body_source import ReiterableSource
from powerhouse_client.send_upload import CallOptions, send_upload

TM = ["tm_id", "source", "target", "created_by"]


def test_describe_table_gives_the_writable_columns(stack: Stack) -> None:
    schema = describe_table(stack.endpoint, stack.token, "tm_entries")
    cols = {c.name: c for c in schema.columns}
    assert list(cols) == ["tm_id", "source", "target", "created_by", "created_at"]
    assert (cols["tm_id"].kind, cols["tm_id"].nullable, cols["created_at"].has_default) == ("int8", False, True)


def test_upload_rows_tuples_dicts_and_a_generator(stack: Stack, tm_id: int) -> None:
    r1 = upload_rows(stack.endpoint, stack.token, "tm_entries", [(tm_id, "a", "b", None), (tm_id, "🎉", "e\u0301", "py")], columns=TM)
    r2 = upload_rows(stack.endpoint, stack.token, "tm_entries", [{"tm_id": tm_id, "source": "c", "target": "d"}])
    r3 = upload_rows(stack.endpoint, stack.token, "tm_entries", ((tm_id, f"g{i}", "t", None) for i in range(1000)), columns=TM)
    assert (r1.rows, r2.rows, r3.rows) == (2, 1, 1000)
    assert not (r1.replayed or r2.replayed or r3.replayed)
    assert stack.count(f"tm_id = {tm_id}") == 1003
    assert stack.sql(f"SELECT target FROM tm_entries WHERE tm_id = {tm_id} AND source = '🎉'") == "e\u0301"
    assert stack.sql(f"SELECT count(*) FROM tm_entries WHERE tm_id = {tm_id} AND created_by IS NULL") == "1002"


def test_every_file_format(stack: Stack, tm_id: int, tmp_path: Any) -> None:
    files = {
        "m.csv": f'tm_id,source,target\n{tm_id},"a,1","x ""q"""\n{tm_id},b,y\n',
        "m.tsv": f"tm_id\tsource\ttarget\n{tm_id}\ttab\\there\tz\n",
        "m.ndjson": f'{{"tm_id": {tm_id}, "source": "n1", "target": "j"}}\n\n{{"tm_id": "{tm_id}", "source": "n2", "target": "k"}}\n',
    }
    rows = {}
    for name, text in files.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        rows[name] = upload_file(stack.endpoint, stack.token, "tm_entries", str(p)).rows
    assert rows == {"m.csv": 2, "m.tsv": 1, "m.ndjson": 2}
    assert stack.count(f"tm_id = {tm_id}") == 5
    assert stack.sql(f"SELECT target FROM tm_entries WHERE tm_id = {tm_id} AND source = 'a,1'") == 'x "q"'
    assert stack.sql(f"SELECT source FROM tm_entries WHERE tm_id = {tm_id} AND target = 'z'") == "tab\there"


def test_a_bad_file_row_names_row_column_and_file(stack: Stack, tm_id: int, tmp_path: Any) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(f"tm_id,source,target\n{tm_id},a,b\nnot-a-number,c,d\n", encoding="utf-8")
    with pytest.raises(UploadRowError) as info:
        upload_file(stack.endpoint, stack.token, "tm_entries", p)
    assert (info.value.row, info.value.column, info.value.source, info.value.file) == (2, "tm_id", "server", str(p))
    assert stack.count(f"tm_id = {tm_id}") == 0


def test_replay_200_and_key_reused_422(stack: Stack, tm_id: int) -> None:
    key = f"py-replay-{tm_id}"
    rows = [(tm_id, f"s{i}", "t", None) for i in range(50)]
    first = upload_rows(stack.endpoint, stack.token, "tm_entries", rows, columns=TM, idempotency_key=key)
    again = upload_rows(stack.endpoint, stack.token, "tm_entries", iter(rows), columns=TM, idempotency_key=key)
    assert (first.replayed, again.replayed, again.upload_id, again.rows) == (False, True, first.upload_id, 50)
    with pytest.raises(UploadRejectedError) as info:
        upload_rows(stack.endpoint, stack.token, "tm_entries", rows[:-1], columns=TM, idempotency_key=key)
    assert (info.value.status, info.value.code) == (422, "idempotency_key_reused")
    assert stack.count(f"tm_id = {tm_id}") == 50


def test_409_while_the_same_key_runs_then_replay(stack: Stack, tm_id: int) -> None:
    key = f"py-409-{tm_id}"
    release = threading.Event()
    started = threading.Event()
    done: dict = {}

    def slow_rows() -> Iterator[Any]:
        for i in range(2000):
            if i == 1000:
                started.set()
                release.wait(30)
            yield (tm_id, f"s{i}", "t", None)

    def run() -> None:
        done["r"] = upload_rows(stack.endpoint, stack.token, "tm_entries", slow_rows(), columns=TM, idempotency_key=key, chunk_bytes=1024)

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(30)
    time.sleep(0.5)  # the first 1000 rows are at the worker: the upload is running
    try:
        with pytest.raises(UploadUnavailableError) as info:
            upload_rows(stack.endpoint, stack.token, "tm_entries", [(tm_id, "x", "y", None)], columns=TM,
                        idempotency_key=key, retry=RetryPolicy(max_attempts=2, base_delay=0.05))  # fmt: skip
        assert "409 upload_in_progress" in info.value.last and info.value.key == key and info.value.attempts == 2
    finally:
        release.set()
        t.join(60)
    assert done["r"].rows == 2000
    assert stack.count(f"tm_id = {tm_id}") == 2000


def test_400_bad_row_from_the_server_names_row_and_column_and_stores_nothing(stack: Stack, tm_id: int) -> None:
    rows = [(tm_id, f"s{i}", "t", None) for i in range(10)] + [(tm_id, None, "t", None)]
    with pytest.raises(UploadRowError) as info:
        upload_rows(stack.endpoint, stack.token, "tm_entries", rows, columns=TM)
    assert (info.value.row, info.value.column, info.value.source) == (11, "source", "server")
    assert str(info.value).startswith('row 11, column "source"')
    assert stack.count(f"tm_id = {tm_id}") == 0


def test_a_row_refused_locally_sends_nothing_that_commits(stack: Stack, tm_id: int) -> None:
    rows = [(tm_id, f"s{i}", "t", None) for i in range(5000)] + [(tm_id, "a\x00b", "t", None)]
    with pytest.raises(UploadRowError) as info:
        upload_rows(stack.endpoint, stack.token, "tm_entries", rows, columns=TM)
    assert (info.value.row, info.value.column, info.value.source) == (5001, "source", "client")
    assert stack.count(f"tm_id = {tm_id}") == 0


def test_401_404_415_are_rejections_and_never_show_the_token(stack: Stack, tm_id: int) -> None:
    secret = "not-the-token-" + "x" * 20
    with pytest.raises(UploadRejectedError) as e401:
        upload_rows(stack.endpoint, secret, "tm_entries", [(tm_id, "a", "b", None)], columns=TM,
                    schema=describe_table(stack.endpoint, stack.token, "tm_entries"))  # fmt: skip
    assert (e401.value.status, e401.value.code) == (401, "unauthorized")
    assert secret not in str(e401.value) and secret not in repr(e401.value.body)
    with pytest.raises(UploadRejectedError) as e404:
        upload_rows(stack.endpoint, stack.token, "no_such_table", [(1,)])
    assert (e404.value.status, e404.value.code) == (404, "unknown_table")
    # The client never sends another Content-Type itself: the attempt loop it uses, given one.
    source = ReiterableSource(lambda: iter([(b"hello", 1)]))
    with pytest.raises(UploadRejectedError) as e415:
        send_upload(stack.endpoint, stack.token, "tm_entries", "text/plain", None, source, f"k415-{tm_id}",
                    CallOptions(), time.monotonic())  # fmt: skip
    assert (e415.value.status, e415.value.code) == (415, "unsupported_media_type")
    assert stack.token not in str(e415.value)
    assert stack.count(f"tm_id = {tm_id}") == 0


def test_cancel_mid_upload_stores_nothing(stack: Stack, tm_id: int) -> None:
    cancel = Cancel()

    def rows() -> Iterator[Any]:
        for i in range(200_000):
            if i == 50_000:
                threading.Timer(0.05, cancel.cancel).start()
            yield (tm_id, f"s{i}", "t", None)

    with pytest.raises(UploadAbortedError):
        upload_rows(stack.endpoint, stack.token, "tm_entries", rows(), columns=TM, cancel=cancel)
    time.sleep(1.0)  # the worker notices the closed connection and rolls back
    assert stack.count(f"tm_id = {tm_id}") == 0


def test_connect_info_and_bulk_copy_to_the_endpoint(stack: Stack, tm_id: int, tmp_path: Any) -> None:
    info = tmp_path / "anna.json"
    info.write_text(
        '{"version": 1, "endpoint": "%s", "tables": ["tm_entries"], "token": "%s", "tokenName": "anna"}'
        % (stack.endpoint, stack.token),
        encoding="utf-8",
    )
    os.chmod(info, 0o600)
    ep = connect_info(str(info))
    assert isinstance(ep, Endpoint) and stack.token not in repr(ep)
    n = bulk_copy(ep, "tm_entries", ["tm_id", "source", "target"], [(tm_id, "a", "b"), {"tm_id": tm_id, "source": "c", "target": "d"}])
    assert n == 2 and stack.count(f"tm_id = {tm_id}") == 2
