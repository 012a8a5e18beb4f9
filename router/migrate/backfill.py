"""Copy what the target lacks or holds differently, verified, concurrently, resumably.

The two listings are merge-joined in key order (streamed). Each source key goes into
an ordered window; keys that need work (a comparison that reads content, or a copy)
run on a thread pool of ``concurrency`` workers, and the window is drained in key
order, which moves the checkpoint's watermark (see :mod:`router.migrate.checkpoint`).
Memory is bounded by the window and by ``concurrency`` x 8 MiB of copy buffers.

Keys present only on the target are left alone (a backfill never deletes). With
``scope.only_missing`` (read-primary phases), keys the target already has are never
overwritten, even when they differ.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from router.errors import classify
from router.migrate.checkpoint import Checkpoint
from router.migrate.compare import Check, compare
from router.migrate.listing import KeyRange, ObjectInfo, list_objects, merge_listings
from router.migrate.scope import Scope
from router.migrate.transfer import BandwidthLimiter, copy_object, stat_object

__all__ = ["BackfillProgress", "BackfillReport", "PlanRow", "backfill"]

Action = Literal["copied", "would_copy", "equal", "kept", "failed", "done"]

CHECKPOINT_EVERY_KEYS = 500
CHECKPOINT_EVERY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One key a backfill copied, would copy (dry run), or failed to copy."""

    key: str
    action: str
    """``copy`` (dry run), ``copied`` or ``failed``."""
    reason: str
    """Why it is copied: ``missing``, ``size`` or ``content``; for ``failed``, the error."""
    size: int
    source: str
    target: str

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """A snapshot for progress displays."""

    examined: int
    copied: int
    bytes_copied: int
    failed: int
    equal: int
    to_copy: int
    """Objects found to need a copy so far (including done ones)."""
    bytes_to_copy: int
    listing_done: bool
    elapsed: float


