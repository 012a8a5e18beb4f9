"""Streamed, sorted listings of one backend, and the merge-join of two.

Every listing yields :class:`ObjectInfo` in ascending key order, comparing keys by
their UTF-8 bytes (for valid Unicode that is the same as Python's ``str`` order, so
keys are compared as strings). Nothing holds a whole listing where the backend can
stream:

- **S3** (``s3fs.S3FileSystem``): ``list_objects_v2`` pages of up to 1000 keys, sent
  with the filesystem's endpoint, credentials and timeouts (through a synchronous
  client built from them, :mod:`router.migrate.s3direct`, or through s3fs). S3
  returns keys in UTF-8 binary order already; ``StartAfter`` resumes a listing. Size
  and ETag come from the listing: no HEAD per object.
- **local** (``fsspec`` ``LocalFileSystem``): a walk one directory at a time; each
  directory's entries are sorted with a directory ``d`` ranked as ``d/``, which makes
  the walk's output sorted by whole key. Directories wholly outside the prefix, before
  the resume position or past the end of a range are never opened.
- anything else (``memory://``, wrappers such as ``router.testing.FaultyFileSystem``):
  ``fs.find`` then a sort — the one case that holds a listing in memory.

Skipped: S3 "directory markers" (keys ending in ``/``), the router's own temp files
(``.router-tmp-`` in the name) and, on a local disk, names that are not valid UTF-8
(reported through ``on_skip``, since no other backend can hold them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from router.backends import BackendFS
from router.migrate.s3direct import call_s3
from router.sinks import TEMP_MARKER

__all__ = [
    "KeyRange",
    "ListingOrderError",
    "ObjectInfo",
    "children",
    "is_s3fs",
    "list_objects",
    "merge_listings",
]

PAGE = 1000

SkipHook = Callable[[str, str], None]
"""``on_skip(key_or_path, reason)``."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as a listing (or a HEAD/stat) reports it."""

    key: str
    size: int
    etag: str | None = None
    """The S3 ETag without quotes (None on other backends)."""
    mtime: float | None = None
    content_type: str | None = None
    """Known only from a HEAD/GET, never from a listing."""
    metadata: dict[str, str] | None = None
    """S3 user metadata; known only from a HEAD/GET."""

    @property
    def md5(self) -> str | None:
        """The MD5 the ETag claims, for a single-part upload (no ``-N`` suffix)."""
        etag = self.etag
        if etag is None or len(etag) != 32 or "-" in etag:
            return None
        return etag.lower()


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys ``k`` with ``start <= k < end``; ``None`` is unbounded."""

    start: str | None = None
    end: str | None = None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self.start is not None and key < self.start:
            return False
        return self.end is None or key < self.end

    def as_list(self) -> list[str | None]:
        """``[start, end]`` for JSON."""
        return [self.start, self.end]


class ListingOrderError(RuntimeError):
    """A backend returned keys out of order; a merge-join over it would be wrong."""


def is_s3fs(backend: BackendFS) -> bool:
    """Whether ``backend.fs`` is a real ``s3fs.S3FileSystem`` (not a wrapper); does not
    build (or import) it."""
    return backend.is_s3fs


def _is_local(backend: BackendFS) -> bool:
    return type(backend.fs) is LocalFileSystem or isinstance(backend.fs, LocalFileSystem)


def _excluded(key: str, exclude: tuple[str, ...]) -> bool:
    return any(key.startswith(p) for p in exclude)


def list_objects(
    backend: BackendFS,
    prefix: str = "",
    *,
    start_after: str | None = None,
    key_range: KeyRange | None = None,
    exclude: Iterable[str] = (),
    on_skip: SkipHook | None = None,
) -> Iterator[ObjectInfo]:
    """Objects of ``backend`` whose key starts with ``prefix``, sorted by key.

    ``start_after`` (exclusive) resumes a listing; ``key_range`` restricts it to a
    partition; keys starting with any of ``exclude`` (nested routes) are left out.
    """
    rng = key_range or KeyRange()
    excl = tuple(exclude)
    if is_s3fs(backend):
        source = _list_s3(backend, prefix, start_after, rng)
    elif _is_local(backend):
        source = _list_local(backend, prefix, start_after, rng, excl, on_skip)
    else:
        source = _list_generic(backend, prefix, start_after, rng)
    for info in source:
        if rng.end is not None and info.key >= rng.end:
            return
        if _excluded(info.key, excl):
            continue
        yield info


# -- S3 -------------------------------------------------------------------------------


def _s3_split(backend: BackendFS) -> tuple[str, str]:
    """(bucket, key prefix of the backend root, ending in ``/`` or empty)."""
    bucket, _, base = backend.root.partition("/")
    return bucket, f"{base}/" if base else ""


def _list_s3(
    backend: BackendFS, prefix: str, start_after: str | None, rng: KeyRange
) -> Iterator[ObjectInfo]:
    bucket, base = _s3_split(backend)
    lower = start_after
    if rng.start is not None:
        # StartAfter is exclusive; start[:-1] sorts before start, then filter below.
        candidate = rng.start[:-1]
        if lower is None or candidate > lower:
            lower = candidate
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": base + prefix, "MaxKeys": PAGE}
    if lower:
        kwargs["StartAfter"] = base + lower
    while True:
        page = call_s3(backend, "list_objects_v2", **kwargs)
        for item in page.get("Contents", ()):
            full = item["Key"]
            if full.endswith("/") or not full.startswith(base):
                continue
            key = full[len(base) :]
            if start_after is not None and key <= start_after:
                continue
            if rng.start is not None and key < rng.start:
                continue
            if rng.end is not None and key >= rng.end:
                return
            modified = item.get("LastModified")
            yield ObjectInfo(
                key=key,
                size=int(item.get("Size", 0)),
                etag=str(item.get("ETag", "")).strip('"') or None,
                mtime=modified.timestamp() if modified is not None else None,
            )
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return
        kwargs.pop("StartAfter", None)
        kwargs["ContinuationToken"] = token


# -- local ----------------------------------------------------------------------------


def _valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _list_local(
    backend: BackendFS,
    prefix: str,
    start_after: str | None,
    rng: KeyRange,
    exclude: tuple[str, ...],
    on_skip: SkipHook | None,
) -> Iterator[ObjectInfo]:
    root = backend.root

    def wanted_dir(dir_key: str) -> bool:
        """Whether any key under ``dir_key/`` can be wanted."""
        dk = dir_key + "/"
        if not (dk.startswith(prefix) or prefix.startswith(dk)):
            return False
        if _excluded(dk, exclude):
            return False
        for lower in (start_after, rng.start):
            # every key under dk is > dk; all of them sort before `lower` when
            # lower > dk and lower is not itself under dk
            if lower is not None and lower > dk and not lower.startswith(dk):
                return False
        return True

    def walk(dir_key: str) -> Iterator[ObjectInfo]:
        path = f"{root}/{dir_key}" if dir_key else root
        try:
            with os.scandir(path) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return
        ranked: list[tuple[str, str, os.DirEntry[str], bool]] = []
        for entry in entries:
            name = entry.name
            if TEMP_MARKER in name:
                continue
            key = f"{dir_key}/{name}" if dir_key else name
            if not _valid_name(name):
                if on_skip is not None:
                    on_skip(
                        os.fsencode(entry.path).decode("utf-8", "backslashreplace"),
                        "name is not valid UTF-8",
                    )
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            ranked.append((key + "/" if is_dir else key, key, entry, is_dir))
        ranked.sort(key=lambda r: r[0])
        for rank, key, entry, is_dir in ranked:
            if rng.end is not None and rank >= rng.end:
                return
            if is_dir:
                if wanted_dir(key):
                    yield from walk(key)
                continue
            if not key.startswith(prefix):
                continue
            if start_after is not None and key <= start_after:
                continue
            if rng.start is not None and key < rng.start:
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # vanished, or a dangling symlink
            if not entry.is_file():
                continue
            yield ObjectInfo(key=key, size=st.st_size, mtime=st.st_mtime)

    start_dir = prefix.rpartition("/")[0]
    if start_dir and not wanted_dir(start_dir):
        return
    yield from walk(start_dir)


# -- any other filesystem ---------------------------------------------------------------


def _list_generic(
    backend: BackendFS, prefix: str, start_after: str | None, rng: KeyRange
) -> Iterator[ObjectInfo]:
    start_dir = prefix.rpartition("/")[0]
    try:
        found = backend.fs.find(backend.path(start_dir), detail=True)
    except FileNotFoundError:
        return
    infos = []
    for name, info in found.items():
        if info.get("type") == "directory" or TEMP_MARKER in name:
            continue
        key = backend.key(name)
        if not key.startswith(prefix) or (start_after is not None and key <= start_after):
            continue
        if key not in rng:
            continue
        etag = info.get("ETag") or info.get("etag")
        infos.append(
            ObjectInfo(
                key=key,
                size=int(info.get("size") or 0),
                etag=str(etag).strip('"') if etag else None,
            )
        )
    infos.sort(key=lambda i: i.key)
    yield from infos


# -- merge ----------------------------------------------------------------------------


def _checked(listing: Iterable[ObjectInfo], side: str) -> Iterator[ObjectInfo]:
    last: str | None = None
    for info in listing:
        if last is not None and info.key <= last:
            raise ListingOrderError(
                f"the {side} listing is not sorted: {info.key!r} came after {last!r}"
            )
        last = info.key
        yield info


def merge_listings(
    left: Iterable[ObjectInfo], right: Iterable[ObjectInfo]
) -> Iterator[tuple[str, ObjectInfo | None, ObjectInfo | None]]:
    """Merge-join two sorted listings: ``(key, left or None, right or None)`` in order."""
    lit = _checked(left, "source")
    rit = _checked(right, "target")
    a = next(lit, None)
    b = next(rit, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.key < b.key):
            assert a is not None
            yield a.key, a, None
            a = next(lit, None)
        elif a is None or b.key < a.key:
            yield b.key, None, b
            b = next(rit, None)
        else:
            yield a.key, a, b
            a = next(lit, None)
            b = next(rit, None)


def children(backend: BackendFS, prefix: str, exclude: Iterable[str] = ()) -> list[str]:
    """The first level below ``prefix``: keys of objects and of "directories" (ending
    in ``/``) that start with ``prefix``, sorted. Used to plan partitions."""
    excl = tuple(exclude)
    found: set[str] = set()
    if is_s3fs(backend):
        bucket, base = _s3_split(backend)
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": base + prefix,
            "Delimiter": "/",
            "MaxKeys": PAGE,
        }
        while True:
            page = call_s3(backend, "list_objects_v2", **kwargs)
            for item in page.get("CommonPrefixes", ()):
                found.add(item["Prefix"][len(base) :])
            for item in page.get("Contents", ()):
                if not item["Key"].endswith("/"):
                    found.add(item["Key"][len(base) :])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            kwargs["ContinuationToken"] = token
    else:
        directory = prefix.rpartition("/")[0]
        try:
            entries = backend.fs.ls(backend.path(directory), detail=True)
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        for entry in entries:
            name = entry["name"]
            if TEMP_MARKER in name:
                continue
            key = backend.key(name)
            if not key.startswith(prefix):
                continue
            found.add(key + "/" if entry.get("type") == "directory" else key)
    return sorted(k for k in found if not _excluded(k, excl))
