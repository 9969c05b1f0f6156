"""Fixtures for the Python client's tests.

The stack tests run against the real local stack that tests/python/python-client.test.ts starts (jest,
`npm test`) and describes in environment variables; without them they are skipped, loudly. Run alone:
`python3 -m pytest clients/python/tests` (unit and golden tests; the golden test needs node/npx).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

STACK_VARS = ("POWERHOUSE_TEST_ENDPOINT", "POWERHOUSE_TEST_TOKEN", "POWERHOUSE_TEST_DSN", "POWERHOUSE_TEST_CONTROL")
_skipped_stack: List[str] = []


@dataclass(frozen=True)
class Stack:
    endpoint: str
    token: str
    dsn: str
    control: str
    env: Dict[str, str]

    def sql(self, query: str) -> str:
        """One value from psql as the superuser (direct to PostgreSQL): what was stored."""
        out = subprocess.run(
            ["psql", self.dsn, "-XAtqc", query], check=True, capture_output=True, text=True, timeout=60
        )
        return out.stdout.strip()

    def count(self, where: str) -> int:
        return int(self.sql(f"SELECT count(*) FROM tm_entries WHERE {where}"))

    def control_call(self, path: str, method: str = "POST") -> Any:
        req = urllib.request.Request(self.control + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")


@pytest.fixture(scope="session")
def stack() -> Stack:
    missing = [v for v in STACK_VARS if not os.environ.get(v)]
    if missing:
        _skipped_stack.append("x")
        pytest.skip(f"NO STACK: {', '.join(missing)} not set; run `npm test` (tests/python/python-client.test.ts)")
    env = dict(os.environ)
    return Stack(env["POWERHOUSE_TEST_ENDPOINT"], env["POWERHOUSE_TEST_TOKEN"], env["POWERHOUSE_TEST_DSN"],
                 env["POWERHOUSE_TEST_CONTROL"], env)  # fmt: skip


@pytest.fixture
def tm_id() -> int:
    """A tm_id no other test uses: each test counts its own rows."""
    import random

    return random.randrange(10**12, 10**15)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_stack:
        terminalreporter.write_line(
            "WARNING: the tests against the real stack were SKIPPED (no POWERHOUSE_TEST_* environment): "
            "run them with `npm test` (tests/python/python-client.test.ts)",
            red=True,
            bold=True,
        )


def golden_file() -> Optional[str]:
    return os.environ.get("POWERHOUSE_GOLDEN_JSON")
