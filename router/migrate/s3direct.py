"""A synchronous botocore client for an s3fs backend, shared by the migration tools' threads.

s3fs sends every request of a process through one asyncio event loop on one thread.
A backfill's workers then queue behind that thread, which builds, signs and sends
each request (and copies each body) while they wait. :func:`direct_for` gives the
workers a plain botocore client instead (thread-safe; one per backend, since each
client costs milliseconds of CPU to build), built from the options the backend gives
``s3fs.S3FileSystem`` — read the way s3fs reads them, without building the filesystem
or importing s3fs — so request building, hashing and sending run on the workers'
threads:

- the same endpoint, credentials (``key``/``secret``/``token`` or their aliases
  ``username``/``password``, or the same default chain and ``profile`` when none are
  given), ``client_kwargs`` and ``config_kwargs`` (timeouts, retries, addressing
  style…; a connection pool of 64 unless ``max_pool_connections`` is set), and the same
  extra request parameters (``s3_additional_kwargs``, requester-pays), filtered per
  operation as s3fs does;
- s3fs's own retry loop (``s3fs_retries`` attempts, on transient errors) and errors
  translated once, by :func:`router.errors.translate` (``NoSuchKey`` →
  ``FileNotFoundError``, ``AccessDenied`` → ``PermissionError``…; any other S3 error →
  ``OSError(EIO)``, the botocore error kept as ``__cause__``);
- no ``Expect: 100-continue`` on bodies under 2 MiB (botocore asks for it on every
  upload, which costs small objects a round trip and the server an interim response;
  the AWS SDK for Go asks for it only from 2 MB up);
- payloads are not SHA-256-signed (``UNSIGNED-PAYLOAD``, botocore's own choice over
  https) and botocore adds no CRC32 of its own (``request_checksum_calculation:
  when_required``): every body the migration tools send carries ``Content-MD5``,
  which S3 checks before it stores anything, and the returned ETag is checked
  against the same MD5. A policy's ``config_kwargs`` (or, for the checksum,
  ``AWS_REQUEST_CHECKSUM_CALCULATION``) can set either back.

Backends this cannot mirror exactly get ``None`` and keep the s3fs path: a filesystem
that is not a plain ``S3FileSystem`` (wrappers, subclasses, fault injection), ``anon``,
an injected ``session``, ``cache_regions``, options this module does not know, or a
client that fails to build.
The client's holder shows no secret in its ``repr``, and nothing here logs request
parameters.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from router.backends import BackendFS
from router.errors import classify, translate
from router.policy.model import ErrorClass

__all__ = ["S3Direct", "call_s3", "direct_for"]

CLIENT_OPTIONS = frozenset(
    {
        "endpoint_url",
        "key",
        "secret",
        "token",
        "username",
        "password",
        "use_ssl",
        "client_kwargs",
        "config_kwargs",
        "s3_additional_kwargs",
        "requester_pays",
        "profile",  # the one session option: s3fs passes it to the botocore session
    }
)
"""``S3FileSystem`` options this module turns into client settings, as s3fs does."""

NOT_CLIENT_OPTIONS = frozenset(
    {
        "max_concurrency",
        "default_block_size",
        "default_fill_cache",
        "default_cache_type",
        "version_aware",
        "fixed_upload_size",
        "local_expiry_check",
        "use_listings_cache",
        "listings_expiry_time",
        "max_paths",
        "asynchronous",
    }
)
"""``S3FileSystem`` options that shape s3fs's own file objects and caches, not requests."""

EXPECT_FROM = 2 * 2**20
"""Uploads from this size on keep botocore's ``Expect: 100-continue``."""

_RETRY_PATTERNS = ("SlowDown", "reduce your request rate", "XAmzContentSHA256Mismatch")
"""ClientError texts s3fs retries (see ``s3fs.core._error_wrapper``)."""


POOL = 64
"""Connections the client keeps per host (one per worker thread, up to this many)."""


class S3Direct:
    """A botocore S3 client mirroring one backend's ``s3fs.S3FileSystem``, for any thread."""

    def __init__(
        self,
        session: Any,
        create_kwargs: dict[str, Any],
        extra: dict[str, Any],
        backend: BackendFS,
    ) -> None:
        # credentials stay inside the client: this object keeps none of its own
        self._client: Any = session.create_client("s3", **create_kwargs)
        # after botocore's own add_expect_header, registered on the same event
        self._client.meta.events.register_last("before-call.s3", _small_bodies_expect_nothing)
        self._extra = extra
        self._backend = weakref.ref(backend)  # for s3fs's ``retries``, read at each call
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

    def _attempts(self) -> int:
        """s3fs's ``retries``: the filesystem's if it was built (and maybe changed), else
        the backend's option."""
        backend = self._backend()
        if backend is None:
            return 1
        fs = backend.built_fs
        retries = getattr(fs, "retries", None) if fs is not None else backend.s3fs_retries
        return max(1, int(retries or 1))

    def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """``client.<method>(**kwargs)`` with s3fs's retries; errors translated once."""
        client = self._client
        params = self._params(client, method, kwargs)
        func: Callable[..., dict[str, Any]] = getattr(client, method)
        attempts = self._attempts()
        error: Exception | None = None
        for attempt in range(attempts):
            try:
                return func(**params)
            except Exception as exc:
                error = exc
                if not _retryable(exc):
                    break
            if attempt + 1 < attempts:
                time.sleep(min(1.7**attempt * 0.1, 15))
        assert error is not None
        key = params.get("Key")
        bucket = params.get("Bucket")
        path = f"{bucket}/{key}" if bucket and key else bucket
        translated = translate(error, path)
        if translated is error and getattr(error, "response", None) is not None:
            # an S3 error with no built-in meaning (InvalidRange, MalformedXML…): OSError,
            # as s3fs gives it, the botocore error kept as the cause
            translated = OSError(errno.EIO, str(error))
            translated.__cause__ = error
        if translated is error:
            raise error
        raise translated from error


