"""Streaming ``open(key, "wb")``: a failing side, both failing, and nothing published when
the caller's block raises (local and S3, including an S3 multipart upload in flight)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from router.writer import SpillQueue
from tests.core.core_helpers import no_temp_files

KEY = "certificates/2025/stream.pdf"
CHUNK = bytes(range(256)) * 256  # 64 KiB
CHUNKS = 8

Objects = Callable[[], dict[str, bytes]]


class Boom(Exception):
    """The caller's own error inside the ``with`` block."""


def _stream(fs: Router, key: str = KEY, chunks: int = CHUNKS) -> None:
    with fs.open(key, "wb") as f:
        for _ in range(chunks):
            f.write(CHUNK)


def _write_then_fail(fs: Router, key: str, *chunks: bytes) -> None:
    with fs.open(key, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
        raise Boom


def _uploads(s3_client: Any, bucket: str) -> list[Any]:
    return list(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def test_stream_with_failing_shadow_is_acknowledged_and_journaled(
    make_router: Callable[..., Router],
    s3_objects: Objects,
    local_objects: Objects,
    s3_client: Any,
    bucket: str,
) -> None:
    """S3 shadow fails mid-stream: local publishes, S3 has no object or upload, journaled."""
    fs = make_router("dual-write")
    failing = Fault("write", error=lambda: s3_error("InternalError", 500))
    with capture_metrics() as seen, inject_faults(fs, "s3", failing):
        _stream(fs)
    assert local_objects() == {KEY: CHUNK * CHUNKS}
    assert s3_objects() == {}
    assert _uploads(s3_client, bucket) == []
    entries = [(e.op, e.truth, e.stale, e.error_class) for e in fs.journal.entries()]
    assert entries == [("write", "local", "s3", "transient")]
    assert seen.counts["cert.local.write.success"] == 1
    assert seen.counts["cert.s3.write.fail"] == 1


def test_stream_with_failing_primary_is_degraded(
    make_router: Callable[..., Router],
    s3_objects: Objects,
    local_objects: Objects,
    local_root: Path,
) -> None:
    """Local primary fails mid-stream: S3 publishes, degraded and journaled, no temp files."""
    fs = make_router("dual-write")
    with capture_metrics() as seen, inject_faults(fs, "local", Fault("write")):
        _stream(fs)
    assert s3_objects() == {KEY: CHUNK * CHUNKS}
    assert local_objects() == {}
    assert no_temp_files(local_root)
    assert seen.counts["cert.write.degraded"] == 1
    entries = [(e.op, e.truth, e.stale) for e in fs.journal.entries()]
    assert entries == [("write", "s3", "local")]


def test_stream_with_both_sides_failing_raises_primarys_error(
    make_router: Callable[..., Router],
    s3_objects: Objects,
    local_objects: Objects,
    local_root: Path,
) -> None:
    """Both sides fail: the primary's TimeoutError reaches the caller, nothing is stored."""
    fs = make_router("dual-write")
    with (
        inject_faults(fs, "local", Fault("write")),
        inject_faults(fs, "s3", Fault("write", error=PermissionError)),
        pytest.raises(TimeoutError),
    ):
        _stream(fs)
    assert s3_objects() == {}
    assert local_objects() == {}
    assert no_temp_files(local_root)
    assert list(fs.journal.entries()) == []


@pytest.mark.parametrize("phase", ["legacy", "dual-write", "s3-primary", "s3-only"])
def test_exception_inside_with_publishes_nothing(
    make_router: Callable[..., Router],
    s3_objects: Objects,
    local_objects: Objects,
    local_root: Path,
    s3_client: Any,
    bucket: str,
    phase: str,
) -> None:
    """An exception inside with fs.open(p, 'wb') publishes nothing anywhere, old bytes kept."""
    fs = make_router(phase)
    old = b"old certificate"
    fs.pipe_file(KEY, old)
    before = (s3_objects(), local_objects())
    big = b"x" * (9 * 2**20)  # more than one 8 MiB multipart part on S3
    with pytest.raises(Boom):
        _write_then_fail(fs, KEY, big, CHUNK)
    with pytest.raises(Boom):
        _write_then_fail(fs, "certificates/2025/new.pdf", CHUNK)
    assert (s3_objects(), local_objects()) == before
    assert fs.cat_file(KEY) == old
    assert not fs.exists("certificates/2025/new.pdf")
    assert _uploads(s3_client, bucket) == []
    assert no_temp_files(local_root)
    assert list(fs.journal.entries()) == []


def test_stream_round_trips_on_both_sides(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """A multi-chunk streaming write lands byte-exact on both sides, reported by tell()."""
    fs = make_router("dual-write")
    with fs.open(KEY, "wb") as f:
        for _ in range(CHUNKS):
            f.write(CHUNK)
        assert f.tell() == CHUNK.__len__() * CHUNKS
    assert s3_objects() == {KEY: CHUNK * CHUNKS}
    assert local_objects() == {KEY: CHUNK * CHUNKS}


def test_spill_queue_spills_past_its_memory_limit_and_keeps_order() -> None:
    """The spill queue keeps memory_limit bytes in RAM, spills the rest, returns all in order."""
    queue = SpillQueue(memory_limit=3 * len(CHUNK))
    chunks = [bytes([i]) * len(CHUNK) for i in range(10)]
    for chunk in chunks:
        queue.put(chunk)
    queue.close()
    assert queue.spilled_bytes == 7 * len(CHUNK)
    out = []
    while (chunk := queue.get()) is not None:
        out.append(chunk)
    assert out == chunks
    queue.dispose()
