"""Moving one object: stat, stream, copy (verified), delete, hash — constant memory.

Requests per object on S3 (``s3fs.S3FileSystem`` backends; wrappers and other
filesystems take the generic fsspec path). They are sent from the calling worker
thread with a synchronous botocore client built from the s3fs filesystem's settings
(:mod:`router.migrate.s3direct`), or through s3fs when that client cannot mirror them:

- reading an object: one ``GetObject`` per 8 MiB range, the first of which also gives
  the content type, user metadata and ETag (later ranges are pinned to that ETag with
  ``If-Match``, so a copy never mixes two versions) — no HEAD;
- writing an object of at most 8 MiB: one ``PutObject`` with ``Content-MD5``; S3
  refuses a body that does not match, and the returned ETag is checked against the
  MD5 of what was sent (unless the bucket encrypts with KMS/SSE-C, whose ETags are not
  MD5s) — so a verified copy costs one request. A local source is read with one
  ``read`` into one buffer, hashed once and sent as it is;
- writing a larger object: a multipart upload of 8 MiB parts (larger when the object
  needs more than 10,000), one part in memory at a time, each sent with
  ``Content-MD5`` and its ETag checked; the size is checked before the upload is
  completed and the upload is aborted on any failure, so nothing torn is published;
  then the object's ETag is checked against the MD5 of the parts' MD5s (one HEAD to
  check the size instead where that ETag cannot be checked). Without a direct client,
  s3fs's multipart writer does the same upload and one HEAD checks the size.

Local writes go through :func:`router.sinks.open_sink` (temp file, fsync, rename).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fsspec.asyn import sync
from fsspec.implementations.local import LocalFileSystem

from router.backends import BackendFS
from router.migrate.listing import ObjectInfo, is_s3fs
from router.migrate.s3direct import S3Direct, call_s3, direct_for
from router.sinks import WRITE_BLOCK, Sink, open_sink

__all__ = [
    "RANGE",
    "BandwidthLimiter",
    "CopyResult",
    "VerifyFailed",
    "copy_object",
    "delete_object",
    "hash_object",
    "parse_rate",
    "read_object",
    "stat_object",
]

RANGE = 8 * 2**20
"""Bytes per ranged GET, the largest object sent as one PUT, and the multipart part size."""
LOCAL_CHUNK = 2**20
MAX_PARTS = 10_000
"""S3's limit on the parts of one multipart upload."""
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-\d+$")

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?(?:/s)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_rate(text: str) -> float:
    """Bytes per second from ``10M``, ``512K``, ``1.5G``, ``10MiB``, ``2000`` (binary units)."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a rate; use e.g. 10M, 512K or 2000 (bytes/s)")
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value <= 0:
        raise ValueError(f"{text!r}: the rate must be above 0")
    return value


class BandwidthLimiter:
    """A token bucket shared by every copy of a run: at most ``rate`` bytes/s on average."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(rate, 64 * 1024))
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, nbytes: int) -> None:
        """Block until ``nbytes`` may pass."""
        if nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class VerifyFailed(OSError):
    """A copy landed but does not match its source (size or checksum)."""


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a verified copy did."""

    key: str
    bytes: int
    verified: str
    """``etag`` (S3 checked the MD5), ``parts`` (multipart: S3 checked each part's MD5
    and the object's ETag is theirs), ``checksum`` (sha256 both sides) or ``size``."""


# -- stat -----------------------------------------------------------------------------


def _s3_location(backend: BackendFS, key: str) -> tuple[str, str]:
    bucket, _, base = backend.root.partition("/")
    return bucket, f"{base}/{key}" if base else key


def _is_local(backend: BackendFS) -> bool:
    return isinstance(backend.fs, LocalFileSystem)


def stat_object(backend: BackendFS, key: str) -> ObjectInfo | None:
    """The object at ``key`` now (one HEAD on S3, a stat locally), or None if absent."""
    path = backend.path(key)
    if is_s3fs(backend):
        bucket, s3key = _s3_location(backend, key)
        try:
            head = call_s3(backend, "head_object", Bucket=bucket, Key=s3key)
        except FileNotFoundError:
            return None
        return ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            etag=str(head.get("ETag", "")).strip('"') or None,
            mtime=head["LastModified"].timestamp() if head.get("LastModified") else None,
            content_type=head.get("ContentType"),
            metadata=dict(head.get("Metadata") or {}),
        )
    if _is_local(backend):
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not os.path.isfile(path):
            return None
        return ObjectInfo(key=key, size=st.st_size, mtime=st.st_mtime)
    try:
        info = backend.fs.info(path)
    except FileNotFoundError:
        return None
    if info.get("type") == "directory":
        return None
    etag = info.get("ETag") or info.get("etag")
    return ObjectInfo(
        key=key,
        size=int(info.get("size") or 0),
        etag=str(etag).strip('"') if etag else None,
        content_type=info.get("ContentType"),
    )


