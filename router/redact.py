"""Keep secrets out of everything the router prints: logs, errors, reprs, CLI output.

- :func:`redact_url` and :func:`redact_options`: copies of URLs and backend options
  with their secrets replaced by ``***`` (explain, status, ``BackendFS.describe``).
- :class:`SecretFilter` and :func:`protect_library_logs`: botocore logs every request
  at DEBUG, ``Authorization`` header (access key id and signature) included, and its
  signer logs the canonical request and the signature. When an S3 backend is built,
  one :class:`SecretFilter` is attached to the loggers of botocore, aiobotocore,
  boto3, s3transfer, urllib3, aiohttp, s3fs and fsspec. It rewrites a record's
  message (and its formatted traceback) with every secret scrubbed: the values of the
  backends' secret options, the AWS credentials of the environment, authorization
  headers, signatures and presigned-URL credentials. Attaching a filter configures
  nothing: no handler, no level; the application still decides what is logged where.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "LIBRARY_LOGGERS",
    "REDACTED",
    "SecretFilter",
    "is_secret_name",
    "protect_library_logs",
    "redact_options",
    "redact_text",
    "redact_url",
    "register_secrets",
    "secret_values",
]

REDACTED = "***"

_SECRET_NAME = re.compile(
    r"(secret|password|passwd|token|credential|private|signature|session|auth|"
    r"^key$|_key$|^sas|connection_string|account_key)",
    re.IGNORECASE,
)
_PUBLIC_NAMES = frozenset({"key_prefix", "anon"})


def is_secret_name(name: str) -> bool:
    """Whether an option called ``name`` holds a secret (``secret``, ``key``, ``token``...)."""
    return name.lower() not in _PUBLIC_NAMES and bool(_SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """``url`` without the password of its user-info, and without query secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        query = "&".join(
            f"{k}={REDACTED}" if is_secret_name(k) else f"{k}={v}" if sep else k
            for k, sep, v in (item.partition("=") for item in query.split("&"))
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of backend options with secret values replaced by ``***``, recursively."""
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if is_secret_name(str(name)):
            clean[name] = REDACTED if value not in (None, "") else value
        elif isinstance(value, Mapping):
            clean[name] = redact_options(value)
        elif isinstance(value, str) and "://" in value:
            clean[name] = redact_url(value)
        else:
            clean[name] = value
    return clean


def secret_values(options: Mapping[str, Any]) -> set[str]:
    """The string values of the secret-named options in ``options``, recursively."""
    found: set[str] = set()
    for name, value in options.items():
        if isinstance(value, Mapping):
            found |= secret_values(value)
        elif isinstance(value, str) and is_secret_name(str(name)):
            found.add(value)
        elif isinstance(value, str) and "://" in value:
            password = urlsplit(value).password if "@" in value else None
            if password:
                found.add(password)
    return found


# -- log records --------------------------------------------------------------------

LIBRARY_LOGGERS: tuple[str, ...] = (
    "botocore",
    "aiobotocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "aiohttp",
    "s3fs",
    "fsspec",
)
"""Libraries whose loggers get a :class:`SecretFilter` (and their child loggers)."""

# Child loggers that carry requests, headers or signatures. A logger's filters apply
# only to records logged on that very logger (not to its children's, which propagate
# to handlers without passing their parents' filters), so the filter is attached to
# each of these by name (created if the library has not created it yet) and to every
# child logger that exists at the time.
_KNOWN_CHILDREN: tuple[str, ...] = (
    "botocore.auth",
    "botocore.awsrequest",
    "botocore.client",
    "botocore.credentials",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.retryhandler",
    "botocore.utils",
    "aiobotocore.client",
    "aiobotocore.credentials",
    "aiobotocore.endpoint",
    "aiobotocore.httpsession",
    "aiobotocore.hooks",
    "aiobotocore.parsers",
    "aiobotocore.utils",
    "urllib3.connection",
    "urllib3.connectionpool",
    "aiohttp.client",
    "s3fs.core",
)

_ENV_SECRETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
_MIN_SECRET = 6
"""Shorter values are not scrubbed as text (they would blank out ordinary words)."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 'Authorization': b'AWS4-HMAC-SHA256 Credential=...' in a headers dict repr
    (
        re.compile(
            r"""(?ix)
            (['"]?(?:proxy-)?authorization['"]?\s*[:=]\s*b?)
            (['"])(?:(?!\2).)*\2
            """
        ),
        rf"\1\2{REDACTED}\2",
    ),
    (
        re.compile(
            r"""(?ix)
            (['"]?(?:x-amz-security-token|x-amz-credential|x-amz-signature|cookie|
                      x-api-key)['"]?\s*[:=]\s*b?)
            (['"])(?:(?!\2).)*\2
            """
        ),
        rf"\1\2{REDACTED}\2",
    ),
    # raw header lines: "Authorization: AWS4-HMAC-SHA256 ...", canonical request lines
    (
        re.compile(r"(?im)^(\s*(?:proxy-)?authorization\s*:\s*|\s*x-amz-security-token\s*:\s*).*$"),
        rf"\1{REDACTED}",
    ),
    # query strings of presigned URLs, and the parts of an Authorization value
    (
        re.compile(
            r"(?i)\b(X-Amz-Credential|X-Amz-Signature|X-Amz-Security-Token|AWSAccessKeyId|"
            r"Signature|Credential|Expires-Signature)=([^&\s'\",]+)"
        ),
        rf"\1={REDACTED}",
    ),
    # botocore.auth: "Signature:\n<64 hex digits>"
    (re.compile(r"(?i)(signature:\s*)[0-9a-f]{40,}"), rf"\1{REDACTED}"),
)

_secrets_lock = threading.Lock()
_registered: frozenset[str] = frozenset()


def register_secrets(values: Iterable[str]) -> None:
    """Add values the :class:`SecretFilter` scrubs from log records (idempotent)."""
    global _registered
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET}
    if new - _registered:
        with _secrets_lock:
            _registered = _registered | new


def _known_secrets() -> list[str]:
    values = set(_registered)
    for name in _ENV_SECRETS:
        value = os.environ.get(name)
        if value and len(value) >= _MIN_SECRET:
            values.add(value)
    spelled: set[str] = set()
    for value in values:
        spelled.add(value)
        spelled.add(quote(value, safe=""))
        spelled.add(quote(value, safe="/"))
    return sorted(spelled, key=len, reverse=True)  # longest first: no partial leftovers


def redact_text(text: str) -> str:
    """``text`` with every known secret, authorization header and signature scrubbed."""
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretFilter(logging.Filter):
    """Rewrites a log record so that its message and traceback hold no secret.

    It never drops a record (``filter`` returns True); the formatted message replaces
    ``msg`` and ``args`` only when scrubbing changed it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = SecretFilter("router.redact")
_attach_lock = threading.Lock()


def protect_library_logs(secrets: Iterable[str] = ()) -> SecretFilter:
    """Scrub ``secrets`` (and credentials, headers, signatures) from the logs of the
    storage libraries: attach the one :class:`SecretFilter` to their loggers.

    Idempotent and cheap enough to call each time an S3 backend is built, which also
    catches child loggers the libraries created since the last call.
    """
    register_secrets(secrets)
    with _attach_lock:
        manager = logging.Logger.manager
        names = set(LIBRARY_LOGGERS) | set(_KNOWN_CHILDREN)
        names.update(
            name for name in list(manager.loggerDict) if name.split(".", 1)[0] in LIBRARY_LOGGERS
        )
        for name in sorted(names):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
    return _FILTER
