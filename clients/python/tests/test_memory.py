"""Memory stays flat in the number of rows: peak RSS of a process uploading 1M generated rows is not
above that of one uploading 100k (each upload in its own interpreter, so nothing else counts)."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import HERE, Stack

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from powerhouse_client import upload_rows
endpoint, token, n, tm_id = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rows = ((tm_id, "source text of a translation memory entry %d" % i, "Zieltext eines Eintrags %d" % i, None) for i in range(n))
t = time.monotonic()
r = upload_rows(endpoint, token, "tm_entries", rows, columns=["tm_id", "source", "target", "created_by"])
print(r.rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, round(time.monotonic() - t, 2))
"""


def _peak_kib(stack: Stack, n: int, tm_id: int) -> int:
    src = os.path.join(HERE, "..", "src")
    out = subprocess.run([sys.executable, "-c", CHILD, src, stack.endpoint, stack.token, str(n), str(tm_id)],
                         check=True, capture_output=True, text=True, timeout=300)  # fmt: skip
    rows, peak, seconds = out.stdout.split()
    assert int(rows) == n
    print(f"{n} rows: peak RSS {int(peak) / 1024:.1f} MiB, {seconds} s")
    return int(peak)


def test_peak_memory_does_not_grow_with_rows(stack: Stack, tm_id: int) -> None:
    small = _peak_kib(stack, 100_000, tm_id)
    large = _peak_kib(stack, 1_000_000, tm_id + 1)
    assert stack.count(f"tm_id = {tm_id + 1}") == 1_000_000
    # 10x the rows: allow 4 MiB of noise (allocator arenas), nothing proportional to the rows.
    assert large <= small + 4096, f"peak RSS {small} KiB at 100k rows but {large} KiB at 1M"
    stack.sql(f"DELETE FROM tm_entries WHERE tm_id IN ({tm_id}, {tm_id + 1})")
