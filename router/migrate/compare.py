"""Whether two objects agree: by size, by comparable checksums, or by hashing content.

Three levels (``check``):

- ``size``: sizes only;
- ``etag`` (the default): sizes, then checksums where both sides give a comparable
  one without a request per object: two S3 single-part ETags (MD5s) are compared as
  they are; an S3 single-part ETag against a local file compares with the file's MD5
  (read from the local disk). Equal multipart ETags (same parts) count as equal. A
  mismatch is confirmed by hashing both sides before it is reported (an ETag of a
  KMS-encrypted object is not an MD5). Anything else is equal by size, and counted as
  ``unchecked``;
- ``checksum``: sha256 of the content of both sides, streamed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from router.backends import BackendFS
from router.migrate.listing import ObjectInfo
from router.migrate.transfer import hash_object

__all__ = ["CHECKS", "Check", "Comparison", "Difference", "compare"]

Check = Literal["size", "etag", "checksum"]
CHECKS: tuple[Check, ...] = ("size", "etag", "checksum")

DifferenceKind = Literal["missing", "extra", "size", "content", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One way two backends disagree about a key (a row of the JSON-lines report).

    ``kind``: ``missing`` (the source has it, the target does not), ``extra`` (the
    target has it, the source does not), ``size``, ``content``, ``error`` (it could
    not be compared: ``detail`` says why), ``skipped`` (a local name no other backend
    can hold).
    """

    kind: str
    key: str
    source: str
    target: str
    source_size: int | None = None
    target_size: int | None = None
    source_checksum: str | None = None
    target_checksum: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing one key present on both sides."""

    equal: bool
    how: str
    """What was compared: ``size``, ``etag``, ``md5``, ``sha256`` or ``empty``."""
    kind: str | None = None
    """``size`` or ``content`` when not equal."""
    source_checksum: str | None = None
    target_checksum: str | None = None


def _hashable_cheaply(backend: BackendFS) -> bool:
    return backend.writes_atomically  # a real local disk: no request per object


def _by_hash(
    source: BackendFS, a: ObjectInfo, target: BackendFS, b: ObjectInfo, algorithm: str
) -> Comparison:
    ha = hash_object(source, a.key, a.size, algorithm)
    hb = hash_object(target, b.key, b.size, algorithm)
    how = "sha256" if algorithm == "sha256" else algorithm
    return Comparison(ha == hb, how, None if ha == hb else "content", ha, hb)


def compare(
    source: BackendFS, a: ObjectInfo, target: BackendFS, b: ObjectInfo, check: Check = "etag"
) -> Comparison:
    """Compare the source's ``a`` with the target's ``b`` (same key) at level ``check``."""
    if a.size != b.size:
        return Comparison(False, "size", "size")
    if a.size == 0:
        return Comparison(True, "empty")  # nothing else to compare
    if check == "size":
        return Comparison(True, "size")
    if check == "checksum":
        return _by_hash(source, a, target, b, "sha256")
    ma, mb = a.md5, b.md5
    if ma is not None and mb is not None:
        if ma == mb:
            return Comparison(True, "etag", source_checksum=ma, target_checksum=mb)
        return _by_hash(source, a, target, b, "md5")
    if a.etag is not None and a.etag == b.etag:
        return Comparison(True, "etag", source_checksum=a.etag, target_checksum=b.etag)
    if ma is not None and _hashable_cheaply(target):
        mb = hash_object(target, b.key, b.size, "md5")
        if ma == mb:
            return Comparison(True, "md5", source_checksum=ma, target_checksum=mb)
        return _by_hash(source, a, target, b, "md5")
    if mb is not None and _hashable_cheaply(source):
        ma = hash_object(source, a.key, a.size, "md5")
        if ma == mb:
            return Comparison(True, "md5", source_checksum=ma, target_checksum=mb)
        return _by_hash(source, a, target, b, "md5")
    return Comparison(True, "size")
