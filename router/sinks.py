"""Writers that publish all or nothing: ``write`` chunks, then ``commit`` or ``abort``.

- Local: a temp file in the target's directory, fsynced, ``os.replace``-d over the
  target and the directory fsynced; a reader sees the old or the new file, never a
  truncated one, and an aborted write leaves nothing behind.
- Object stores (S3, GCS, Azure), which publish an object only when its writer closes:
  the filesystem's own writer; ``abort`` discards it (s3fs aborts the multipart upload)
  and marks it closed, so fsspec's ``__exit__``/``__del__`` cannot publish a truncated
  object.
- Any other fsspec filesystem (``memory://``, or a local directory behind a wrapper such
  as :class:`router.testing.FaultyFileSystem`), whose writer makes the file visible as
  soon as it is opened: the filesystem's own writer on a temp path next to the target,
  moved over the target by ``commit`` and removed by ``abort``.
"""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any, Protocol

from router.backends import BackendFS

__all__ = [
    "DIR_MODE",
    "OBJECT_STORES",
    "TEMP_MARKER",
    "Sink",
    "make_dirs",
    "open_sink",
    "temp_path",
]

TEMP_MARKER = ".router-tmp-"
DIR_MODE = 0o775
"""Mode of the directories the router creates, before the umask: never world-writable."""


def make_dirs(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` with DIR_MODE for *every* level it creates
    (``os.makedirs`` gives the intermediate levels 0o777 before the umask)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        make_dirs(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


WRITE_BLOCK = 8 * 2**20


class Sink(Protocol):
    """An all-or-nothing writer."""

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``."""
        ...

    def commit(self) -> None:
        """Publish what was written."""
        ...

    def abort(self) -> None:
        """Publish nothing; clean up."""
        ...


class LocalSink:
    """Temp file + fsync + rename + directory fsync."""

    def __init__(self, path: str, *, fsync: bool = True) -> None:
        directory = path.rpartition("/")[0]
        self.path = path
        self.directory = directory or "."
        self.fsync = fsync
        self.tmp = self._temp()
        self.fd: int | None = self._create()

    def _temp(self) -> str:
        tmp = temp_path(self.path)
        return tmp if "/" in self.path else f"./{tmp}"

    def _create(self) -> int:
        """Create the temp file; its directory (and parents) only when missing, so a
        write into an existing directory costs no ``stat`` of it."""
        for _ in range(8):
            try:
                return os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)
            except FileNotFoundError:
                make_dirs(self.directory)
            except FileExistsError:  # another writer drew the same name: draw again
                self.tmp = self._temp()
        return os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data`` to the temp file."""
        assert self.fd is not None, "write after commit/abort"
        view = memoryview(data)
        total = len(view)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        return total

    def commit(self) -> None:
        """fsync, rename over the target, fsync the directory."""
        assert self.fd is not None, "commit after commit/abort"
        fd, self.fd = self.fd, None
        try:
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            raise
        if self.fsync:
            dfd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def abort(self) -> None:
        """Close and remove the temp file."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
"""Protocols whose writers publish nothing until ``close``."""


_names = random.Random()
"""Temp-name suffixes: drawn without a system call per write (``secrets`` would make
one), seeded from the OS once per process and again in every forked child, so two
processes never share a sequence. A clash is still caught by ``O_EXCL``."""
if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_names.seed)


def temp_path(path: str) -> str:
    """A hidden sibling of ``path`` for an unpublished write (names carry TEMP_MARKER
    and 12 hex digits)."""
    directory, _, name = path.rpartition("/")
    hidden = f".{name[:80]}{TEMP_MARKER}{_names.getrandbits(48):012x}"
    return f"{directory}/{hidden}" if directory else hidden


class FsspecSink:
    """The filesystem's own buffered writer, discardable; on filesystems that show a file
    while it is written, it writes a temp path and moves it over the target on commit."""

    def __init__(self, backend: BackendFS, path: str, **open_kwargs: Any) -> None:
        self.fs = backend.fs
        self.path = path
        publishes_on_close = backend.protocol in OBJECT_STORES
        self.tmp: str | None = None if publishes_on_close else temp_path(path)
        kwargs: dict[str, Any] = {"block_size": WRITE_BLOCK} if backend.is_s3 else {}
        kwargs.update(open_kwargs)
        self.file = self.fs.open(self.tmp or path, "wb", **kwargs)

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``."""
        return int(self.file.write(data))

    def commit(self) -> None:
        """Close the file, which publishes it (or move the temp file over the target)."""
        self.file.close()
        if self.tmp is not None:
            self.fs.mv(self.tmp, self.path)
            self.tmp = None

    def abort(self) -> None:
        """Discard the buffered/multipart data (and the temp file) without publishing."""
        discard = getattr(self.file, "discard", None)
        try:
            if callable(discard):
                discard()
        finally:
            # fsspec's close()/__del__ would flush and publish: mark it closed instead.
            with contextlib.suppress(AttributeError):
                self.file.closed = True
            if self.tmp is not None:
                tmp, self.tmp = self.tmp, None
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(tmp)


def open_sink(backend: BackendFS, path: str, **open_kwargs: Any) -> Sink:
    """An all-or-nothing writer for ``path`` on ``backend``.

    ``open_kwargs`` go to the filesystem's ``open`` (e.g. s3fs's ``ContentType`` and
    ``Metadata``); a local backend has no use for them.
    """
    if backend.writes_atomically:
        return LocalSink(path, fsync=backend.fsync)
    return FsspecSink(backend, path, **open_kwargs)