# -- read -----------------------------------------------------------------------------


@dataclass
class ObjectStream:
    """An object being read: its chunks, plus what the first response said about it."""

    chunks: Iterator[bytes]
    content_type: str | None = None
    metadata: dict[str, str] | None = None
    etag: str | None = None

    def close(self) -> None:
        """Stop reading (closes the underlying file)."""
        close = getattr(self.chunks, "close", None)
        if callable(close):
            close()


async def _s3_get(fs: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    response = await fs._call_s3("get_object", **kwargs)
    body = response.pop("Body")
    try:
        data = await body.read()
    finally:
        body.close()
    return response, data


def _get(backend: BackendFS, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """One ``GetObject``: (the response's headers, the body read whole)."""
    direct = direct_for(backend)
    if direct is None:
        fs: Any = backend.fs
        return sync(fs.loop, _s3_get, fs, kwargs)  # type: ignore[no-any-return]
    response = direct.call("get_object", **kwargs)
    body = response.pop("Body")
    try:
        data = body.read()
    finally:
        body.close()
    return response, data


def _read_s3(backend: BackendFS, key: str, size: int) -> ObjectStream:
    bucket, s3key = _s3_location(backend, key)
    first: dict[str, Any] = {"Bucket": bucket, "Key": s3key}
    if size > RANGE:
        first["Range"] = f"bytes=0-{RANGE - 1}"
    head, data = _get(backend, first)
    etag = str(head.get("ETag", "")).strip('"') or None
    pending = [data]
    del data

    def chunks() -> Iterator[bytes]:
        part = pending.pop()  # held by the stream until read, not after
        offset = len(part)
        yield part
        del part
        while offset < size:
            end = min(offset + RANGE, size) - 1
            kwargs: dict[str, Any] = {
                "Bucket": bucket,
                "Key": s3key,
                "Range": f"bytes={offset}-{end}",
            }
            if etag:
                kwargs["IfMatch"] = f'"{etag}"'
            _, part = _get(backend, kwargs)
            if not part:
                return
            offset += len(part)
            yield part
            del part

    return ObjectStream(
        chunks(),
        content_type=head.get("ContentType"),
        metadata=dict(head.get("Metadata") or {}),
        etag=etag,
    )


def _read_file(opener: Callable[[], Any], chunk: int, size: int) -> Iterator[bytes]:
    """Reads of at most ``chunk`` bytes, sized by the ``size`` expected so that a file
    of that size takes one read plus one that finds its end (and a grown file shows)."""
    with opener() as handle:
        got = 0
        while True:
            data = handle.read(chunk if got > size else min(chunk, size - got + 1))
            if not data:
                return
            got += len(data)
            yield data
            del data  # one chunk alive at a time: not this one while reading the next


def read_object(backend: BackendFS, key: str, size: int, chunk: int = LOCAL_CHUNK) -> ObjectStream:
    """Stream the object at ``key`` (``size`` as listed) in bounded chunks.

    ``chunk`` is the size of a read from a file (S3 is read in 8 MiB ranges).
    """
    if is_s3fs(backend):
        return _read_s3(backend, key, size)
    path = backend.path(key)
    if _is_local(backend):
        return ObjectStream(_read_file(lambda: open(path, "rb", buffering=0), chunk, size))
    return ObjectStream(_read_file(lambda: backend.fs.open(path, "rb"), chunk, size))


def hash_object(backend: BackendFS, key: str, size: int, algorithm: str = "sha256") -> str:
    """Hex digest of the object's content, streamed."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    stream = read_object(backend, key, size)
    try:
        for chunk in stream.chunks:
            digest.update(chunk)
    finally:
        stream.close()
    return digest.hexdigest()


# -- write ----------------------------------------------------------------------------


class _S3Sink:
    """s3fs's multipart writer with extra request parameters (ContentType, Metadata)."""

    def __init__(self, backend: BackendFS, path: str, extra: dict[str, Any]) -> None:
        self.file = backend.fs.open(path, "wb", block_size=WRITE_BLOCK, **extra)

    def write(self, data: bytes | memoryview) -> int:
        return int(self.file.write(data))

    def commit(self) -> None:
        self.file.close()

    def abort(self) -> None:
        try:
            self.file.discard()
        finally:
            with contextlib.suppress(AttributeError):
                self.file.closed = True


def _extra(stream: ObjectStream, source: BackendFS, target: BackendFS) -> dict[str, Any]:
    """Content type and user metadata, kept where both backends keep them (S3 → S3)."""
    if not (source.is_s3 and target.is_s3):
        return {}
    extra: dict[str, Any] = {}
    if stream.content_type:
        extra["ContentType"] = stream.content_type
    if stream.metadata:
        extra["Metadata"] = dict(stream.metadata)
    return extra


def _unverifiable_etag(response: dict[str, Any]) -> bool:
    return response.get("ServerSideEncryption") == "aws:kms" or bool(
        response.get("SSECustomerAlgorithm")
    )


def copy_object(
    source: BackendFS,
    target: BackendFS,
    info: ObjectInfo,
    *,
    checksum: bool = False,
    limiter: BandwidthLimiter | None = None,
) -> CopyResult:
    """Copy ``info.key`` from ``source`` to ``target``, all or nothing, and verify it.

    Raises :class:`VerifyFailed` when the copy does not match (the source changed
    while it was copied, or the target holds something else), or the backend's error.
    """
    key = info.key
    to_s3 = is_s3fs(target)
    direct = direct_for(target) if to_s3 else None
    # one read per S3 body: a PUT's whole object, or one multipart part
    chunk = RANGE if to_s3 and (direct is not None or info.size <= RANGE) else LOCAL_CHUNK
    stream = read_object(source, key, info.size, chunk)
    sha = hashlib.sha256() if checksum else None
    sent = 0

    def counted() -> Iterator[bytes]:
        nonlocal sent
        for data in stream.chunks:
            if limiter is not None:
                for offset in range(0, len(data), LOCAL_CHUNK):
                    limiter.acquire(min(LOCAL_CHUNK, len(data) - offset))
            if sha is not None:
                sha.update(data)
            sent += len(data)
            if sent > info.size:  # grown since it was listed: stop before reading more
                _check_size(key, sent, info.size)
            yield data
            del data

    try:
        extra = _extra(stream, source, target)
        if to_s3 and info.size <= RANGE:
            pieces = list(counted())
            body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            del pieces
            _check_size(key, sent, info.size)
            verified = _put_small(target, key, body, extra)
        elif direct is not None:
            verified = _put_multipart(
                direct, target, key, counted(), extra, info.size, lambda: sent
            )
        else:
            _write_streamed(target, key, counted(), extra, info.size, lambda: sent)
            verified = "size"
    finally:
        stream.close()
    if sha is not None and verified != "etag":
        got = hash_object(target, key, info.size)
        if got != sha.hexdigest():
            raise VerifyFailed(
                f"{key}: sha256 of the copy on {target.name} differs from the source"
            )
        verified = "checksum"
    return CopyResult(key=key, bytes=sent, verified=verified)


def _check_size(key: str, sent: int, expected: int) -> None:
    if sent != expected:
        raise VerifyFailed(
            f"{key}: read {sent} bytes but the listing said {expected}; "
            "the source changed during the copy"
        )


def _content_md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _etag_of(response: dict[str, Any]) -> str:
    return str(response.get("ETag", "")).strip('"')


def _put_small(target: BackendFS, key: str, data: bytes, extra: dict[str, Any]) -> str:
    bucket, s3key = _s3_location(target, key)
    md5 = hashlib.md5(data, usedforsecurity=False)
    response = call_s3(
        target,
        "put_object",
        Bucket=bucket,
        Key=s3key,
        Body=data,
        ContentMD5=_content_md5(md5.digest()),
        **extra,
    )
    if _unverifiable_etag(response):
        return "size"  # S3 checked Content-MD5 on receipt; the ETag is not an MD5
    etag = _etag_of(response)
    if etag != md5.hexdigest():
        raise VerifyFailed(f"{key}: {target.name} stored ETag {etag}, expected {md5.hexdigest()}")
    return "etag"


def part_size(size: int) -> int:
    """Bytes per part of a multipart upload of ``size`` bytes: 8 MiB, or more (whole
    MiB) when 8 MiB parts would be more than S3's 10,000."""
    needed = -(-size // MAX_PARTS)
    return max(RANGE, -(-needed // 2**20) * 2**20)


def _parts(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` regrouped into pieces of ``size`` bytes (the last one shorter);
    chunks that already have that size pass through uncopied."""
    pending = bytearray()
    for data in chunks:
        if not pending and len(data) == size:
            yield data
            del data
            continue
        pending += data
        del data
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


def _put_multipart(
    direct: S3Direct,
    target: BackendFS,
    key: str,
    chunks: Iterator[bytes],
    extra: dict[str, Any],
    size: int,
    sent: Callable[[], int],
) -> str:
    """A multipart upload, one part in memory at a time, completed only when every part
    was accepted with its MD5 and the size is right; aborted on any failure."""
    bucket, s3key = _s3_location(target, key)
    upload = direct.call("create_multipart_upload", Bucket=bucket, Key=s3key, **extra)
    upload_id = upload["UploadId"]
    parts: list[dict[str, Any]] = []
    digests: list[bytes] = []
    number = 0
    try:
        # not enumerate(): its reused result tuple would keep the last part alive
        # while the next one is read
        for part in _parts(chunks, part_size(size)):
            number += 1
            md5 = hashlib.md5(part, usedforsecurity=False)
            response = direct.call(
                "upload_part",
                Bucket=bucket,
                Key=s3key,
                UploadId=upload_id,
                PartNumber=number,
                Body=part,
                ContentMD5=_content_md5(md5.digest()),
            )
            del part
            etag = _etag_of(response)
            if not _unverifiable_etag(response) and etag != md5.hexdigest():
                raise VerifyFailed(
                    f"{key}: {target.name} stored part {number} with ETag {etag}, "
                    f"expected {md5.hexdigest()}"
                )
            parts.append({"PartNumber": number, "ETag": response["ETag"]})
            digests.append(md5.digest())
        _check_size(key, sent(), size)
        response = direct.call(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=s3key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
    except BaseException:
        with contextlib.suppress(Exception):
            direct.call("abort_multipart_upload", Bucket=bucket, Key=s3key, UploadId=upload_id)
        raise
    etag = _etag_of(response)
    expected = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
    if not _unverifiable_etag(response):
        if etag == expected:
            return "parts"
        if _MULTIPART_ETAG.match(etag):
            raise VerifyFailed(f"{key}: {target.name} stored ETag {etag}, expected {expected}")
    _check_landed(target, key, size)  # an ETag this cannot check: check the size
    return "size"


def _check_landed(target: BackendFS, key: str, size: int) -> None:
    landed = stat_object(target, key)
    if landed is None or landed.size != size:
        got = "nothing" if landed is None else f"{landed.size} bytes"
        raise VerifyFailed(f"{key}: {target.name} holds {got} after the copy, expected {size}")


def _write_streamed(
    target: BackendFS,
    key: str,
    chunks: Iterator[bytes],
    extra: dict[str, Any],
    size: int,
    sent: Callable[[], int],
) -> None:
    path = target.path(key)
    sink: Sink = (
        _S3Sink(target, path, extra) if extra and is_s3fs(target) else open_sink(target, path)
    )
    try:
        for data in chunks:
            sink.write(data)
        _check_size(key, sent(), size)
    except BaseException:
        sink.abort()
        raise
    sink.commit()
    _check_landed(target, key, size)


# -- delete ---------------------------------------------------------------------------


def delete_object(backend: BackendFS, key: str) -> bool:
    """Delete ``key``; False when it was already absent."""
    try:
        backend.fs.rm_file(backend.path(key))
    except FileNotFoundError:
        return False
    return True
