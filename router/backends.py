"""Real filesystems behind backend names: built from URL + options, rooted at the URL path.

Defaults chosen so the *router* owns retries and caching decisions:

- every filesystem is built with ``skip_instance_cache=True`` (fsspec would otherwise
  hand back a cached instance and hide a policy edit);
- S3: no listings cache (another client's writes stay visible), s3fs's own retry loop
  and botocore's retries turned down to a single attempt, bounded timeouts, and
  ``max_concurrency: 1`` (a whole-object read is one GET instead of HEAD + GET, and an
  upload holds one part in memory at a time);
- local: parent directories are created on write.

A user's ``options`` win over these defaults (nested dicts are merged).

An S3 backend served by s3fs is built lazily: its ``S3FileSystem`` (and the import of
s3fs, aiobotocore and aiohttp, a few hundred milliseconds) comes with the first use of
:attr:`BackendFS.fs`, so a process that only talks to S3 through the migration tools'
own botocore client (:mod:`router.migrate.s3direct`) never pays for it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import known_implementations, registry

from router.errors import KeyRejected
from router.policy.model import Backend
from router.redact import is_secret_name, protect_library_logs, redact_options, redact_url

__all__ = ["BackendFS", "build_backend", "default_options"]

S3_PROTOCOLS = frozenset({"s3", "s3a"})
S3FS_CLASS = "s3fs.S3FileSystem"


@functools.lru_cache(maxsize=8192)
def _real_dir(directory: str) -> str:
    """The real path of a directory (cached: a root's directories rarely become links)."""
    return os.path.realpath(directory)


def _within(real: str, root: str) -> bool:
    return real == root or real.startswith(root + "/")


def default_options(protocol: str) -> dict[str, Any]:
    """The router's defaults for a protocol, under the user's options."""
    if protocol in S3_PROTOCOLS:
        return {
            "use_listings_cache": False,
            # One request per whole-object read and bounded memory per upload: with
            # s3fs's default (10), cat_file sends a HEAD before every GET (2 requests,
            # ~2x boto3's latency on small objects) and put/pipe hold up to 10 parts of
            # 50 MiB at once. Range reads of big objects lose s3fs's parallel GETs.
            "max_concurrency": 1,
            "s3fs_retries": 1,
            "config_kwargs": {
                "retries": {"total_max_attempts": 1, "mode": "standard"},
                "connect_timeout": 5,
                "read_timeout": 30,
            },
        }
    if protocol in ("file", "local"):
        return {"auto_mkdir": True}
    return {}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), dict):
            merged[name] = _merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def _clean(options: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty-string options (``endpoint_url: "${S3_ENDPOINT_URL:-}"`` means unset)."""
    return {k: _clean(v) if isinstance(v, Mapping) else v for k, v in options.items() if v != ""}


class BackendFS:
    """A named, rooted filesystem. Keys map to ``root/key``.

    ``fs`` is the filesystem, or a function that builds it on first use (see the module
    docstring); assigning ``fs`` replaces it (fault injection wraps it this way).
    """

    def __init__(
        self,
        name: str,
        fs: AbstractFileSystem | Callable[[], AbstractFileSystem],
        root: str,
        protocol: str,
        options: Mapping[str, Any],
        fsync: bool = True,
        max_url_expiry: float = 7 * 24 * 3600.0,
        *,
        fs_class: str | None = None,
        s3fs_retries: int | None = None,
    ) -> None:
        self.name = name
        self.root = root
        self.protocol = protocol
        self.options = options
        self.fsync = fsync
        self.max_url_expiry = max_url_expiry
        self.s3fs_retries = s3fs_retries
        """s3fs's own retry loop (``S3FileSystem.retries``), set when the policy sets it."""
        self._fs: AbstractFileSystem | None = None
        self._build: Callable[[], AbstractFileSystem] | None = None
        if isinstance(fs, AbstractFileSystem):
            self._fs = fs
            fs_class = None
        else:
            self._build = fs
        self._fs_class = fs_class

    @property
    def fs(self) -> AbstractFileSystem:
        """The filesystem (built now if it was deferred)."""
        fs = self._fs
        if fs is None:
            assert self._build is not None
            made = self._build()
            if self._fs is None:  # another thread may have built one meanwhile: keep it
                self._fs = made
            fs = self._fs
        return fs

    @fs.setter
    def fs(self, value: AbstractFileSystem) -> None:
        self._fs = value

    @property
    def built_fs(self) -> AbstractFileSystem | None:
        """The filesystem if it exists yet, without building it."""
        return self._fs

    @property
    def is_s3fs(self) -> bool:
        """Whether the filesystem is (or will be) a plain ``s3fs.S3FileSystem`` — not a
        wrapper around one — answered without importing s3fs when it is not built yet."""
        fs = self._fs
        if fs is None:
            return self._fs_class == S3FS_CLASS
        s3fs = sys.modules.get("s3fs")
        return s3fs is not None and type(fs) is s3fs.S3FileSystem

    @property
    def is_local(self) -> bool:
        """Whether this is a local directory (``file://`` URLs)."""
        return self.protocol in ("file", "local")

    @property
    def writes_atomically(self) -> bool:
        """Whether writes can use a temp file + rename (a real local filesystem)."""
        return isinstance(self._fs, LocalFileSystem)

    @property
    def is_s3(self) -> bool:
        """Whether this is S3 (presigned URLs, ETags)."""
        return self.protocol in S3_PROTOCOLS

    def path(self, key: str) -> str:
        """The backend-native path of ``key``.

        On a local directory the path is also *confined*: if a symlink inside the root
        makes it resolve outside the root, the key is refused (:class:`KeyRejected`)
        before any I/O — keys never escape their backend, not even through links.
        """
        if not key:
            return self.root
        path = f"{self.root}/{key}" if self.root else key
        if self.confine:
            # The parent's real path is cached (one dict lookup); the last component costs
            # one lstat, and only a symlink there is resolved in full.
            real_dir = _real_dir(path.rpartition("/")[0] or "/")
            escapes = not _within(real_dir, self._real_root) or (
                os.path.islink(path) and not _within(os.path.realpath(path), self._real_root)
            )
            if escapes:
                raise KeyRejected(
                    key, f"it resolves outside backend {self.name!r} through a symlink"
                )
        return path

    @property
    def confine(self) -> bool:
        """Whether paths are checked against symlinks leaving the root (local only)."""
        return self.writes_atomically

    @property
    def _real_root(self) -> str:
        real = self.__dict__.get("_real_root_cache")
        if real is None:
            real = self.__dict__["_real_root_cache"] = os.path.realpath(self.root or "/")
        return str(real)

    def key(self, path: str) -> str:
        """The key of a backend-native path (inverse of :meth:`path`)."""
        path = self.fs._strip_protocol(path).rstrip("/")
        if not self.root:
            return path
        if path == self.root:
            return ""
        prefix = self.root + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
        raise ValueError(f"{path!r} is outside backend {self.name!r}")

    def describe(self) -> dict[str, Any]:
        """URL and options with secrets redacted (for explain/status)."""
        return {
            "url": redact_url(
                f"{self.protocol}://{self.root.lstrip('/')}"
                if self.protocol != "file"
                else f"file://{self.root}"
            ),
            "options": redact_options(self.options),
        }

    def __repr__(self) -> str:
        return f"BackendFS(name={self.name!r}, protocol={self.protocol!r}, root={self.root!r})"


def _secret_values(options: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(_secret_values(value))
        elif isinstance(value, str) and value and is_secret_name(str(name)):
            found.append(value)
    return found


def _served_by_s3fs(protocol: str) -> bool:
    """Whether fsspec would serve ``protocol`` with ``s3fs.S3FileSystem`` itself (not a
    class registered in its place), answered without importing s3fs."""
    if protocol not in S3_PROTOCOLS:
        return False
    cls = registry.get(protocol)
    if cls is not None:
        s3fs = sys.modules.get("s3fs")
        return s3fs is not None and cls is s3fs.S3FileSystem
    known = known_implementations.get(protocol)
    return bool(known) and known.get("class") == S3FS_CLASS


def _strip_s3_url(url: str) -> str:
    """``s3://bucket/prefix/`` → ``bucket/prefix``, as ``S3FileSystem._strip_protocol``."""
    for protocol in ("s3", "s3a"):
        for sep in ("://", "::"):
            if url.startswith(protocol + sep):
                url = url[len(protocol) + len(sep) :]
    return url.rstrip("/")


def build_backend(name: str, config: Backend, *, deadline: float | None = None) -> BackendFS:
    """Build the filesystem of a backend (no I/O for local, memory or S3).

    ``deadline``: the shortest op deadline of the phases using this backend; an S3
    backend's connect and read timeouts are cut to it, so that one attempt can never
    outlast the op's whole budget. An s3fs filesystem is built on first use.
    """
    protocol, _ = fsspec.core.split_protocol(config.url)
    protocol = protocol or "file"
    lazy = _served_by_s3fs(protocol)
    cls: Any = None
    if not lazy:
        cls = fsspec.get_filesystem_class(protocol)
        if isinstance(cls.protocol, tuple | list):
            protocol = protocol if protocol in cls.protocol else cls.protocol[0]
    options = _merge(default_options(protocol), _clean(config.options))
    if deadline is not None and protocol in S3_PROTOCOLS:
        timeouts = dict(options.get("config_kwargs") or {})
        for option in ("connect_timeout", "read_timeout"):
            timeouts[option] = min(float(timeouts.get(option, deadline)), deadline)
        options["config_kwargs"] = timeouts
    fsync = options.pop("fsync", True)
    if not isinstance(fsync, bool):
        raise TypeError(f"option fsync must be true or false, not {fsync!r}")
    s3fs_retries = options.pop("s3fs_retries", None)
    for option in ("s3fs_retries", "max_concurrency", "block_size"):
        value = s3fs_retries if option == "s3fs_retries" else options.get(option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"option {option} must be a whole number, not {value!r}")
    if protocol in S3_PROTOCOLS:  # botocore logs credentials and headers at DEBUG
        protect_library_logs(_secret_values(options))
    retries = int(s3fs_retries) if s3fs_retries is not None else None

    def make() -> AbstractFileSystem:
        made = fsspec.get_filesystem_class(protocol)(skip_instance_cache=True, **options)
        if retries is not None:
            made.retries = retries  # s3fs's own retry loop: a class attribute, not a kwarg
        return made

    return BackendFS(
        name,
        make if lazy else make(),
        _strip_s3_url(config.url) if lazy else cls._strip_protocol(config.url).rstrip("/"),
        protocol,
        options,
        fsync,
        config.max_url_expiry,
        fs_class=S3FS_CLASS if lazy else None,
        s3fs_retries=retries,
    )
