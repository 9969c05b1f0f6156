"""When to try again and how long to wait: exponential backoff with full jitter (so 40 desktop clients
that lost the same worker do not come back in lockstep), never sooner than the server's Retry-After."""
from __future__ import annotations

import email.utils
import random
import re
import time
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class RetryPolicy:
    #: Attempts in total, the first included (8: about 25 s of waiting on average, 50 s at most).
    max_attempts: int = 8
    #: After failure n, wait a random time in [0, min(max_delay, base_delay * 2^(n-1))).
    base_delay: float = 0.5
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"retry.max_attempts must be a whole number >= 1, got {self.max_attempts!r}")
        if not (self.base_delay >= 0 and self.max_delay >= 0):
            raise ValueError("retry.base_delay and retry.max_delay must be >= 0")

    def delay(self, failed: int, retry_after: Optional[float], rnd: float = -1.0) -> float:
        """Seconds before attempt ``failed + 1``; the server's Retry-After wins when longer."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(failed - 1, 30))
        backoff = (random.random() if rnd < 0 else rnd) * ceiling
        return max(backoff, retry_after or 0.0)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3) -> seconds."""
    if value is None or value.strip() == "":
        return None
    if re.fullmatch(r"\s*\d+\s*", value):
        return float(int(value))
    try:
        at = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, at - (time.time() if now is None else now))
