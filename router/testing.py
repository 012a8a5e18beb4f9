"""Tools for testing code that uses the router — yours and ours. No mocks needed.

- :func:`capture_metrics`: record every counter bump and event inside a ``with``
  block, to assert "this upload fell back to local once".
- :class:`FaultyFileSystem`: wraps a *real* fsspec filesystem and raises chosen errors
  for chosen ops (by count, by rate, by key), then delegates to the real one.
- :func:`inject_faults`: put a FaultyFileSystem in front of one backend of a Router.
- :func:`s3_error`: the exception s3fs raises for an S3 error code, built the way s3fs
  builds it (a botocore ``ClientError`` translated by s3fs, kept as ``__cause__``).
"""

from __future__ import annotations

import contextlib
import errno
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fsspec import AbstractFileSystem

from router import metrics as _metrics

if TYPE_CHECKING:
    from router.filesystem import Router

__all__ = [
    "Capture",
    "Fault",
    "FaultyFileSystem",
    "capture_metrics",
    "inject_faults",
    "s3_error",
]


@dataclass
class Capture:
    """What :func:`capture_metrics` saw: counter increments and events, in order."""

    counts: Counter[str] = field(default_factory=Counter)
    """Counter name (``cert.s3.write.fail``) → increments inside the block."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Each event as a dict: its name under ``"event"``, then its fields."""

    def named(self, event: str) -> list[dict[str, Any]]:
        """The events called ``event`` (``router.op``, ``router.divergence``...)."""
        return [e for e in self.events if e["event"] == event]

    def ops(self, **fields: Any) -> list[dict[str, Any]]:
        """The ``router.op`` events whose fields equal ``fields`` (``backend="s3"``...)."""
        return [
            e
            for e in self.events
            if e["event"] == "router.op" and all(e.get(k) == v for k, v in fields.items())
        ]


class _CaptureListener:
    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.lock = threading.Lock()

    def on_event(self, event: str, fields: Mapping[str, Any]) -> None:
        with self.lock:
            self.capture.events.append({"event": event, **fields})

    def on_count(self, name: str, n: int) -> None:
        with self.lock:
            self.capture.counts[name] += n


@contextlib.contextmanager
def capture_metrics() -> Iterator[Capture]:
    """Capture every Router's events and counter bumps in this process, in the block.

    ``counts`` maps counter names (``cert.s3.write.fail``, ``cert.divergence.write``)
    to how often they were bumped inside the block; ``events`` holds each event as a
    dict with its name under ``"event"``. Real recording, no mocks: the Routers' own
    registries (``fs.metrics``) count as usual. A Router built with ``metrics=False``
    records nothing, so nothing is captured from it.
    """
    capture = Capture()
    listener = _CaptureListener(capture)
    _metrics.add_listener(listener)
    try:
        yield capture
    finally:
        _metrics.remove_listener(listener)


def s3_error(code: str, status: int, message: str = "injected") -> OSError:
    """The exception s3fs raises for S3 error ``code`` with HTTP ``status``."""
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    error = ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetObject",
    )
    translated = translate_boto_error(error)
    assert isinstance(translated, OSError)
    return translated


def _timeout() -> OSError:
    return TimeoutError(errno.ETIMEDOUT, "injected timeout")


@dataclass
class Fault:
    """Raise ``error()`` for ``op`` calls (``read``, ``write``, ``delete``, ``info``,
    ``list``, ``url``, ``copy`` or ``any``) — the first ``times`` matching calls, or each
    with probability ``rate`` — optionally only for paths containing ``match``."""

    op: str
    error: Callable[[], BaseException] = _timeout
    times: int | None = None
    rate: float | None = None
    match: str | None = None
    seed: int | None = None
    fired: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def should_fire(self, op: str, path: str) -> bool:
        if self.op not in (op, "any"):
            return False
        if self.match is not None and self.match not in path:
            return False
        if self.times is not None:
            if self.fired >= self.times:
                return False
        elif self.rate is not None and self._random.random() >= self.rate:
            return False
        self.fired += 1
        return True


class _FaultyWriter:
    """A write handle whose faults fire on write or at close (publishing nothing)."""

    def __init__(self, owner: FaultyFileSystem, inner: Any, path: str) -> None:
        self._owner = owner
        self._inner = inner
        self.path = path

    def write(self, data: Any) -> int:
        self._owner._maybe_fail("write", self.path)
        return int(self._inner.write(data))

    def close(self) -> None:
        try:
            self._owner._maybe_fail("write", self.path)
        except BaseException:
            self.discard()
            raise
        self._inner.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            discard = getattr(self._inner, "discard", None)
            if callable(discard):
                discard()
        with contextlib.suppress(AttributeError):
            self._inner.closed = True

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)

    @closed.setter
    def closed(self, value: bool) -> None:
        with contextlib.suppress(AttributeError):
            self._inner.closed = value

    def __enter__(self) -> _FaultyWriter:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


class FaultyFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A real filesystem with faults in front of it. One line of delegation per method."""

    protocol = "faulty"
    cachable = False

    def __init__(
        self, fs: AbstractFileSystem, faults: list[Fault] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fs = fs
        self.faults: list[Fault] = list(faults or [])
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultyFileSystem({self.fs!r}, faults={len(self.faults)})"

    def add(self, fault: Fault) -> Fault:
        """Add a fault; returns it (its ``fired`` says how often it struck)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault: the wrapped filesystem answers directly."""
        with self._lock:
            self.faults.clear()

    def _maybe_fail(self, op: str, path: str) -> None:
        with self._lock:
            self.calls[op] += 1
            for fault in self.faults:
                if fault.should_fire(op, path):
                    raise fault.error()

    def _strip_protocol(self, path: Any) -> Any:
        return self.fs._strip_protocol(path)

    # reads
    def cat_file(self, path: str, start: Any = None, end: Any = None, **kw: Any) -> Any:
        self._maybe_fail("read", path)
        return self.fs.cat_file(path, start=start, end=end, **kw)

    def open(self, path: str, mode: str = "rb", **kw: Any) -> Any:
        if "r" in mode:
            self._maybe_fail("read", path)
            return self.fs.open(path, mode, **kw)
        return _FaultyWriter(self, self.fs.open(path, mode, **kw), path)

    def info(self, path: str, **kw: Any) -> Any:
        self._maybe_fail("info", path)
        return self.fs.info(path, **kw)

    def exists(self, path: str, **kw: Any) -> bool:
        self._maybe_fail("info", path)
        return bool(self.fs.exists(path, **kw))

    def modified(self, path: str) -> Any:
        self._maybe_fail("info", path)
        return self.fs.modified(path)

    def created(self, path: str) -> Any:
        self._maybe_fail("info", path)
        return self.fs.created(path)

    def ls(self, path: str, detail: bool = True, **kw: Any) -> Any:
        self._maybe_fail("list", path)
        return self.fs.ls(path, detail=detail, **kw)

    def find(self, path: str, *args: Any, **kw: Any) -> Any:
        self._maybe_fail("list", path)
        return self.fs.find(path, *args, **kw)

    def sign(self, path: str, expiration: int = 100, **kw: Any) -> Any:
        self._maybe_fail("url", path)
        return self.fs.sign(path, expiration=expiration, **kw)

    # mutations
    def pipe_file(self, path: str, value: bytes, **kw: Any) -> Any:
        self._maybe_fail("write", path)
        return self.fs.pipe_file(path, value, **kw)

    def makedirs(self, path: str, exist_ok: bool = False) -> Any:
        self._maybe_fail("write", path)
        return self.fs.makedirs(path, exist_ok=exist_ok)

    def mkdir(self, path: str, create_parents: bool = True, **kw: Any) -> Any:
        self._maybe_fail("write", path)
        return self.fs.mkdir(path, create_parents=create_parents, **kw)

    def rm_file(self, path: str) -> Any:
        self._maybe_fail("delete", path)
        return self.fs.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: Any = None) -> Any:
        self._maybe_fail("delete", str(path))
        return self.fs.rm(path, recursive=recursive, maxdepth=maxdepth)

    def rmdir(self, path: str) -> Any:
        self._maybe_fail("delete", path)
        return self.fs.rmdir(path)

    def cp_file(self, path1: str, path2: str, **kw: Any) -> Any:
        self._maybe_fail("copy", path2)
        return self.fs.cp_file(path1, path2, **kw)

    def mv(self, path1: str, path2: str, **kw: Any) -> Any:
        self._maybe_fail("move", path2)
        return self.fs.mv(path1, path2, **kw)


@contextlib.contextmanager
def inject_faults(router: Router, backend: str, *faults: Fault) -> Iterator[FaultyFileSystem]:
    """Put a :class:`FaultyFileSystem` in front of ``backend`` for the block."""
    target = router.backends[backend]
    real = target.fs
    faulty = FaultyFileSystem(real, list(faults))
    target.fs = faulty
    try:
        yield faulty
    finally:
        target.fs = real
