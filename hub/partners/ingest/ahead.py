"""Parsing the next chunk of a message while the current one is being stored.

Parsing is Python work that holds the GIL; storing spends much of its time where the
GIL is released (SQLite's C code executing a statement, psycopg waiting on the
server). A worker thread that parses one chunk ahead fills those waits. It never touches
the database: the connection stays on the thread that opened its transaction (SQLite's
rule), so a crash or an error leaves exactly what the one-thread path leaves.

The queue holds one chunk, so at most three are alive at once (the one being stored,
the one waiting, the one being parsed): memory stays flat whatever the file's size.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Failed:
    """What the worker raised, handed to the consumer to raise in its own thread."""

    error: BaseException


YIELD_EVERY = 32
"""Items the worker parses between two offers of the GIL (about a third of a millisecond)."""

_END = object()
"""Put by the worker after the last chunk."""


@dataclass(frozen=True)
class _Handoff:
    """Between the worker and the caller: the queue of parsed chunks, and the flag that
    tells the worker to stop. Made when a worker starts: their locks cost a message of one
    chunk, which starts none, about 1 % of a small file's instructions (issue 17)."""

    chunks: queue.Queue[object]
    stopping: threading.Event


class ChunksAhead(Generic[T]):
    """The items in chunks of ``size``, the first read by the caller, the rest by a
    worker thread one chunk ahead of the caller (when ``ahead``; otherwise all by the
    caller, as it asks). A short message (one chunk) starts no thread: a small file pays
    nothing for this.

    Use it as a context manager: leaving it (normally or by an error) stops the worker
    and waits for it, so no parsing outlives the message's transaction."""

    def __init__(self, items: Iterator[T], size: int, *, ahead: bool = True) -> None:
        self._items = items
        self._size = size
        self._ahead = ahead
        self._handoff: _Handoff | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ChunksAhead[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[list[T]]:
        first = list(islice(self._items, self._size))
        if not first:
            return
        if len(first) < self._size:
            yield first  # the whole message: nothing to overlap
            return
        if not self._ahead:
            yield first
            del first  # not kept alive while the next chunks are stored
            while chunk := list(islice(self._items, self._size)):
                yield chunk
            return
        handoff = self._handoff = _Handoff(queue.Queue(maxsize=1), threading.Event())
        # Copied context: the worker's log lines carry the message's (raw_id...).
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._produce, handoff), name="hub-parse-ahead", daemon=True
        )
        self._thread.start()
        yield first
        del first  # likewise
        while True:
            got = handoff.chunks.get()
            if got is _END:
                return
            if isinstance(got, _Failed):
                raise got.error
            yield got  # type: ignore[misc]  # the worker puts only chunks of T

    def _produce(self, handoff: _Handoff) -> None:
        try:
            while not handoff.stopping.is_set():
                chunk = self._read_chunk()
                if not chunk:
                    break
                self._put(handoff, chunk)
        except BaseException as error:  # noqa: BLE001 - raised again in the consumer
            self._put(handoff, _Failed(error))
            return
        self._put(handoff, _END)

    def _read_chunk(self) -> list[T]:
        """The next chunk, the GIL offered to the storing thread every few items: back
        from a call that released it (a write to the server), that thread would otherwise
        wait for the interpreter's switch interval (5 ms) each time."""
        chunk: list[T] = []
        while len(chunk) < self._size:
            part = list(islice(self._items, min(YIELD_EVERY, self._size - len(chunk))))
            if not part:
                break
            chunk += part
            time.sleep(0)
        return chunk

    @staticmethod
    def _put(handoff: _Handoff, item: object) -> None:
        """Wait for room, unless the consumer has left (then drop the item)."""
        while not handoff.stopping.is_set():
            try:
                handoff.chunks.put(item, timeout=0.05)
            except queue.Full:
                continue
            return

    def close(self) -> None:
        """Stop the worker (it finishes the chunk it is parsing) and wait for it."""
        if self._handoff is not None:
            self._handoff.stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
