"""Streaming writes through the router: ``router.open(key, "wb")``.

The source is read once. In a single-backend phase, chunks go straight to the
backend's all-or-nothing sink. In dual-write, the caller's thread writes the primary
and a thread of the writer's own (not one of the Router's pool, which callers holding
many open writers could otherwise exhaust while their other ops wait on it) writes the
shadow from a :class:`SpillQueue`: up to ``memory_limit`` bytes wait in RAM, anything
beyond is appended to an unlinked temp file, so a slow side costs disk, never unbounded
memory, and the caller pays the slower side only at ``close()``.

Nothing is published unless ``close()`` is reached without an exception: an exception
inside ``with router.open(p, "wb")`` aborts both sides.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from router.backends import BackendFS
from router.errors import classify, translate
from router.executor import Executor, LegFailure
from router.metrics import Outcome
from router.plan import Decision, Role
from router.policy.model import Op
from router.sinks import Sink, open_sink

__all__ = ["RouterWriter", "SpillQueue"]

MEMORY_LIMIT = 16 * 2**20


class SpillQueue:
    """A FIFO of byte chunks that spills to a temp file past ``memory_limit``."""

    def __init__(self, memory_limit: int = MEMORY_LIMIT) -> None:
        self.memory_limit = memory_limit
        self._items: collections.deque[bytes | tuple[int, int]] = collections.deque()
        self._in_memory = 0
        self._file: Any = None
        self._file_end = 0
        self._closed = False
        self._disposed = False
        self._cond = threading.Condition()
        self.spilled_bytes = 0

    def put(self, data: bytes) -> None:
        """Append a chunk (never blocks for long: spills instead); dropped once disposed."""
        with self._cond:
            if self._disposed:
                return
            if self._in_memory + len(data) <= self.memory_limit:
                self._items.append(data)
                self._in_memory += len(data)
            else:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="router-spill-")  # noqa: SIM115
                fd = self._file.fileno()
                view = memoryview(data)
                offset = self._file_end
                while view:
                    written = os.pwrite(fd, view, self._file_end)
                    self._file_end += written
                    view = view[written:]
                self._items.append((offset, len(data)))
                self.spilled_bytes += len(data)
            self._cond.notify()

    def close(self) -> None:
        """No more chunks: the reader sees the end after draining."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self) -> bytes | None:
        """The next chunk, or None at the end."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if not self._items:
                return None
            item = self._items.popleft()
            if isinstance(item, bytes):
                self._in_memory -= len(item)
                return item
            fd = self._file.fileno()
        offset, length = item
        return os.pread(fd, length, offset)

    def dispose(self) -> None:
        """Drop everything and the temp file."""
        with self._cond:
            self._items.clear()
            self._in_memory = 0
            self._closed = True
            self._disposed = True
            if self._file is not None:
                self._file.close()
                self._file = None
            self._cond.notify_all()


class _Leg:
    """One side of a streaming write: its sink, bytes written, and how it ended."""

    def __init__(self, backend: BackendFS, role: Role, path: str) -> None:
        self.backend = backend
        self.role = role
        self.path = path
        self.sink: Sink | None = None
        self.failure: LegFailure | None = None
        self.written = 0
        self.started = time.perf_counter()

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            translated = translate(exc, self.path)
            if translated is not exc:
                translated.__cause__ = exc
            self.failure = LegFailure(self.backend.name, self.role, classify(exc), translated)
        if self.sink is not None:
            with contextlib.suppress(Exception):
                self.sink.abort()

    def run(self, action: Callable[[], object]) -> None:
        if self.failure is not None:
            return
        try:
            action()
        except Exception as exc:
            self.fail(exc)


class RouterWriter(io.RawIOBase):
    """A write-only binary file over one or two all-or-nothing sinks."""

    def __init__(
        self,
        executor: Executor,
        decision: Decision,
        key: str,
        *,
        guard: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        """``guard``: held while the sides publish and the write settles (the Router's
        per-key lock, so concurrent mutations of one key reach both sides in order)."""
        super().__init__()
        self._guard = guard or contextlib.nullcontext
        self.executor = executor
        self.decision = decision
        self.key = key
        self.path = key
        phase = decision.phase
        backends = executor.backends
        self._trace = executor.start_trace(decision, Op.WRITE, key)
        self._primary = _Leg(
            backends[phase.primary], Role.PRIMARY, backends[phase.primary].path(key)
        )
        self._primary.run(
            lambda: setattr(
                self._primary, "sink", open_sink(self._primary.backend, self._primary.path)
            )
        )
        self._reported = False
        self._shadow: _Leg | None = None
        self._queue: SpillQueue | None = None
        self._drainer: threading.Thread | None = None
        if phase.shadow is not None and phase.writes_shadow:
            shadow = _Leg(backends[phase.shadow], Role.SHADOW, backends[phase.shadow].path(key))
            self._shadow = shadow
            self._queue = SpillQueue()
            self._drainer = threading.Thread(
                target=self._drain,
                args=(shadow, self._queue),
                name=f"router-writer-{phase.shadow}",
                daemon=True,
            )
            self._drainer.start()
        if self._shadow is None and self._primary.failure is not None:
            self._report()

    def __repr__(self) -> str:
        return f"<RouterWriter {self.key!r} phase={self.decision.phase.name!r}>"

    def _drain(self, leg: _Leg, queue: SpillQueue) -> None:
        try:
            leg.sink = open_sink(leg.backend, leg.path)
            while (chunk := queue.get()) is not None:
                leg.sink.write(chunk)
                leg.written += len(chunk)
        except Exception as exc:
            leg.fail(exc)
            queue.dispose()

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return (
            self._primary.written
            if self._primary.failure is None
            else (self._shadow.written if self._shadow else 0)
        )

    def write(self, data: Any) -> int:
        """Write ``data`` to every live side; fails only when no side is left."""
        if self.closed:
            raise ValueError("write to a closed file")
        chunk = bytes(data)
        if not chunk:
            return 0
        primary = self._primary
        if primary.failure is None and primary.sink is not None:
            sink = primary.sink
            primary.run(lambda: sink.write(chunk))
            if primary.failure is None:
                primary.written += len(chunk)
        if self._shadow is not None and self._queue is not None and self._shadow.failure is None:
            self._queue.put(chunk)
        if primary.failure is not None and (
            self._shadow is None or self._shadow.failure is not None
        ):
            self._abort()
            self._report()
        return len(chunk)

    def _abort(self) -> None:
        self._primary.fail(RuntimeError("aborted"))
        if self._shadow is not None and self._queue is not None:
            # Stop the drain thread first, then abort its sink: never abort a sink while
            # another thread may still be opening or writing it.
            self._queue.dispose()
            if self._drainer is not None:
                self._drainer.join()
            self._shadow.fail(RuntimeError("aborted"))

    def close(self) -> None:
        """Publish on every side that succeeded, then settle like any mutation."""
        if self.closed:
            return
        try:
            self._finish()
        finally:
            super().close()

    def discard(self) -> None:
        """Publish nothing on either side."""
        if self.closed:
            return
        try:
            self._abort()
        finally:
            if self._trace is not None and not self._reported:
                self._trace.close()
            super().close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __del__(self) -> None:
        # Never publish from the garbage collector: an unclosed writer is abandoned.
        if not self.closed:
            with contextlib.suppress(Exception):
                self.discard()

    def _finish(self) -> None:
        if self._reported:  # a write() already settled the failure of every side
            return
        primary = self._primary
        shadow = self._shadow
        if shadow is not None and self._queue is not None and self._drainer is not None:
            self._queue.close()
            self._drainer.join()  # the shadow has every byte; nothing is published yet
            self._queue.dispose()
        with self._guard():
            if primary.sink is not None:
                sink = primary.sink
                primary.run(sink.commit)
            if shadow is not None and shadow.failure is None and shadow.sink is not None:
                shadow_sink = shadow.sink
                shadow.run(shadow_sink.commit)
            self._report()

    def _report(self) -> None:
        """Record each leg as one backend call, then settle the write (once)."""
        self._reported = True
        ex = self.executor
        legs = [leg for leg in (self._primary, self._shadow) if leg is not None]
        for leg in legs:
            failure = leg.failure
            ex._record(
                self.decision,
                Op.WRITE,
                leg.backend.name,
                leg.role,
                Outcome.SUCCESS if failure is None else Outcome.FAIL,
                failure.error_class if failure else None,
                1,
                leg.started,
                leg.written if failure is None else None,
                self.key,
                trace=self._trace,
            )
        plan = self.decision.phase.ops[Op.WRITE]
        try:
            if self._shadow is None:
                if self._primary.failure is not None:
                    raise self._primary.failure.error
            else:
                ex.settle(
                    self.decision,
                    Op.WRITE,
                    self.key,
                    plan,
                    (None, self._primary.failure),
                    (None, self._shadow.failure),
                    trace=self._trace,
                )
        except Exception as exc:
            ex.end_trace(self._trace, exc)
            raise
        ex.end_trace(self._trace)
