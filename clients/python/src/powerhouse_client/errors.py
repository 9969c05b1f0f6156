"""What an upload can end with besides success, as classes a caller can branch on.

Messages never contain the token.
"""
from __future__ import annotations

from typing import Any, Optional


class UploadError(Exception):
    """Base class of every error the client raises on purpose."""


class UploadInputError(UploadError):
    """The input cannot be uploaded as given (unknown column, no columns, bad file); nothing was sent."""


class UploadRowError(UploadError):
    """A row was refused, so nothing was stored.

    Found while encoding on this machine (``source == "client"``) or reported by the server as
    400 bad_row (``source == "server"``). ``row`` is 1-based over data rows; ``column`` is None for
    row-level faults (wrong number of values, an unknown key).
    """

    def __init__(self, row: int, column: Optional[str], message: str, source: str) -> None:
        super().__init__(message)
        self.row = row
        self.column = column
        self.message = message
        self.source = source
        #: upload_file: the file the row came from.
        self.file: Optional[str] = None


class UploadRejectedError(UploadError):
    """The server answered 4xx/5xx other than bad_row and the retryable ones; nothing was stored."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(_rejected_message(status, body))
        self.status = status
        #: The parsed JSON body ({"error": …, "message"?: …}) or the raw text when it was not JSON.
        self.body = body

    @property
    def code(self) -> Optional[str]:
        """The contract's ``error`` field (unauthorized, forbidden, unknown_table, …), if any."""
        b = self.body
        if isinstance(b, dict) and isinstance(b.get("error"), str):
            return str(b["error"])
        return None


class UploadUnavailableError(UploadError):
    """Every attempt met a network error, 503/502/504, 429 or 409 upload_in_progress.

    The same Idempotency-Key was used throughout, so calling again with ``idempotency_key=err.key``
    cannot duplicate rows.
    """

    def __init__(self, attempts: int, key: Optional[str], last: str) -> None:
        tail = f"; trying again with Idempotency-Key {key} cannot duplicate rows" if key else ""
        plural = "" if attempts == 1 else "s"
        super().__init__(f"ingest endpoint unavailable after {attempts} attempt{plural} (last: {last}){tail}")
        self.attempts = attempts
        self.key = key
        self.last = last


class UploadAbortedError(UploadError):
    """The caller cancelled: the request was closed before the server committed, nothing is stored."""

    def __init__(self) -> None:
        super().__init__("upload cancelled; the request was aborted before the server committed it")


class CertificateTrustError(UploadError):
    """The server's certificate is not the trusted one: nothing was sent (no token). Never retried."""

    def __init__(
        self,
        message: str,
        expected: Optional[str],
        presented: Optional[str],
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        #: What the caller pinned (the fingerprint, or the ca certificate's own fingerprint).
        self.expected = expected
        #: SHA-256 of the certificate the server presented (AB:CD:… form).
        self.presented = presented
        #: OpenSSL's verification reason, when the ca check failed.
        self.reason = reason


def _rejected_message(status: int, body: Any) -> str:
    if isinstance(body, dict):
        parts = [body.get(k) for k in ("error", "message")]
        text = ": ".join(p for p in parts if isinstance(p, str) and p)
        if isinstance(body.get("limit"), int):
            text += f": limit {body['limit']} bytes"
        if text:
            return f"server refused the upload (HTTP {status} {text})"
    raw = body[:200] if isinstance(body, str) else ""
    return f"server refused the upload (HTTP {status}{': ' + raw if raw else ''})"
