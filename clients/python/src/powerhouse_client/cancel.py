"""Cancelling an upload from another thread (a Cancel button): the connection is shut down at once,
so the server rolls back and nothing is stored."""
from __future__ import annotations

import socket
import threading
from typing import Optional, Set


class Cancel:
    """Pass as ``cancel=`` and call :meth:`cancel` from any thread. A ``threading.Event`` works too
    (checked between chunks and while waiting), but only a Cancel also interrupts a blocked send."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: Set[socket.socket] = set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            for s in list(self._sockets):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def is_set(self) -> bool:
        return self._event.is_set()

    cancelled = property(is_set)

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._event.wait(timeout)

    def _attach(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.add(s)
        if self._event.is_set():
            self.cancel()

    def _detach(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(s)
