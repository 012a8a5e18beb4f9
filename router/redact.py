"""Keep secrets out of everything the router prints: logs, errors, reprs, CLI output."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "is_secret_name", "redact_options", "redact_url"]

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
