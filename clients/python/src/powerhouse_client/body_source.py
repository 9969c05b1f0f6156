"""Where each attempt's body comes from. Every attempt of one upload must send identical bytes: the
server replays a committed Idempotency-Key only for the same SHA-256.

- reiterable: the rows can be read again (a list, a file): each attempt encodes them afresh;
- spooled: the rows can be read once (a generator): the first attempt copies each encoded chunk to a
  temp file as it is sent; a retry replays the file, then goes on with the rows not yet encoded, so
  memory stays at one chunk;
- one-shot: spooling turned off: no retry once the first attempt has consumed a row.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable, Iterator, List, Optional, Tuple

#: One body chunk and the number of rows encoded up to its end.
Chunk = Tuple[bytes, int]


class BodySource:
    def open(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def can_retry(self) -> bool:
        return True

    def close(self) -> None:
        pass


class ReiterableSource(BodySource):
    def __init__(self, open_chunks: Callable[[], Iterator[Chunk]]) -> None:
        self._open = open_chunks

    def open(self) -> Iterator[Chunk]:
        return self._open()


class SpooledSource(BodySource):
    def __init__(self, chunks: Iterator[Chunk], spool_dir: Optional[str] = None) -> None:
        self._chunks = chunks
        self._dir = tempfile.mkdtemp(prefix="powerhouse-upload-", dir=spool_dir)
        path = os.path.join(self._dir, "body.pgcopy")
        self._file = open(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), "w+b", buffering=0)
        self._ends: List[int] = []
        self._rows: List[int] = []
        self._size = 0
        self._finished = False

    def open(self) -> Iterator[Chunk]:
        start = 0
        for end, rows in list(zip(self._ends, self._rows)):
            self._file.seek(start)
            data = self._file.read(end - start)
            if len(data) != end - start:
                raise OSError(f"upload spool file ended early at byte {start + len(data)}")
            yield data, rows
            start = end
        while not self._finished:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._finished = True
                return
            # On file before it is sent: an attempt cut off right after this yield still finds it on replay.
            self._file.seek(self._size)
            self._file.write(chunk[0])
            self._size += len(chunk[0])
            self._ends.append(self._size)
            self._rows.append(chunk[1])
            yield chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class OneShotSource(BodySource):
    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._chunks = chunks
        self._started = False

    def open(self) -> Iterator[Chunk]:
        if self._started:
            raise RuntimeError("one-shot upload body opened twice")
        self._started = True
        return self._chunks

    def can_retry(self) -> bool:
        return not self._started

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
