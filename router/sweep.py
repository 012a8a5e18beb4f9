"""Sweep what crashed writers leave behind: temp files and unfinished multipart uploads.

A process killed in the middle of a write publishes nothing (local writes go to a temp
file that is renamed over the target only when complete; S3 publishes an object only
when its multipart upload completes), but it can leave *debris*:

- local backends: ``.NAME.router-tmp-XXXXXXXXXXXX`` files (:data:`router.sinks.TEMP_MARKER`)
  next to their targets, invisible to the router's listings;
- S3 backends: multipart uploads that were started and never completed or aborted,
  which S3 keeps (and bills) until they are aborted;
- the journal directory: ``.*.tmp`` files of an entry being written.

:func:`sweep` removes the temp files and aborts the multipart uploads that are older
than a threshold (default one hour), under each backend's root only. A write that is
still in progress is younger than the threshold and is left alone, so the sweep can run
while the application runs (``router sweep POLICY``, e.g. from cron). Other fsspec
backends (``memory://``...) are not swept.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from router.backends import BackendFS
from router.errors import classify
from router.journal import Journal
from router.sinks import TEMP_MARKER

__all__ = ["DEFAULT_OLDER_THAN", "SweepItem", "SweepReport", "is_temp_name", "sweep"]

DEFAULT_OLDER_THAN = 3600.0
"""Seconds: leftovers younger than this may belong to a write still in progress."""

_TEMP_NAME = re.compile(r"^\..*" + re.escape(TEMP_MARKER) + r"[0-9a-f]{12}$", re.DOTALL)
_JOURNAL_TEMP = re.compile(r"^\..+\.json\.[0-9a-f]{8}\.tmp$", re.DOTALL)


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of the router's unpublished-write temp files."""
    return bool(_TEMP_NAME.match(name))


@dataclass(frozen=True, slots=True)
class SweepItem:
    """One leftover found: where, how old, and what the sweep did with it."""

    backend: str
    """Backend name (``journal`` for the journal directory)."""
    kind: str
    """``temp-file``, ``multipart-upload`` or ``journal-temp``."""
    path: str
    """Backend-native path (for an upload: ``bucket/key``)."""
    age: float
    """Seconds since it was last modified (or the upload was initiated)."""
    action: str
    """``removed``, ``aborted``, ``would remove``, ``would abort`` or ``failed``."""
    upload_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


@dataclass
class SweepReport:
    """What one sweep found and did."""

    dry_run: bool
    older_than: float
    items: list[SweepItem] = field(default_factory=list)
    young: int = 0
    """Leftovers skipped because they are younger than ``older_than``."""
    skipped_backends: list[str] = field(default_factory=list)
    """Backends whose kind the sweep does not handle (``memory://``...)."""

    def _count(self, *actions: str) -> int:
        return sum(1 for item in self.items if item.action in actions)

    @property
    def removed(self) -> int:
        """Temp files removed (or that would be, in a dry run)."""
        return self._count("removed", "would remove")

    @property
    def aborted(self) -> int:
        """Multipart uploads aborted (or that would be, in a dry run)."""
        return self._count("aborted", "would abort")

    @property
    def failed(self) -> int:
        """Leftovers that could not be removed."""
        return self._count("failed")

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "dry_run": self.dry_run,
            "older_than": self.older_than,
            "removed": self.removed,
            "aborted": self.aborted,
            "failed": self.failed,
            "young": self.young,
            "skipped_backends": list(self.skipped_backends),
            "items": [item.as_dict() for item in self.items],
        }


def _reason(exc: BaseException) -> str:
    return f"{classify(exc).value}: {type(exc).__name__}: {exc}"


def _local_temp_files(root: str) -> Iterator[str]:
    """Temp files under ``root``; symlinks are never followed."""
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
        for name in files:
            if is_temp_name(name):
                yield os.path.join(directory, name)


