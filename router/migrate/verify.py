"""Compare a route's keys on two backends: missing, extra, size and content differences.

Both listings are streamed and merge-joined in key order; comparisons that need to
read content (local MD5s, ``--checksum``) run on a thread pool with a bounded window,
and differences come out in key order. Memory is bounded by the window, whatever the
number of objects.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from router.errors import classify
from router.migrate.compare import Check, Difference, compare
from router.migrate.listing import KeyRange, ObjectInfo, list_objects, merge_listings
from router.migrate.scope import Scope

__all__ = ["VerifyReport", "verify"]

DifferenceHook = Callable[[Difference], None]


@dataclass
class VerifyReport:
    """Counts of one verify run, and its first differences."""

    route: str
    source: str
    target: str
    prefix: str
    check: str
    source_objects: int = 0
    source_bytes: int = 0
    target_objects: int = 0
    target_bytes: int = 0
    compared: int = 0
    """Keys looked at (present on either side)."""
    agree: int = 0
    unchecked: int = 0
    """Of ``agree``: equal by size only (no comparable checksum)."""
    missing: int = 0
    extra: int = 0
    size: int = 0
    content: int = 0
    errors: int = 0
    skipped: int = 0
    complete: bool = True
    """False when ``limit`` stopped the run before the end of the listings."""
    elapsed: float = 0.0
    differences: list[Difference] = field(default_factory=list)
    """The first ``keep`` differences, in key order."""

    @property
    def different(self) -> int:
        """How many differences were found."""
        return self.missing + self.extra + self.size + self.content + self.errors + self.skipped

    @property
    def ok(self) -> bool:
        """Whether both sides agree."""
        return self.different == 0

    def count(self, diff: Difference, keep: int) -> None:
        """Add one difference."""
        attr = {"error": "errors", "skipped": "skipped"}.get(diff.kind, diff.kind)
        setattr(self, attr, getattr(self, attr) + 1)
        if len(self.differences) < keep:
            self.differences.append(diff)

    def merge(self, other: VerifyReport, keep: int = 1000) -> None:
        """Add another partition's counts (for distributed runs)."""
        for name in (
            "source_objects",
            "source_bytes",
            "target_objects",
            "target_bytes",
            "compared",
            "agree",
            "unchecked",
            "missing",
            "extra",
            "size",
            "content",
            "errors",
            "skipped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.complete = self.complete and other.complete
        room = max(0, keep - len(self.differences))
        self.differences.extend(other.differences[:room])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        data = asdict(self)
        data["differences"] = [d.as_dict() for d in self.differences]
        data["different"] = self.different
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data.pop("different", None)
        data.pop("ok", None)
        diffs = [Difference(**d) for d in data.pop("differences", [])]
        return cls(**data, differences=diffs)


class _Done:
    """A finished result in the ordered window (no thread needed)."""

    __slots__ = ("value",)

    def __init__(self, value: Difference | str | None) -> None:
        self.value = value

    def result(self) -> Difference | str | None:
        return self.value

    def done(self) -> bool:
        return True


def _error_text(exc: BaseException) -> str:
    return f"{classify(exc).value}: {type(exc).__name__}: {exc}"


def verify(
    scope: Scope,
    *,
    check: Check = "etag",
    limit: int | None = None,
    concurrency: int = 8,
    key_range: KeyRange | None = None,
    on_difference: DifferenceHook | None = None,
    keep: int = 1000,
) -> VerifyReport:
    """Compare ``scope.source`` with ``scope.target`` over the scope's keys.

    ``limit`` stops after that many keys (a rehearsal); ``on_difference`` receives every
    difference in key order (e.g. to write a report), while the report keeps the first
    ``keep``. Listing errors propagate; an object that cannot be read for a checksum
    becomes an ``error`` difference.
    """
    src, dst = scope.source, scope.target
    report = VerifyReport(
        route=scope.route,
        source=src.name,
        target=dst.name,
        prefix=scope.prefix,
        check=check,
    )
    started = time.monotonic()
    skipped: deque[Difference] = deque()

    def on_skip(side: str) -> Callable[[str, str], None]:
        def hook(path: str, reason: str) -> None:
            skipped.append(
                Difference(
                    "skipped",
                    path,
                    src.name,
                    dst.name,
                    detail=f"on {side}: {reason}",
                )
            )

        return hook

    def listing(backend: Any, side: str) -> Iterator[ObjectInfo]:
        return list_objects(
            backend,
            scope.prefix,
            key_range=key_range,
            exclude=scope.exclude,
            on_skip=on_skip(side),
        )

    def emit(diff: Difference) -> None:
        report.count(diff, keep)
        if on_difference is not None:
            on_difference(diff)

    def one(key: str, a: ObjectInfo, b: ObjectInfo) -> Difference | str | None:
        try:
            result = compare(src, a, dst, b, check)
        except Exception as exc:
            return Difference(
                "error", key, src.name, dst.name, a.size, b.size, detail=_error_text(exc)
            )
        if result.equal:
            return result.how
        return Difference(
            result.kind or "content",
            key,
            src.name,
            dst.name,
            a.size,
            b.size,
            result.source_checksum,
            result.target_checksum,
        )

    def settle(value: Difference | str | None) -> None:
        if isinstance(value, Difference):
            emit(value)
        else:
            report.agree += 1
            if value == "size" and check != "size":
                report.unchecked += 1

    window: deque[Future[Difference | str | None] | _Done] = deque()
    depth = max(1, concurrency) * 4
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        for key, a, b in merge_listings(listing(src, "source"), listing(dst, "target")):
            while skipped:
                emit(skipped.popleft())
            if limit is not None and report.compared >= limit:
                report.complete = False
                break
            report.compared += 1
            if a is not None:
                report.source_objects += 1
                report.source_bytes += a.size
            if b is not None:
                report.target_objects += 1
                report.target_bytes += b.size
            item: Future[Difference | str | None] | _Done
            if a is None:
                assert b is not None
                item = _Done(Difference("extra", key, src.name, dst.name, None, b.size))
            elif b is None:
                item = _Done(Difference("missing", key, src.name, dst.name, a.size, None))
            elif a.size != b.size or check == "size":
                item = _Done(one(key, a, b))
            else:
                item = pool.submit(one, key, a, b)
            window.append(item)
            while window and (len(window) >= depth or window[0].done()):
                settle(window.popleft().result())
        while window:
            settle(window.popleft().result())
        while skipped:
            emit(skipped.popleft())
    report.elapsed = time.monotonic() - started
    return report
