"""Streaming reads through the router: ``router.open(key, "rb")``.

The backend's read handle is wrapped so that reads after the open keep the router's
promises: an error is the built-in exception of its class (``translate``), a transient
failure mid-stream (a body cut on the wire) re-opens the object at the current offset up
to the op's ``retries``, and a handle that ends before the object's size is an error —
never short data.
"""

from __future__ import annotations

import contextlib
import errno
import io
from typing import Any

from router.backends import BackendFS
from router.errors import classify, translate
from router.policy.model import ErrorClass

__all__ = ["RouterReader"]

_EREMOTEIO = getattr(errno, "EREMOTEIO", errno.EIO)


class RouterReader(io.RawIOBase):
    """A read-only binary file over one backend's handle, checked and resumable."""

    def __init__(
        self, handle: Any, backend: BackendFS, path: str, key: str, *, retries: int
    ) -> None:
        super().__init__()
        self._handle = handle
        self._backend = backend
        self._path = path
        self.path = key
        self.key = key
        self._retries = retries
        self._pos = 0
        size = getattr(handle, "size", None)
        if size is None:
            try:
                size = backend.fs.size(path)
            except Exception:  # unknown size: reads are still translated, not length-checked
                size = None
        self.size: int | None = int(size) if size is not None else None

    def __repr__(self) -> str:
        return f"<RouterReader {self.key!r} from {self._backend.name!r}>"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._handle.seekable())

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = int(self._handle.seek(offset, whence))
        return self._pos

    def info(self) -> dict[str, Any]:
        """The backend's info for the open object, named by the router's key."""
        details = dict(getattr(self._handle, "details", None) or self._backend.fs.info(self._path))
        details["name"] = self.key
        return details

    def _reopen(self) -> None:
        with contextlib.suppress(Exception):  # a broken handle may fail to close; dropped
            self._handle.close()
        self._handle = self._backend.fs.open(self._path, "rb")
        if self._pos:
            self._handle.seek(self._pos)

    def _call(self, method: str, *args: Any) -> bytes:
        attempts = 0
        while True:
            try:
                data = bytes(getattr(self._handle, method)(*args))
            except Exception as exc:
                resumable = attempts < self._retries and self.seekable()
                if classify(exc) is ErrorClass.TRANSIENT and resumable:
                    attempts += 1
                    self._reopen()
                    continue
                translated = translate(exc, self.key)
                if translated is exc:
                    raise
                raise translated from exc
            return data

    def _short(self) -> OSError:
        return OSError(
            _EREMOTEIO,
            f"{self.key!r}: the backend {self._backend.name!r} ended the object after "
            f"{self._pos} of {self.size} bytes",
        )

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all the rest for -1); raises rather than return short data."""
        if self.closed:
            raise ValueError("read of a closed file")
        want = -1 if size is None else size
        data = self._call("read", want)
        self._pos += len(data)
        if (
            self.size is not None
            and self._pos < self.size
            and (want < 0 or (want > 0 and not data))
        ):
            raise self._short()
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        data = self._call("readline", -1 if size is None else size)
        self._pos += len(data)
        if not data and self.size is not None and self._pos < self.size:
            raise self._short()
        return data

    def close(self) -> None:
        if not self.closed:
            try:
                self._handle.close()
            finally:
                super().close()