def _remove_files(
    report: SweepReport,
    backend: str,
    kind: str,
    paths: Iterable[str],
    now: float,
) -> None:
    for path in paths:
        try:
            stat = os.lstat(path)
        except FileNotFoundError:
            continue  # published or aborted meanwhile
        age = now - stat.st_mtime
        if age < report.older_than:
            report.young += 1
            continue
        if report.dry_run:
            report.items.append(SweepItem(backend, kind, path, age, "would remove"))
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.items.append(SweepItem(backend, kind, path, age, "failed", reason=_reason(exc)))
            continue
        report.items.append(SweepItem(backend, kind, path, age, "removed"))


def _sweep_local(report: SweepReport, backend: BackendFS, now: float) -> None:
    root = backend.root or "."
    if not os.path.isdir(root):
        return
    _remove_files(report, backend.name, "temp-file", _local_temp_files(root), now)


def _uploads(fs: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every multipart upload in ``bucket`` whose key starts with ``prefix``."""
    marker: dict[str, str] = {}
    while True:
        page = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix, **marker)
        for upload in page.get("Uploads", []) or []:
            if str(upload.get("Key", "")).startswith(prefix):
                yield upload
        if not page.get("IsTruncated"):
            return
        marker = {
            "KeyMarker": page.get("NextKeyMarker", ""),
            "UploadIdMarker": page.get("NextUploadIdMarker", ""),
        }


def _age(initiated: object, now: float) -> float:
    if isinstance(initiated, datetime):
        return now - initiated.timestamp()
    return float("inf")  # unknown: S3 always says; treat as old


def _sweep_s3(report: SweepReport, backend: BackendFS, now: float) -> None:
    bucket, _, rest = backend.root.partition("/")
    prefix = f"{rest.strip('/')}/" if rest.strip("/") else ""
    fs = backend.fs
    try:
        uploads = list(_uploads(fs, bucket, prefix))
    except Exception as exc:
        report.items.append(
            SweepItem(
                backend.name, "multipart-upload", backend.root, 0.0, "failed", None, _reason(exc)
            )
        )
        return
    for upload in uploads:
        key = str(upload["Key"])
        upload_id = str(upload["UploadId"])
        path = f"{bucket}/{key}"
        age = _age(upload.get("Initiated"), now)
        if age < report.older_than:
            report.young += 1
            continue
        if report.dry_run:
            report.items.append(
                SweepItem(backend.name, "multipart-upload", path, age, "would abort", upload_id)
            )
            continue
        try:
            fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if classify(exc).value == "not_found":  # completed or aborted meanwhile
                continue
            report.items.append(
                SweepItem(
                    backend.name, "multipart-upload", path, age, "failed", upload_id, _reason(exc)
                )
            )
            continue
        report.items.append(
            SweepItem(backend.name, "multipart-upload", path, age, "aborted", upload_id)
        )


def _sweep_journal(report: SweepReport, journal: Journal, now: float) -> None:
    root = journal.root
    if not root.is_dir():
        return
    paths: list[str] = []
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
        paths.extend(os.path.join(directory, f) for f in files if _JOURNAL_TEMP.match(f))
    _remove_files(report, "journal", "journal-temp", paths, now)


def sweep(
    backends: Mapping[str, BackendFS],
    *,
    journal: Journal | None = None,
    older_than: float = DEFAULT_OLDER_THAN,
    dry_run: bool = False,
    only: Iterable[str] | None = None,
) -> SweepReport:
    """Remove crash leftovers older than ``older_than`` seconds; see the module doc.

    ``only``: sweep just these backends (and not the journal). ``dry_run``: report what
    would be removed, touch nothing.
    """
    if older_than < 0:
        raise ValueError("older_than must be 0 or more seconds")
    report = SweepReport(dry_run=dry_run, older_than=older_than)
    names = list(backends) if only is None else list(only)
    now = time.time()
    for name in names:
        backend = backends[name]
        if backend.writes_atomically:
            _sweep_local(report, backend, now)
        elif backend.is_s3:
            _sweep_s3(report, backend, now)
        else:
            report.skipped_backends.append(name)
    if journal is not None and only is None:
        with contextlib.suppress(FileNotFoundError):
            _sweep_journal(report, journal, now)
    return report
