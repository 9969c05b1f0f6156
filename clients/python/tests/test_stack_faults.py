"""The worker SIGKILLed in the middle of an upload (through the jest side's control server, which calls
restartWorker('kill') on the real child process): the client retries with the same key and the spooled,
identical bytes, and every row is stored exactly once."""
from __future__ import annotations

from typing import Any, Iterator, List

from conftest import Stack
from powerhouse_client import RetryInfo, RetryPolicy, upload_rows

TM = ["tm_id", "source", "target", "created_by"]


def test_worker_killed_mid_upload_then_retry_stores_each_row_once(stack: Stack, tm_id: int) -> None:
    n = 200_000
    retries: List[RetryInfo] = []
    killed: List[Any] = []

    def rows() -> Iterator[Any]:
        for i in range(n):
            if i == 120_000 and not killed:
                # ~7 MB of this upload are at the worker, uncommitted: kill it (returns once it is back).
                killed.append(stack.control_call("/kill-worker"))
            yield (tm_id, f"row {i}", "target", None)

    result = upload_rows(stack.endpoint, stack.token, "tm_entries", rows(), columns=TM,
                         idempotency_key=f"py-kill-{tm_id}", on_retry=retries.append,
                         retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=2.0))  # fmt: skip
    assert killed and killed[0]["killed"] is True
    assert retries, "the kill must have cost the first attempt"
    assert result.rows == n and result.attempts >= 2 and not result.replayed
    counts = stack.sql(f"SELECT count(*) || ' ' || count(DISTINCT source) FROM tm_entries WHERE tm_id = {tm_id}")
    assert counts == f"{n} {n}"