def _retryable(exc: BaseException) -> bool:
    """What s3fs retries: transient transport errors and throttling."""
    if any(pattern in str(exc) for pattern in _RETRY_PATTERNS):
        return True
    return getattr(exc, "response", None) is None and classify(exc) is ErrorClass.TRANSIENT


def _small_bodies_expect_nothing(params: dict[str, Any], **_: Any) -> None:
    """Drop ``Expect: 100-continue`` from a request whose body is under EXPECT_FROM."""
    headers = params.get("headers")
    if not headers or "Expect" not in headers:
        return
    from botocore.utils import determine_content_length

    length = determine_content_length(params.get("body"))
    if length is not None and length < EXPECT_FROM:
        del headers["Expect"]


_CACHE: weakref.WeakKeyDictionary[BackendFS, S3Direct | None] = weakref.WeakKeyDictionary()
"""By backend (identity): its direct client, or None when it cannot have one."""
_CACHE_LOCK = threading.Lock()


def direct_for(backend: BackendFS) -> S3Direct | None:
    """The direct client for ``backend`` (an s3fs backend), or None to use s3fs itself."""
    if not backend.is_s3fs:  # not s3fs, or a wrapper put in front of it since
        return None
    try:
        return _CACHE[backend]
    except KeyError:
        pass
    with _CACHE_LOCK:
        if backend not in _CACHE:
            _CACHE[backend] = _build(backend)
        return _CACHE[backend]


def _build(backend: BackendFS) -> S3Direct | None:
    options = dict(backend.options)
    if not set(options) <= CLIENT_OPTIONS | NOT_CLIENT_OPTIONS | {
        "anon",
        "session",
        "cache_regions",
    }:
        return None
    if options.get("anon") or options.get("session") is not None or options.get("cache_regions"):
        return None
    if backend.s3fs_retries is None and backend.built_fs is None:
        return None  # s3fs's own default applies: leave it to s3fs
    if (options.get("key") and options.get("username")) or (
        options.get("secret") and options.get("password")
    ):
        return None  # s3fs refuses both; let it say so
    extra = options.get("s3_additional_kwargs") or {}
    config_kwargs = dict(options.get("config_kwargs") or {})
    client_kwargs = dict(options.get("client_kwargs") or {})
    if not isinstance(extra, Mapping) or not {"connect_timeout", "read_timeout"} <= set(
        config_kwargs
    ):
        return None  # s3fs's class defaults would apply: leave it to s3fs
    try:
        import botocore.session
        from botocore.config import Config

        config_kwargs.setdefault("max_pool_connections", POOL)
        s3_options = dict(config_kwargs.get("s3") or {})
        s3_options.setdefault("payload_signing_enabled", False)
        config_kwargs["s3"] = s3_options
        if "AWS_REQUEST_CHECKSUM_CALCULATION" not in os.environ:
            config_kwargs.setdefault("request_checksum_calculation", "when_required")
        config = Config(**config_kwargs)
        init_kwargs = {
            "aws_access_key_id": options.get("key") or options.get("username"),
            "aws_secret_access_key": options.get("secret") or options.get("password"),
            "aws_session_token": options.get("token"),
            "endpoint_url": options.get("endpoint_url"),
        }
        create_kwargs = {
            k: v for k, v in init_kwargs.items() if v is not None and v != client_kwargs.get(k)
        }
        if "use_ssl" not in client_kwargs:
            create_kwargs["use_ssl"] = options.get("use_ssl", True)
        create_kwargs.update(client_kwargs)
        create_kwargs["config"] = config
        session = botocore.session.Session(profile=options.get("profile"))
        requester = {"RequestPayer": "requester"} if options.get("requester_pays") else {}
        return S3Direct(session, create_kwargs, {**dict(extra), **requester}, backend)
    except Exception:  # any doubt: the s3fs path, which reports errors itself
        return None


def call_s3(backend: BackendFS, method: str, **kwargs: Any) -> dict[str, Any]:
    """One S3 call on ``backend``: through its direct client, else through s3fs."""
    direct = direct_for(backend)
    if direct is not None:
        return direct.call(method, **kwargs)
    fs: Any = backend.fs
    return fs.call_s3(method, **kwargs)  # type: ignore[no-any-return]
