"""Keys: the router's own names for objects, normalized once, checked before any I/O.

A key is a relative, ``/``-separated path such as ``certificates/2025/a.pdf``. It keeps
its whole path on every backend (``ROOT/certificates/2025/a.pdf``). Normalization only
strips the ``router://`` protocol and a trailing ``/``; everything that could escape a
backend root or alias another key is *refused*, never rewritten:

- ``..`` and ``.`` segments, empty segments (``a//b``), a leading ``/``;
- backslashes, NUL and other control characters (C0 and C1: CR, LF, TAB, DEL,
  U+0080 to U+009F) and the line/paragraph separators U+2028, U+2029;
- lone surrogates (undecodable bytes smuggled in by ``surrogateescape``);
- keys over 1024 UTF-8 bytes, or a segment over 255 bytes.

Unicode is kept exactly as given: NFC and NFD spellings are different keys.
"""

from __future__ import annotations

import re

from router.errors import KeyRejected

__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "join", "normalize_key", "parent"]

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
PROTOCOL = "router://"

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")


def normalize_key(path: str, *, allow_root: bool = True) -> str:
    """The canonical key for ``path``, or :class:`KeyRejected`."""
    if not isinstance(path, str):
        raise KeyRejected(path, "a key is a string")
    key = path[len(PROTOCOL) :] if path.startswith(PROTOCOL) else path
    if key.startswith("/"):
        raise KeyRejected(path, "absolute paths are not keys; drop the leading '/'")
    key = key.rstrip("/")
    if not key:
        if allow_root:
            return ""
        raise KeyRejected(path, "the empty key names no object")
    bad = _BAD_CHARS.search(key)
    if bad is not None:
        char = bad.group(0)
        what = "backslash" if char == "\\" else f"control character {char!r}"
        raise KeyRejected(path, f"{what} is not allowed in a key")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyRejected(path, "key is not valid Unicode (undecodable bytes)") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise KeyRejected(path, f"key is {len(encoded)} bytes; the limit is {MAX_KEY_BYTES}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            shown = segment or "an empty segment"
            raise KeyRejected(path, f"{shown!s} is not allowed as a path segment")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise KeyRejected(path, f"a segment is over {MAX_SEGMENT_BYTES} bytes")
    return key


def join(directory: str, name: str) -> str:
    """``directory/name``, where ``directory`` may be the root ``""``."""
    return f"{directory}/{name}" if directory else name


def parent(key: str) -> str:
    """The directory key holding ``key`` (``""`` at the top)."""
    return key.rpartition("/")[0]
