"""A synchronous botocore client for an s3fs backend, shared by the migration tools' threads.

s3fs sends every request of a process through one asyncio event loop on one thread.
A backfill's workers then queue behind that thread, which builds, signs and sends
each request (and copies each body) while they wait. :func:`direct_for` gives the
workers a plain botocore client instead (thread-safe; one per filesystem, since each
client costs milliseconds of CPU to build), built from the s3fs filesystem's own
settings, so request building, hashing and sending run on the workers' threads:

- the same endpoint, credentials (``key``/``secret``/``token``, or the same default
  chain and ``profile`` when none are given), ``client_kwargs`` and ``config_kwargs``
  (timeouts, retries, addressing style…; a connection pool of 64 unless
  ``max_pool_connections`` is set), and the same extra request parameters
  (``s3_additional_kwargs``, requester-pays), filtered per operation as s3fs does;
- s3fs's own retry loop (``fs.retries`` attempts) and its error translation
  (``NoSuchKey`` → ``FileNotFoundError``, ``AccessDenied`` → ``PermissionError``…);
- no ``Expect: 100-continue`` on bodies under 2 MiB (botocore asks for it on every
  upload, which costs small objects a round trip and the server an interim response;
  the AWS SDK for Go asks for it only from 2 MB up);
- payloads are not SHA-256-signed (``UNSIGNED-PAYLOAD``, botocore's own choice over
  https) and botocore adds no CRC32 of its own (``request_checksum_calculation:
  when_required``): every body the migration tools send carries ``Content-MD5``,
  which S3 checks before it stores anything, and the returned ETag is checked
  against the same MD5. A policy's ``config_kwargs`` (or, for the checksum,
  ``AWS_REQUEST_CHECKSUM_CALCULATION``) can set either back.

Filesystems this cannot mirror exactly get ``None`` and keep the s3fs path: wrappers
and subclasses, ``anon``, an injected ``session``, ``cache_regions``, session or
config options botocore does not know, or a client that fails to build.
The client's holder shows no secret in its ``repr``, and nothing here logs request
parameters.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from router.backends import BackendFS

__all__ = ["S3Direct", "call_s3", "direct_for"]

_SESSION_OPTIONS = frozenset({"profile"})
"""s3fs session options (``fs.kwargs``) that a botocore session takes as they are."""

EXPECT_FROM = 2 * 2**20
"""Uploads from this size on keep botocore's ``Expect: 100-continue``."""

_RETRY_PATTERNS = ("SlowDown", "reduce your request rate", "XAmzContentSHA256Mismatch")
"""ClientError texts s3fs retries (see ``s3fs.core._error_wrapper``)."""


POOL = 64
"""Connections the client keeps per host (one per worker thread, up to this many)."""


