"""The journal: a durable record of divergences, one small JSON file per entry.

Layout (a local directory; ``journal: {url: file:///...}``)::

    ROOT/<route>/<keyhash>-<time_ns>-<random>.json

``keyhash`` is the first 16 hex digits of sha256(key). An entry is written to a temp
file, fsynced, renamed into place and the directory fsynced before the op that caused it
returns, so an acknowledged divergence survives a crash. Names are unique, so several
processes and threads on one host append without locks; removal is an unlink.

Each entry names the backend that holds the truth and the one that is stale; repairing
it means making ``stale`` match ``truth`` for that key (copy, or delete when the truth
no longer has the key). While an entry is pending, the executor never serves the key
from its stale side (no resurrection of deleted files, no stale reads after a degraded
write). That check is a ``stat`` of the route directory per call on routes with a
shadow. The per-route index is refreshed when the directory changes (or changed too
recently for its mtime to be trusted): one listing of the directory, reading only the
entry files it has not read before — an entry's truth and stale sides never change
under its name (:meth:`Journal.update` rewrites only why a repair failed) — so a read
during a stream of divergences costs a listing, not a read of every entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from router.sinks import make_dirs

__all__ = ["Entry", "Journal", "journal_for", "journal_root", "key_hash"]

_RACY_SECONDS = 1.0


def key_hash(key: str) -> str:
    """The 16-hex-digit hash a key's entries are filed under."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Entry:
    """One divergence: for ``key`` on ``route``, ``stale`` must be made to match ``truth``."""

    route: str
    key: str
    op: str
    truth: str
    stale: str
    error_class: str
    phase: str
    time: float = field(default_factory=time.time)
    id: str = ""
    reason: str | None = None
    """Why the last repair attempt failed, if one did."""
    attempts: int = 0

    def to_json(self) -> str:
        """The entry as one JSON object."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


@dataclass(slots=True)
class _RouteIndex:
    mtime_ns: int
    files: dict[str, tuple[str, str, str]]
    """entry file name → (key hash, truth, stale), as read from the file once."""
    latest: dict[str, tuple[str, str]]
    """key hash → (truth, stale) of the newest pending entry for that key."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def journal_root(url: str) -> Path:
    """The local directory of a ``file://`` journal URL (relative paths allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "file"):
        raise ValueError(f"the journal must be a local directory (file://), not {parts.scheme}://")
    return Path(parts.netloc + parts.path) if parts.scheme else Path(url)


def journal_for(url: str, policy_source: str) -> Journal:
    """The journal of a policy: a relative path is relative to the policy file's directory."""
    root = journal_root(url)
    if not root.is_absolute() and policy_source not in ("", "<dict>"):
        root = Path(policy_source).resolve().parent / root
    return Journal(root)


class Journal:
    """Append, list and remove divergence entries under one directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._index: dict[str, _RouteIndex] = {}

    @classmethod
    def from_url(cls, url: str) -> Journal:
        """A journal at a ``file://`` URL."""
        return cls(journal_root(url))

    def __repr__(self) -> str:
        return f"Journal({str(self.root)!r})"

    def _route_dir(self, route: str) -> Path:
        return self.root / route

    def record(self, entry: Entry) -> Entry:
        """Write ``entry`` durably and return it with its id."""
        directory = self._route_dir(entry.route)
        make_dirs(str(directory))
        entry_id = f"{key_hash(entry.key)}-{time.time_ns()}-{secrets.token_hex(4)}"
        entry = replace(entry, id=entry_id)
        self._write(directory / f"{entry_id}.json", entry)
        self._invalidate(entry.route)
        return entry

    def _invalidate(self, route: str) -> None:
        """Make the next lookup on ``route`` list its directory again (files already
        read stay read)."""
        with self._lock:
            cached = self._index.get(route)
            if cached is not None:
                self._index[route] = _RouteIndex(-1, cached.files, cached.latest)

    def _write(self, target: Path, entry: Entry) -> None:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, entry.to_json().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def update(self, entry: Entry) -> None:
        """Rewrite an existing entry (e.g. to record why its repair failed)."""
        target = self._route_dir(entry.route) / f"{entry.id}.json"
        if target.exists():
            self._write(target, entry)

    def remove(self, entry: Entry) -> None:
        """Drop a repaired entry (idempotent)."""
        with contextlib.suppress(FileNotFoundError):
            (self._route_dir(entry.route) / f"{entry.id}.json").unlink()
        self._invalidate(entry.route)

    def routes(self) -> list[str]:
        """Routes that have a journal directory."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    @staticmethod
    def _names(directory: Path) -> list[str]:
        """Entry file names in ``directory``, oldest first (FileNotFoundError if none)."""
        return sorted(
            (f for f in os.listdir(directory) if f.endswith(".json") and not f.startswith(".")),
            key=lambda f: (f.split("-")[1], f),
        )

    @staticmethod
    def _read(path: Path) -> Entry | None:
        try:
            return Entry(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError):
            return None  # removed meanwhile, or being replaced

    def entries(self, route: str | None = None) -> Iterator[Entry]:
        """Pending entries, oldest first within each route."""
        for name in [route] if route is not None else self.routes():
            directory = self._route_dir(name)
            try:
                files = self._names(directory)
            except FileNotFoundError:
                continue
            for filename in files:
                entry = self._read(directory / filename)
                if entry is not None:
                    yield entry

    def pending_by_backend(self) -> dict[str, dict[str, int]]:
        """For each route, how many pending entries name each backend (truth or stale)."""
        counts: dict[str, dict[str, int]] = {}
        for entry in self.entries():
            per_route = counts.setdefault(entry.route, {})
            for backend in {entry.truth, entry.stale}:
                per_route[backend] = per_route.get(backend, 0) + 1
        return counts

    def depth(self, route: str | None = None) -> int:
        """How many entries are pending (for one route, or all)."""
        return sum(1 for _ in self.entries(route))

    def _load_index(self, route: str) -> _RouteIndex | None:
        directory = self._route_dir(route)
        try:
            mtime_ns = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            cached = self._index.get(route)
        racy = time.time() - mtime_ns / 1e9 < _RACY_SECONDS
        if cached is not None and cached.mtime_ns == mtime_ns and not racy:
            return cached
        try:
            names = self._names(directory)
        except FileNotFoundError:
            return None
        known = cached.files if cached is not None else {}
        index = _RouteIndex(mtime_ns, {}, {})
        for name in names:  # oldest first: the newest entry for a key wins
            sides = known.get(name)
            if sides is None:
                entry = self._read(directory / name)
                if entry is None:
                    continue
                sides = (key_hash(entry.key), entry.truth, entry.stale)
            index.files[name] = sides
            index.latest[sides[0]] = sides[1:]
        with self._lock:
            self._index[route] = index
        return index

    def pending(self, route: str, key: str) -> tuple[str, str] | None:
        """(truth, stale) backends of the newest pending entry for ``key``, if any."""
        index = self._load_index(route)
        if index is None:
            return None
        return index.latest.get(key_hash(key))
