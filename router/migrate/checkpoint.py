"""The backfill checkpoint: a JSON-lines file that lets an interrupted run continue.

Format (one JSON object per line, UTF-8, appended and flushed as the run goes)::

    {"checkpoint": 1, "kind": "backfill", "route": "certificates", "source": "local",
     "target": "s3", "prefix": "certificates/", "range": [null, null], "created": 1735...}
    {"copied": "certificates/a.pdf", "bytes": 4096}       one per object copied
    {"failed": "certificates/b.pdf", "reason": "transient: ..."}
    {"position": "certificates/b.pdf",
     "totals": {"examined": 2, "copied": 1, "bytes": 4096, "failed": 1}}
                                                           the watermark, see below
    {"resumed": 1735...}                                   a later run picked it up
    {"complete": true, "totals": {...}}

``position`` is a watermark: every source key up to and including it has been handled
(copied, found equal, or failed and recorded). Copies finish out of order, so keys
past the watermark that were copied are listed by their ``copied`` lines. The counters
on ``position`` and ``complete`` lines are totals over every run of this checkpoint.

A restarted run lists both sides from the watermark on (``StartAfter`` on S3; on a
local disk, directories wholly before it are not opened), skips the keys copied past
it, and retries the keys that failed. Loading compacts the file (header, latest
watermark, the copied/failed keys past it). A torn last line (a crash mid-write) is
ignored. A ``complete`` checkpoint makes the next run start from the beginning (it
then copies only what changed since). A checkpoint whose header names a different
route, source, target, prefix or range is refused (:class:`CheckpointMismatch`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["Checkpoint", "CheckpointMismatch", "CheckpointState", "read_state"]

VERSION = 1
_IDENTITY = ("kind", "route", "source", "target", "prefix", "range")


class CheckpointMismatch(ValueError):
    """The checkpoint file belongs to another backfill."""


@dataclass
class CheckpointState:
    """What a checkpoint file says."""

    header: dict[str, Any]
    position: str | None = None
    done: set[str] = field(default_factory=set)
    """Keys copied past the watermark."""
    failed: dict[str, str] = field(default_factory=dict)
    """Keys that failed and were not copied since: key → reason."""
    totals: dict[str, int] = field(
        default_factory=lambda: {"examined": 0, "copied": 0, "bytes": 0, "failed": 0}
    )
    complete: bool = False
    runs: int = 1


def _totals(row: dict[str, Any]) -> dict[str, int]:
    totals = row.get("totals") or {}
    return {k: int(totals.get(k, 0)) for k in ("examined", "copied", "bytes", "failed")}


def read_state(path: str | os.PathLike[str]) -> CheckpointState | None:
    """Parse a checkpoint file (None when it does not exist or has no header)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    lines = raw.split(b"\n")
    state: CheckpointState | None = None
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 2:
                break  # torn last line
            raise ValueError(f"{path}: line {number + 1} is not JSON") from None
        if state is None:
            if row.get("checkpoint") != VERSION:
                raise ValueError(f"{path}: not a backfill checkpoint (version {VERSION})")
            state = CheckpointState(header=row)
            continue
        if "copied" in row:
            state.done.add(row["copied"])
            state.failed.pop(row["copied"], None)
        elif "failed" in row:
            state.failed[row["failed"]] = str(row.get("reason", ""))
        elif "position" in row:
            position = row["position"]
            state.position = position
            state.done = {k for k in state.done if k > position}
            state.totals = _totals(row)
        elif "resumed" in row:
            state.runs += 1
        elif row.get("complete"):
            state.complete = True
            state.totals = _totals(row)
    return state


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Checkpoint:
    """An open checkpoint: the state it resumed from, and an appender."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any]) -> None:
        """Open (or create) the checkpoint at ``path`` for a run described by ``header``
        (``kind``, ``route``, ``source``, ``target``, ``prefix``, ``range``)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wanted = {"checkpoint": VERSION, **{k: header.get(k) for k in _IDENTITY}}
        old = read_state(self.path)
        if old is not None:
            theirs = {k: old.header.get(k) for k in _IDENTITY}
            ours = {k: wanted.get(k) for k in _IDENTITY}
            if theirs != ours:
                different = ", ".join(
                    f"{k}: {theirs[k]!r} there, {ours[k]!r} here"
                    for k in _IDENTITY
                    if theirs[k] != ours[k]
                )
                raise CheckpointMismatch(
                    f"checkpoint {self.path} belongs to another backfill ({different}); "
                    "remove it or pass another --checkpoint"
                )
        self.resumed = (
            old is not None
            and not old.complete
            and (old.position is not None or bool(old.done) or bool(old.failed))
        )
        if old is None or old.complete:
            self.state = CheckpointState(header={**wanted, "created": time.time()})
        else:
            self.state = old
        self._rewrite()
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._since_sync = 0
        if self.resumed:
            self._append({"resumed": time.time()})

    # -- writing ----------------------------------------------------------------------

    def _rewrite(self) -> None:
        """Compact: header, watermark, keys copied/failed past it (atomic replace)."""
        state = self.state
        rows: list[dict[str, Any]] = [state.header]
        if state.position is not None:
            rows.append({"position": state.position, "totals": state.totals})
        rows.extend({"copied": key} for key in sorted(state.done))
        rows.extend({"failed": k, "reason": r} for k, r in sorted(state.failed.items()))
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def _append(self, row: dict[str, Any], *, sync: bool = False) -> None:
        assert self._file is not None, "checkpoint is closed"
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()  # in the OS after this: survives the process being killed
        self._since_sync += 1
        if sync:
            os.fsync(self._file.fileno())
            self._since_sync = 0

    def copied(self, key: str, nbytes: int) -> None:
        """Record a finished, verified copy."""
        self.state.failed.pop(key, None)
        self.state.done.add(key)
        self._append({"copied": key, "bytes": nbytes})

    def failed(self, key: str, reason: str) -> None:
        """Record a copy that failed (retried by the next run)."""
        self.state.failed[key] = reason
        self._append({"failed": key, "reason": reason})

    def advance(self, position: str, totals: dict[str, int]) -> None:
        """Move the watermark: every key up to ``position`` is handled."""
        state = self.state
        state.position = position
        state.totals = dict(totals)
        state.done = {k for k in state.done if k > position}
        self._append({"position": position, "totals": dict(totals)}, sync=True)

    def finish(self, totals: dict[str, int]) -> None:
        """Mark the backfill complete (the next run starts from the beginning)."""
        self.state.complete = True
        self.state.totals = dict(totals)
        self._append({"complete": True, "totals": dict(totals)}, sync=True)

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