class S3Direct:
    """A botocore S3 client mirroring one ``s3fs.S3FileSystem``, for any thread."""

    def __init__(
        self, session: Any, create_kwargs: dict[str, Any], extra: dict[str, Any], fs: Any
    ) -> None:
        # credentials stay inside the client: this object keeps none of its own
        self._client: Any = session.create_client("s3", **create_kwargs)
        # after botocore's own add_expect_header, registered on the same event
        self._client.meta.events.register_last("before-call.s3", _small_bodies_expect_nothing)
        self._extra = extra
        self._fs = weakref.ref(fs)  # for s3fs's ``retries``, read at each call
        self._valid: dict[str, frozenset[str]] = {}

    def __repr__(self) -> str:
        return f"S3Direct(endpoint={self._client.meta.endpoint_url!r})"

    def client(self) -> Any:
        """The botocore client (thread-safe)."""
        return self._client

    def _params(self, client: Any, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """s3fs's extra parameters under ``kwargs``, keeping those ``method`` accepts."""
        if not self._extra:
            return kwargs
        valid = self._valid.get(method)
        if valid is None:
            operation = client.meta.method_to_api_mapping[method]
            shape = client.meta.service_model.operation_model(operation).input_shape
            valid = frozenset(shape.members) if shape is not None else frozenset()
            self._valid[method] = valid
        merged = {k: v for k, v in self._extra.items() if k in valid}
        merged.update(kwargs)
        if merged.get("RequestPayer", "") is None:
            merged.pop("RequestPayer")
        return merged

    def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """``client.<method>(**kwargs)`` with s3fs's retries and error translation."""
        from botocore.exceptions import ClientError
        from s3fs.core import S3_RETRYABLE_ERRORS
        from s3fs.errors import translate_boto_error

        client = self._client
        params = self._params(client, method, kwargs)
        func: Callable[..., dict[str, Any]] = getattr(client, method)
        fs = self._fs()
        attempts = max(1, int(getattr(fs, "retries", 1)))
        error: BaseException | None = None
        for attempt in range(attempts):
            try:
                return func(**params)
            except S3_RETRYABLE_ERRORS as exc:
                error = exc
            except ClientError as exc:
                error = exc
                if not any(pattern in str(exc) for pattern in _RETRY_PATTERNS):
                    break
            if attempt + 1 < attempts:
                time.sleep(min(1.7**attempt * 0.1, 15))
        assert error is not None
        translated = translate_boto_error(error)
        if translated is error:
            raise error
        raise translated from error


def _small_bodies_expect_nothing(params: dict[str, Any], **_: Any) -> None:
    """Drop ``Expect: 100-continue`` from a request whose body is under EXPECT_FROM."""
    headers = params.get("headers")
    if not headers or "Expect" not in headers:
        return
    from botocore.utils import determine_content_length

    length = determine_content_length(params.get("body"))
    if length is not None and length < EXPECT_FROM:
        del headers["Expect"]


_CACHE: dict[int, tuple[weakref.ref[Any], S3Direct | None]] = {}
"""By the filesystem's identity (fsspec filesystems compare equal by their options)."""
_CACHE_LOCK = threading.Lock()


def direct_for(backend: BackendFS) -> S3Direct | None:
    """Direct clients for ``backend``'s s3fs filesystem, or None to use s3fs itself."""
    fs = backend.fs
    found = _CACHE.get(id(fs))
    if found is not None and found[0]() is fs:
        return found[1]
    with _CACHE_LOCK:
        found = _CACHE.get(id(fs))
        if found is not None and found[0]() is fs:
            return found[1]
        direct = _build(fs)
        key = id(fs)
        try:
            ref = weakref.ref(fs, lambda _: _CACHE.pop(key, None))
        except TypeError:  # not weak-referenceable: nothing to key a cache on
            return None
        _CACHE[key] = (ref, direct)
        return direct


def _build(fs: Any) -> S3Direct | None:
    try:
        from s3fs import S3FileSystem
    except ImportError:  # pragma: no cover - s3fs is a dependency
        return None
    if type(fs) is not S3FileSystem:
        return None
    if fs.anon or fs.cache_regions or not getattr(fs, "_session_is_owned", False):
        return None
    session_options = dict(fs.kwargs)
    if not set(session_options) <= _SESSION_OPTIONS:
        return None
    extra = fs.s3_additional_kwargs
    if not isinstance(extra, Mapping):
        return None
    try:
        import botocore.session
        from botocore.config import Config

        config_kwargs = dict(fs.config_kwargs)
        config_kwargs.setdefault("connect_timeout", fs.connect_timeout)
        config_kwargs.setdefault("read_timeout", fs.read_timeout)
        config_kwargs.setdefault("max_pool_connections", POOL)
        s3_options = dict(config_kwargs.get("s3") or {})
        s3_options.setdefault("payload_signing_enabled", False)
        config_kwargs["s3"] = s3_options
        if "AWS_REQUEST_CHECKSUM_CALCULATION" not in os.environ:
            config_kwargs.setdefault("request_checksum_calculation", "when_required")
        config = Config(**config_kwargs)
        client_kwargs = dict(fs.client_kwargs)
        init_kwargs = {
            "aws_access_key_id": fs.key,
            "aws_secret_access_key": fs.secret,
            "aws_session_token": fs.token,
            "endpoint_url": fs.endpoint_url,
        }
        create_kwargs = {
            k: v for k, v in init_kwargs.items() if v is not None and v != client_kwargs.get(k)
        }
        if "use_ssl" not in client_kwargs:
            create_kwargs["use_ssl"] = fs.use_ssl
        create_kwargs.update(client_kwargs)
        create_kwargs["config"] = config
        session = botocore.session.Session(profile=session_options.get("profile"))
        return S3Direct(session, create_kwargs, {**dict(extra), **fs.req_kw}, fs)
    except Exception:  # any doubt: the s3fs path, which reports errors itself
        return None


def call_s3(backend: BackendFS, method: str, **kwargs: Any) -> dict[str, Any]:
    """One S3 call on ``backend``: through its direct client, else through s3fs."""
    direct = direct_for(backend)
    if direct is not None:
        return direct.call(method, **kwargs)
    fs: Any = backend.fs
    return fs.call_s3(method, **kwargs)  # type: ignore[no-any-return]
