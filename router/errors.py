"""Errors the router raises, and the one place backend errors are classified.

The router raises built-in exceptions so that callers keep catching what they
already catch (``except FileNotFoundError`` works through the router exactly as it
does on the backend). What it adds is a *class* for each backend error, used by the
policy's fallbacks, and notes saying which legs were tried::

    Exception
    ├── ValueError
    │   ├── PolicyError          a policy file or environment override is invalid;
    │   │                        .problems lists each one with its location
    │   └── KeyRejected          a key that would escape a backend root, or is malformed;
    │                            raised before any backend is touched
    ├── RuntimeError
    │   └── FlipRefused          a policy reload would drop a backend that still holds
    │                            unrepaired divergences (see ``force: true``)
    ├── OSError                  a backend's own error, re-raised as the primary's type:
    │   ├── FileNotFoundError    class not_found   (NoSuchKey, 404, ENOENT)
    │   ├── PermissionError      class denied      (AccessDenied, 403, EACCES)
    │   ├── TimeoutError         class transient   (RequestTimeout, read timeouts)
    │   ├── ConnectionError      class transient   (refused/reset connections)
    │   └── OSError(EIO...)      class transient for 5xx/SlowDown, else other;
    │                            the botocore/aiohttp original is kept as __cause__
    └── BackendsFailed           an ExceptionGroup: several backends failed one op and
                                 no single error is "the" error (e.g. both sides of a
                                 dual-write failed with different errors)

:func:`classify` maps any exception (built-in, s3fs-translated, botocore, aiohttp) to an
:class:`~router.policy.model.ErrorClass`; :func:`translate` turns an untranslated
library exception into the built-in one, keeping it as ``__cause__``.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router.policy.model import ErrorClass

__all__ = [
    "BackendsFailed",
    "FlipRefused",
    "KeyRejected",
    "PolicyError",
    "PolicyProblem",
    "classify",
    "translate",
]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong with a policy, located as precisely as the loader could."""

    source: str
    """The file (or ``<dict>``) the policy came from."""
    path: str
    """Dotted path in the document, e.g. ``routes.certificates.phase``."""
    message: str
    line: int | None = None
    """1-based line in ``source``, when the value came from the file."""
    column: int | None = None
    """1-based column in ``source``."""
    variable: str | None = None
    """The environment variable the value came from, when it did."""

    def __str__(self) -> str:
        where = self.source
        if self.variable is not None:
            where = f"{self.source}: ${self.variable}"
        elif self.line is not None:
            where = f"{self.source}:{self.line}:{self.column or 1}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--format json``."""
        return {
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "variable": self.variable,
            "message": self.message,
        }


class PolicyError(ValueError):
    """A policy could not be loaded; ``problems`` says every reason and where."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid policy")


class KeyRejected(ValueError):
    """A key the router refuses before touching any backend."""

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"key {key!r} rejected: {reason}")


class FlipRefused(RuntimeError):
    """A reload would stop using a backend that still holds unrepaired divergences."""

    def __init__(self, route: str, backend: str, pending: int, change: str) -> None:
        self.route = route
        self.backend = backend
        self.pending = pending
        super().__init__(
            f"route {route!r}: the new policy would {change} backend {backend!r}, which has "
            f"{pending} unrepaired divergence(s); run `router repair` first, or set "
            f"`force: true` on the route to flip anyway"
        )


class BackendsFailed(ExceptionGroup):
    """Several backends failed the same op; each exception carries its leg in a note."""


_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchBucket", "NoSuchUpload"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "AllAccessDisabled",
        "AccountProblem",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "500",
        "502",
        "503",
        "504",
        "429",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "OperationAborted",
        "BadGateway",
        "GatewayTimeout",
    }
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EPIPE,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        getattr(errno, "EREMOTEIO", errno.EIO),
    }
)
_TRANSIENT_NAMES = frozenset(
    {
        # botocore
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionError",
        "HTTPClientError",
        "ResponseStreamingError",
        "IncompleteReadError",
        # aiohttp
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        "ContentLengthError",
        "TransferEncodingError",
    }
)


def _client_error_code(exc: BaseException) -> tuple[str | None, int | None]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None, None
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = error.get("Code") if isinstance(error, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    return (str(code) if code is not None else None), (
        int(status) if isinstance(status, int) else None
    )


def _classify_one(exc: BaseException) -> ErrorClass | None:
    code, status = _client_error_code(exc)
    if code is not None or status is not None:
        if code in _NOT_FOUND_CODES or status == 404:
            return ErrorClass.NOT_FOUND
        if code in _DENIED_CODES or status in (401, 403):
            return ErrorClass.DENIED
        if code in _TRANSIENT_CODES or (status is not None and (status >= 500 or status == 429)):
            return ErrorClass.TRANSIENT
        return ErrorClass.OTHER
    status_attr = getattr(exc, "status", None)
    if type(exc).__name__ == "ClientResponseError" and isinstance(status_attr, int):
        if status_attr == 404:
            return ErrorClass.NOT_FOUND
        if status_attr in (401, 403):
            return ErrorClass.DENIED
        if status_attr >= 500 or status_attr == 429:
            return ErrorClass.TRANSIENT
        return ErrorClass.OTHER
    if isinstance(exc, FileNotFoundError):
        return ErrorClass.NOT_FOUND
    if isinstance(exc, PermissionError):
        return ErrorClass.DENIED
    if isinstance(exc, TimeoutError | ConnectionError):  # asyncio.TimeoutError is TimeoutError
        return ErrorClass.TRANSIENT
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return ErrorClass.TRANSIENT
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.ENOENT:
            return ErrorClass.NOT_FOUND
        if exc.errno in (errno.EACCES, errno.EPERM):
            return ErrorClass.DENIED
        if exc.errno in _TRANSIENT_ERRNOS:
            return ErrorClass.TRANSIENT
    return None


def classify(exc: BaseException) -> ErrorClass:
    """The error class of ``exc``: the most specific answer along its cause chain.

    A botocore error code found on the exception or its ``__cause__`` (s3fs keeps
    it there) decides first, because s3fs maps some 5xx codes to a bare ``OSError``.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 16:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        code, status = _client_error_code(link)
        if code is not None or status is not None:
            return _classify_one(link) or ErrorClass.OTHER
    for link in chain:
        found = _classify_one(link)
        if found is not None:
            return found
    return ErrorClass.OTHER


def translate(exc: BaseException, path: str | None = None) -> BaseException:
    """``exc`` as a built-in exception, keeping the original as ``__cause__``.

    Built-in ``OSError`` subclasses pass through unchanged; botocore and aiohttp
    errors become the built-in that matches their class.
    """
    if isinstance(exc, OSError) or not isinstance(exc, Exception):
        return exc
    kind = classify(exc)
    message = str(exc)
    new: OSError
    if kind is ErrorClass.NOT_FOUND:
        new = FileNotFoundError(errno.ENOENT, message, path) if path else FileNotFoundError(message)
    elif kind is ErrorClass.DENIED:
        new = PermissionError(errno.EACCES, message, path) if path else PermissionError(message)
    elif kind is ErrorClass.TRANSIENT:
        name = type(exc).__name__
        if "Timeout" in name or "timeout" in message.lower():
            new = TimeoutError(errno.ETIMEDOUT, message)
        elif "Connect" in name or "Disconnect" in name:
            new = ConnectionError(errno.ECONNRESET, message)
        else:
            new = OSError(getattr(errno, "EREMOTEIO", errno.EIO), message)
    else:
        return exc
    new.__cause__ = exc
    return new
