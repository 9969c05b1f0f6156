"""One HTTP/1.1 exchange with the ingest worker: a POST whose body is streamed in chunks (chunked
transfer encoding, so memory stays at one chunk whatever the upload's size), or a small GET.

Kept apart, because the retry loop treats them differently: a reply (any status), a TransportError
(connection failed: retry), a BodySourceError (producing the body failed: a bad row; the connection is
closed so the server rolls back), CertificateTrustError (never retried), UploadAbortedError.
"""
from __future__ import annotations

import http.client
import io
import json
import queue
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional, Union
from urllib.parse import SplitResult

from .cancel import Cancel
from .errors import CertificateTrustError, UploadAbortedError
from .tls_trust import Trust, wrap

MAX_REPLY_BYTES = 1 << 20
#: Encoded chunks waiting for the sender thread: bounds memory at a few chunks.
SEND_QUEUE_CHUNKS = 4
CancelLike = Any  # Cancel or threading.Event


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    #: Parsed JSON, or the text when the body is not JSON.
    body: Any


class TransportError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BodySourceError(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _cancelled(cancel: Optional[CancelLike]) -> bool:
    return cancel is not None and cancel.is_set()


def _connect(url: SplitResult, trust: Optional[Trust], timeout: float) -> socket.socket:
    host = url.hostname or "localhost"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if url.scheme == "https":
            return wrap(sock, host, port, trust, timeout)
        return sock
    except CertificateTrustError:
        raise
    except (OSError, ssl.SSLError) as err:
        raise TransportError(_code(err), f"connecting to {host}:{port}: {err}") from None


def _code(err: BaseException) -> str:
    if isinstance(err, socket.timeout):
        return "ETIMEDOUT"
    if isinstance(err, ConnectionRefusedError):
        return "ECONNREFUSED"
    if isinstance(err, ConnectionResetError):
        return "ECONNRESET"
    if isinstance(err, BrokenPipeError):
        return "EPIPE"
    if isinstance(err, ssl.SSLError):
        return "ERR_TLS"
    return type(err).__name__


class _Answer:
    """Bytes of the response read while checking for an early answer, put back in front of the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.early = b""

    def answered(self) -> bool:
        """Whether the server has started to answer (or closed). For TLS, readable bytes may be only
        post-handshake messages (TLS 1.3 session tickets): a non-blocking read tells them apart."""
        if self.early:
            return True
        sock = self.sock
        if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            try:
                r, _, _ = select.select([sock], [], [], 0)
            except (OSError, ValueError):
                return True
            if not r:
                return False
            if not isinstance(sock, ssl.SSLSocket):
                return True
        sock.setblocking(False)
        try:
            data = sock.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            sock.settimeout(self.timeout)
        self.early = data  # b"" is EOF: reading the answer then says "connection closed"
        return True

    timeout: float = 300.0

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_PrefixedRaw(self.early, self.sock))  # type: ignore[arg-type]


class _PrefixedRaw(io.RawIOBase):
    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self.prefix = prefix
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        return self.sock.recv_into(b)


def exchange(
    url: SplitResult,
    method: str,
    target: str,
    headers: Dict[str, str],
    body: Optional[Iterable[bytes]] = None,
    *,
    timeout: float,
    trust: Optional[Trust],
    cancel: Optional[CancelLike] = None,
    on_chunk_sent: Optional[Callable[[int], None]] = None,
) -> Reply:
    if _cancelled(cancel):
        raise UploadAbortedError()
    sock = _connect(url, trust, timeout)
    if isinstance(cancel, Cancel):
        cancel._attach(sock)
    try:
        return _exchange_on(sock, url, method, target, headers, body, timeout, cancel, on_chunk_sent)
    finally:
        if isinstance(cancel, Cancel):
            cancel._detach(sock)
        try:
            sock.close()
        except OSError:
            pass


def _exchange_on(
    sock: socket.socket,
    url: SplitResult,
    method: str,
    target: str,
    headers: Dict[str, str],
    body: Optional[Iterable[bytes]],
    timeout: float,
    cancel: Optional[CancelLike],
    on_chunk_sent: Optional[Callable[[int], None]],
) -> Reply:
    # "Connection: keep-alive": a worker that answers early (503, 401, a bad row) then keeps reading
    # and discarding, so our remaining writes do not fail before we read its answer; we close ourselves.
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append("Transfer-Encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    send_failed: Optional[BaseException] = None
    answer = _Answer(sock)
    answer.timeout = timeout
    try:
        sock.sendall(head)
    except (OSError, ssl.SSLError) as err:
        send_failed = err
    if body is not None and send_failed is None:
        send_failed = _send_body(sock, answer, body, cancel, on_chunk_sent)
    elif _cancelled(cancel):
        raise UploadAbortedError()
    return _read_reply(answer, timeout, cancel, send_failed)


def _send_body(
    sock: socket.socket,
    answer: "_Answer",
    body: Iterable[bytes],
    cancel: Optional[CancelLike],
    on_chunk_sent: Optional[Callable[[int], None]],
) -> Optional[BaseException]:
    """Encodes (this thread) while a sender thread writes: the next chunk is being made while the last
    one drains to the server, as the TypeScript SDK overlaps them with backpressure. Only the sender
    touches the socket until it ends (an SSL socket is not safe for concurrent use). Returns the send
    error to report after reading the answer (the server may have answered and closed), if any."""
    chunks: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=SEND_QUEUE_CHUNKS)
    state: Dict[str, Any] = {"error": None, "stop": False, "abort": False}

    def sender() -> None:
        try:
            while True:
                data = chunks.get()
                if state["abort"]:
                    return  # never the terminating chunk: a cut-off body must not commit
                if data is None:
                    break
                if answer.answered():
                    state["stop"] = True  # answered before the whole body went out
                    return
                sock.sendall(b"%X\r\n" % len(data) + data + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except BaseException as err:  # noqa: B902 (reported by the main thread)
            state["error"] = err
        finally:
            state["stop"] = True

    thread = threading.Thread(target=sender, name="powerhouse-upload-sender", daemon=True)
    thread.start()
    produced: Optional[BaseException] = None
    handed = 0
    try:
        for data in body:
            if _cancelled(cancel):
                raise UploadAbortedError()
            if not data:
                continue
            while not state["stop"]:
                try:
                    chunks.put(data, timeout=0.1)
                    break
                except queue.Full:
                    if _cancelled(cancel):
                        raise UploadAbortedError() from None
            if state["stop"]:
                break
            handed += len(data)
            if on_chunk_sent is not None:
                on_chunk_sent(handed)
    except UploadAbortedError:
        produced = UploadAbortedError()
    except BaseException as err:  # producing the body failed: abandon the request
        produced = BodySourceError(err)
    if produced is not None:
        _abort_sender(sock, state, chunks, thread)
        if isinstance(produced, BodySourceError) and _cancelled(cancel):
            raise UploadAbortedError()
        raise produced
    while thread.is_alive():
        try:
            chunks.put(None, timeout=0.1)
            break
        except queue.Full:
            if _cancelled(cancel):
                _abort_sender(sock, state, chunks, thread)
                raise UploadAbortedError() from None
    thread.join()
    if _cancelled(cancel):
        raise UploadAbortedError()
    return state["error"]


def _abort_sender(sock: socket.socket, state: Dict[str, Any], chunks: "queue.Queue[Optional[bytes]]", thread: threading.Thread) -> None:
    """Stops the sender without the terminating chunk; the server sees the request cut off and rolls back."""
    state["abort"] = True
    _shutdown(sock)  # unblocks a send in progress
    while thread.is_alive():
        try:
            chunks.put(None, timeout=0.1)  # unblocks a sender waiting for the next chunk
        except queue.Full:
            pass
        thread.join(0.1)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass




def _read_reply(
    answer: _Answer, timeout: float, cancel: Optional[CancelLike], send_failed: Optional[BaseException]
) -> Reply:
    waited = 0.0
    sock = answer.sock
    try:
        while not answer.answered():
            if _cancelled(cancel):
                raise UploadAbortedError()
            if send_failed is not None or waited >= timeout:
                break
            select.select([sock], [], [], 0.1)
            waited += 0.1
        resp = http.client.HTTPResponse(answer)  # type: ignore[arg-type]
        resp.begin()
        raw = resp.read(MAX_REPLY_BYTES)
    except UploadAbortedError:
        raise
    except (OSError, ssl.SSLError, http.client.HTTPException) as err:
        if _cancelled(cancel):
            raise UploadAbortedError() from None
        first = send_failed or err
        raise TransportError(_code(first), f"no answer: {first or 'connection closed'}") from None
    text = raw.decode("utf-8", errors="replace")
    parsed: Union[str, Any] = text
    try:
        parsed = json.loads(text)
    except ValueError:
        pass
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed)
