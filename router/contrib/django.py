"""Django file storage on the router: ``router.contrib.django.RouterStorage``.

Install the extra (``pip install "storage-router[django]"``) and configure the storage
through Django's ``STORAGES`` setting; ``FileField``/``ImageField`` then read and write
through the router, and each migration phase is flipped in the policy, never in code::

    STORAGES = {
        "default": {
            "BACKEND": "router.contrib.django.RouterStorage",
            "OPTIONS": {
                "policy": "policies/media.yaml",  # relative to BASE_DIR
                "base_url": MEDIA_URL,             # where the local backend's root is served
            },
        },
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        },
    }

Options (all keyword arguments of :class:`RouterStorage`):

``policy``
    The policy: a YAML file (a relative path is resolved against ``settings.BASE_DIR``
    when that setting exists, else against the working directory), or a dict of the
    same shape. Required.
``prefix`` (default ``""``)
    A key prefix for every name, so several storages can share one policy:
    with ``prefix="media"`` the file ``a.pdf`` is the key ``media/a.pdf``.
``base_url`` (default ``None``)
    The URL at which the root of the *local* backend is served (usually
    ``MEDIA_URL``). When a key is served by a local backend, ``url()`` is
    ``base_url`` + the key (the whole key, prefix included), computed without any I/O;
    when it is served by S3, ``url()`` is a presigned URL. The same code thus serves
    ``/media/...`` in the legacy phases and S3 URLs once S3 is primary. Without
    ``base_url``, ``url()`` is always the router's URL (``file://`` for local files).
``url_expiry`` (default ``3600``)
    Lifetime in seconds of presigned URLs (the router caps it at 7 days).
``file_overwrite`` / ``allow_overwrite`` (default ``False``)
    Whether ``save()`` replaces an existing file of the same name. Off: Django picks a
    free name (``a_Xy12abc.pdf``), as ``FileSystemStorage`` does. Either spelling works
    (``file_overwrite`` is django-storages', ``allow_overwrite`` Django 5.1's).
``router_options`` (default ``{}``)
    Keyword arguments for :class:`~router.filesystem.Router`, e.g.
    ``{"poll_interval": 5}`` to pick up policy edits without a restart.

The :class:`~router.filesystem.Router` is built on first use, once per storage
instance. ``path()`` returns a local path only while a local backend serves the key
(the legacy and dual-write phases); it raises ``NotImplementedError`` once S3 serves
it, like any remote storage. A file written through ``path()`` bypasses the router
and is not dual-written: use ``path()`` for reading only.

This is the only module of the package that imports Django.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from router.backends import BackendFS
from router.errors import KeyRejected
from router.filesystem import DEFAULT_URL_EXPIRY, Router
from router.keys import normalize_key
from router.plan import route_key

__all__ = ["RouterStorage"]

PolicySource = str | os.PathLike[str] | Mapping[str, Any]


@deconstructible(path="router.contrib.django.RouterStorage")
class RouterStorage(Storage):
    """A Django ``Storage`` whose files live wherever the router's policy says."""

    def __init__(
        self,
        policy: PolicySource,
        *,
        prefix: str = "",
        base_url: str | None = None,
        url_expiry: int = DEFAULT_URL_EXPIRY,
        file_overwrite: bool = False,
        allow_overwrite: bool = False,
        router_options: Mapping[str, Any] | None = None,
    ) -> None:
        if policy is None or policy == "":
            raise ValueError("RouterStorage needs a policy: OPTIONS = {'policy': 'media.yaml'}")
        self.policy = policy
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        if self.prefix:
            normalize_key(self.prefix, allow_root=False)  # refuse '..', '\\' early
        if base_url is not None and not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url
        self.url_expiry = int(url_expiry)
        self.allow_overwrite = bool(file_overwrite or allow_overwrite)
        self.router_options = dict(router_options or {})
        self._router: Router | None = None
        self._lock = threading.Lock()

    # -- the router -------------------------------------------------------------------

    @property
    def router(self) -> Router:
        """The storage's :class:`~router.filesystem.Router`, built on first use."""
        router = self._router
        if router is None:
            with self._lock:
                if self._router is None:
                    self._router = self._build_router()
                router = self._router
        return router

    def _build_router(self) -> Router:
        if isinstance(self.policy, Mapping):
            return Router.from_dict(self.policy, **self.router_options)
        path = Path(os.fspath(self.policy))
        base_dir = getattr(settings, "BASE_DIR", None) if settings.configured else None
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        return Router.from_file(path, **self.router_options)

    def close(self) -> None:
        """Stop the router's threads, if it was built; the next use builds a new one."""
        with self._lock:
            router, self._router = self._router, None
        if router is not None:
            router.close()

    def __repr__(self) -> str:
        return f"<RouterStorage policy={self.policy!r} prefix={self.prefix!r}>"

    # -- names ------------------------------------------------------------------------

    def _key(self, name: str, *, directory: bool = False) -> str:
        """The router key of a storage name (``prefix`` + name), or
        ``SuspiciousFileOperation`` for a name that is not a valid key."""
        if name is None:
            raise ValueError("a file name is required")
        raw = self.prefix + str(name).replace("\\", "/")
        try:
            return normalize_key(raw, allow_root=directory)
        except KeyRejected as exc:
            raise SuspiciousFileOperation(f"{name!r} is not a valid file name: {exc}") from exc

    def _serving_backend(self, key: str) -> BackendFS | None:
        """The backend that serves ``key`` in the phase in force (its primary)."""
        router = self.router
        decision = route_key(router.plan, key)
        if decision is None:
            return None
        return router.backends.get(decision.phase.primary)

    def _local_url(self, key: str) -> str:
        assert self.base_url is not None
        return urljoin(self.base_url, filepath_to_uri(key).lstrip("/"))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """A free name (Django's rule), or ``name`` itself when overwriting is allowed."""
        if not self.allow_overwrite:
            return super().get_available_name(name, max_length=max_length)
        name = str(name).replace("\\", "/")
        validate_file_name(name, allow_relative_path=True)
        if max_length is not None and len(name) > max_length:
            dir_name, file_name = posixpath.split(name)
            file_ext = "".join(PurePosixPath(file_name).suffixes)
            file_root = file_name.removesuffix(file_ext)[: -(len(name) - max_length)]
            if not file_root:
                raise SuspiciousFileOperation(
                    f'Storage can not find an available filename for "{name}". Please make'
                    ' sure that the corresponding file field allows sufficient "max_length".'
                )
            name = posixpath.join(dir_name, file_root + file_ext)
        return name

    # -- the Storage API --------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        """A Django ``File`` over the router's file: reads stream from the serving
        backend, ``wb`` streams to each side of the phase."""
        return File(self.router.open(self._key(name), mode), name)

    def _save(self, name: str, content: IO[Any]) -> str:
        """Stream ``content`` in chunks through ``router.open(key, "wb")``; without
        overwrite, a name taken meanwhile by another writer gets a new name."""
        source = content if isinstance(content, File) else File(content)
        while True:
            key = self._key(name)
            try:
                with self.router.open(key, "wb" if self.allow_overwrite else "xb") as out:
                    for chunk in source.chunks():
                        out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            except FileExistsError:
                name = self.get_available_name(name)
                continue
            return name.replace("\\", "/")

    def delete(self, name: str) -> None:
        """Delete the file on each side of the phase; a missing file is not an error."""
        if not name:
            raise ValueError("The name must be given to delete().")
        with contextlib.suppress(FileNotFoundError):
            self.router.rm_file(self._key(name))

    def exists(self, name: str) -> bool:
        """Whether the file (or directory) exists where the phase reads it."""
        return bool(self.router.exists(self._key(name, directory=True)))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """``(directories, files)`` directly in ``path``; a missing directory is empty,
        as on an object store."""
        directory = self._key(path or "", directory=True)
        try:
            entries = self.router.ls(directory, detail=True)
        except FileNotFoundError:
            return [], []
        directories: list[str] = []
        files: list[str] = []
        for entry in entries:
            name = str(entry["name"])
            is_dir = entry.get("type") == "directory"
            if name == directory and not is_dir:
                raise NotADirectoryError(path)
            (directories if is_dir else files).append(name.rsplit("/", 1)[-1])
        return directories, files

    def size(self, name: str) -> int:
        """The file's size in bytes."""
        return int(self.router.size(self._key(name)))

    def url(self, name: str | None) -> str:
        """``base_url`` + key while a local backend serves the file (see the module
        docstring); otherwise the router's URL (presigned on S3)."""
        if not name:
            raise ValueError("The name must be given to url().")
        key = self._key(name)
        if self.base_url is not None:
            backend = self._serving_backend(key)
            if backend is not None and backend.is_local:
                return self._local_url(key)
        url = str(self.router.url(key, expiration=self.url_expiry))
        if self.base_url is not None and url.startswith("file://"):
            return self._local_url(key)  # the router fell back to the local copy
        return url

    def path(self, name: str) -> str:
        """The local path of the file while a local backend serves it; otherwise
        ``NotImplementedError``, as for any storage without local files."""
        key = self._key(name)
        backend = self._serving_backend(key)
        if backend is None or not backend.is_local:
            where = f"backend {backend.name!r}" if backend is not None else "no backend"
            raise NotImplementedError(
                f"{name!r} is served by {where}, which has no local path in the phase in force"
            )
        return backend.path(key)

    def get_accessed_time(self, name: str) -> datetime:
        """Last access time; only a local serving backend records it."""
        key = self._key(name)
        backend = self._serving_backend(key)
        if backend is None or not backend.is_local:
            raise NotImplementedError("access times are only known for files on a local backend")
        return self._datetime(os.stat(backend.path(key)).st_atime)

    def get_created_time(self, name: str) -> datetime:
        """Creation time, where the serving backend (or its fallback) knows it;
        ``NotImplementedError`` where no backend does (S3)."""
        return self._datetime(self.router.created(self._key(name)))

    def get_modified_time(self, name: str) -> datetime:
        """Last modification time, from the serving backend."""
        return self._datetime(self.router.modified(self._key(name)))

    @staticmethod
    def _datetime(value: Any) -> datetime:
        """Aware UTC with ``USE_TZ``, else naive in the default time zone (Django's rule)."""
        when: datetime
        if isinstance(value, datetime):
            when = value
        elif isinstance(value, int | float):
            when = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            when = datetime.fromisoformat(value)
        else:
            raise TypeError(f"backend returned {value!r}, not a time")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # backends report UTC
        if settings.USE_TZ:
            return when.astimezone(UTC)
        return timezone.make_naive(when, timezone.get_default_timezone())