@dataclass
class BackfillReport:
    """Counts of one backfill run (this run only; the checkpoint keeps the totals)."""

    route: str
    source: str
    target: str
    prefix: str
    dry_run: bool = False
    examined: int = 0
    """Source objects looked at."""
    equal: int = 0
    """Already on the target, equal."""
    copied: int = 0
    bytes_copied: int = 0
    would_copy: int = 0
    """Dry run: objects that would be copied."""
    would_copy_bytes: int = 0
    kept: int = 0
    """Different on the target but left alone (``only_missing``)."""
    failed: int = 0
    skipped_done: int = 0
    """Keys the checkpoint says an earlier run already copied."""
    retried: int = 0
    """Keys an earlier run failed, tried again first."""
    resumed_from: str | None = None
    complete: bool = True
    """False when ``limit`` stopped the run before the end of the listing."""
    elapsed: float = 0.0
    failures: list[PlanRow] = field(default_factory=list)
    """The first failures."""
    checkpoint: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every copy succeeded."""
        return self.failed == 0

    def merge(self, other: BackfillReport, keep: int = 1000) -> None:
        """Add another partition's counts (for distributed runs)."""
        for name in (
            "examined",
            "equal",
            "copied",
            "bytes_copied",
            "would_copy",
            "would_copy_bytes",
            "kept",
            "failed",
            "skipped_done",
            "retried",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.complete = self.complete and other.complete
        self.failures.extend(other.failures[: max(0, keep - len(self.failures))])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        data = asdict(self)
        data["failures"] = [f.as_dict() for f in self.failures]
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackfillReport:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data.pop("ok", None)
        failures = [PlanRow(**f) for f in data.pop("failures", [])]
        return cls(**data, failures=failures)


@dataclass(frozen=True, slots=True)
class _Outcome:
    key: str
    action: Action
    size: int = 0
    reason: str = ""


class _Ready:
    __slots__ = ("value",)

    def __init__(self, value: _Outcome) -> None:
        self.value = value

    def result(self) -> _Outcome:
        return self.value

    def done(self) -> bool:
        return True


def _error_text(exc: BaseException) -> str:
    return f"{classify(exc).value}: {type(exc).__name__}: {exc}"


def backfill(
    scope: Scope,
    *,
    check: Check = "etag",
    concurrency: int = 8,
    dry_run: bool = False,
    limit: int | None = None,
    checkpoint: str | Path | None = None,
    bwlimit: float | None = None,
    key_range: KeyRange | None = None,
    progress: Callable[[BackfillProgress], None] | None = None,
    on_row: Callable[[PlanRow], None] | None = None,
    keep: int = 1000,
) -> BackfillReport:
    """Copy what ``scope.target`` lacks (or holds differently) from ``scope.source``.

    - ``check``: how "holds differently" is decided and how each copy is verified
      (``checksum`` also hashes every copy); see :mod:`router.migrate.compare`;
    - ``dry_run``: decide only; nothing is written, not even the checkpoint;
      ``on_row`` receives each key that would be copied;
    - ``limit``: look at no more than that many source objects;
    - ``checkpoint``: a file to resume from and record progress to (None: no resume);
    - ``bwlimit``: bytes per second over all copies;
    - ``progress``: called with a :class:`BackfillProgress` as work completes;
    - ``on_row``: each copied/failed key (and would-copy key in a dry run).

    Backend errors on single objects are counted as failures; a listing error
    propagates (the checkpoint keeps what was done).
    """
    src, dst = scope.source, scope.target
    rng = key_range or KeyRange()
    report = BackfillReport(
        route=scope.route, source=src.name, target=dst.name, prefix=scope.prefix, dry_run=dry_run
    )
    started = time.monotonic()
    limiter = BandwidthLimiter(bwlimit) if bwlimit else None
    ck: Checkpoint | None = None
    if checkpoint is not None and not dry_run:
        ck = Checkpoint(
            checkpoint,
            {
                "kind": "backfill",
                "route": scope.route,
                "source": src.name,
                "target": dst.name,
                "prefix": scope.prefix,
                "range": rng.as_list(),
            },
        )
        report.checkpoint = str(checkpoint)
    base = dict(ck.state.totals) if ck is not None else {}
    start_after = ck.state.position if ck is not None else None
    done = set(ck.state.done) if ck is not None else set()
    retry = dict(ck.state.failed) if ck is not None else {}
    report.resumed_from = start_after
    to_copy = [0, 0]
    listing_done = False

    def totals() -> dict[str, int]:
        return {
            "examined": base.get("examined", 0) + report.examined,
            "copied": base.get("copied", 0) + report.copied,
            "bytes": base.get("bytes", 0) + report.bytes_copied,
            "failed": report.failed,
        }

    def notify() -> None:
        if progress is not None:
            progress(
                BackfillProgress(
                    examined=report.examined,
                    copied=report.copied,
                    bytes_copied=report.bytes_copied,
                    failed=report.failed,
                    equal=report.equal,
                    to_copy=to_copy[0],
                    bytes_to_copy=to_copy[1],
                    listing_done=listing_done,
                    elapsed=time.monotonic() - started,
                )
            )

    def work(a: ObjectInfo, b: ObjectInfo | None) -> _Outcome:
        key = a.key
        try:
            if b is None:
                reason = "missing"
            elif scope.only_missing:
                return _Outcome(key, "kept", a.size)
            else:
                result = compare(src, a, dst, b, check)
                if result.equal:
                    return _Outcome(key, "equal", a.size)
                reason = result.kind or "content"
            if dry_run:
                return _Outcome(key, "would_copy", a.size, reason)
            copied = copy_object(src, dst, a, checksum=check == "checksum", limiter=limiter)
            return _Outcome(key, "copied", copied.bytes, reason)
        except Exception as exc:
            return _Outcome(key, "failed", a.size, _error_text(exc))

    def settle(outcome: _Outcome) -> None:
        key = outcome.key
        if outcome.action == "copied":
            report.copied += 1
            report.bytes_copied += outcome.size
            to_copy[0] += 1
            to_copy[1] += outcome.size
            if ck is not None:
                ck.copied(key, outcome.size)
            row = PlanRow(key, "copied", outcome.reason, outcome.size, src.name, dst.name)
            if on_row is not None:
                on_row(row)
        elif outcome.action == "would_copy":
            report.would_copy += 1
            report.would_copy_bytes += outcome.size
            to_copy[0] += 1
            to_copy[1] += outcome.size
            if on_row is not None:
                on_row(PlanRow(key, "copy", outcome.reason, outcome.size, src.name, dst.name))
        elif outcome.action == "failed":
            report.failed += 1
            to_copy[0] += 1
            to_copy[1] += outcome.size
            if ck is not None:
                ck.failed(key, outcome.reason)
            row = PlanRow(key, "failed", outcome.reason, outcome.size, src.name, dst.name)
            if len(report.failures) < keep:
                report.failures.append(row)
            if on_row is not None:
                on_row(row)
        elif outcome.action == "equal":
            report.equal += 1
        elif outcome.action == "kept":
            report.kept += 1
        notify()

    last_mark = [time.monotonic(), 0]

    def mark(position: str, force: bool = False) -> None:
        if ck is None:
            return
        last_mark[1] += 1
        now = time.monotonic()
        if (
            force
            or last_mark[1] >= CHECKPOINT_EVERY_KEYS
            or now - last_mark[0] >= CHECKPOINT_EVERY_SECONDS
        ):
            ck.advance(position, totals())
            last_mark[0], last_mark[1] = now, 0

    def pairs() -> Iterator[tuple[str, ObjectInfo | None, ObjectInfo | None]]:
        kwargs: dict[str, Any] = {
            "start_after": start_after,
            "key_range": rng,
            "exclude": scope.exclude,
        }
        return merge_listings(
            list_objects(src, scope.prefix, **kwargs), list_objects(dst, scope.prefix, **kwargs)
        )

    workers = max(1, concurrency)
    depth = workers * 4
    window: deque[tuple[str, Future[_Outcome] | _Ready]] = deque()
    position: str | None = None
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
            # keys an interrupted run failed: look at both sides again, first
            for key in sorted(retry):
                if key <= (start_after or "") and key in rng:
                    report.retried += 1
                    settle(_retry_one(work, src, dst, key))
            for key, a, b in pairs():
                if a is None:
                    window.append((key, _Ready(_Outcome(key, "done"))))
                else:
                    if limit is not None and report.examined >= limit:
                        report.complete = False
                        break
                    report.examined += 1
                    if key in done:
                        report.skipped_done += 1
                        window.append((key, _Ready(_Outcome(key, "done"))))
                    else:
                        window.append((key, pool.submit(work, a, b)))
                while window and (len(window) >= depth or window[0][1].done()):
                    key_done, item = window.popleft()
                    settle(item.result())
                    position = key_done
                    mark(key_done)
            else:
                listing_done = True
            while window:
                key_done, item = window.popleft()
                settle(item.result())
                position = key_done
                mark(key_done)
    finally:
        if ck is not None:
            if position is not None:
                ck.advance(position, totals())
            if report.complete and listing_done:
                ck.finish(totals())
            ck.close()
    report.elapsed = time.monotonic() - started
    notify()
    return report


def _retry_one(
    work: Callable[[ObjectInfo, ObjectInfo | None], _Outcome],
    src: Any,
    dst: Any,
    key: str,
) -> _Outcome:
    try:
        a = stat_object(src, key)
        if a is None:
            return _Outcome(key, "done")  # gone from the source since: nothing to copy
        return work(a, stat_object(dst, key))
    except Exception as exc:
        return _Outcome(key, "failed", 0, _error_text(exc))


def write_rows(path: str | Path) -> tuple[Callable[[PlanRow], None], Callable[[], None]]:
    """A JSON-lines writer for ``on_row`` and its closer."""
    import json

    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(row: PlanRow) -> None:
        handle.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")

    return write, handle.close


def plan_totals(rows: Iterable[PlanRow]) -> dict[str, int]:
    """Objects and bytes of a list of rows."""
    objects = size = 0
    for row in rows:
        objects += 1
        size += row.size
    return {"objects": objects, "bytes": size}
