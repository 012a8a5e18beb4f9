"""Fault injection in read-primary (phase ``s3-read``: S3 primary, local read-only legacy):
read fallbacks by error class, mutations on the primary only, delete tombstones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from router import Router
from router.testing import Fault, capture_metrics, inject_faults, s3_error

KEY = "certificates/2019/legacy.pdf"
DATA = b"legacy certificate"

Objects = Callable[[], dict[str, bytes]]


def _legacy(root: Path, key: str = KEY, data: bytes = DATA) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_transient_read_falls_back_to_legacy(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """S3 answers 503 for a key it has: the read falls back to local."""
    fs = make_router("s3-read")
    fs.pipe_file(KEY, b"s3 copy")
    _legacy(local_root)
    slow = Fault("read", error=lambda: s3_error("SlowDown", 503))
    with capture_metrics() as seen, inject_faults(fs, "s3", slow):
        assert fs.cat_file(KEY) == DATA
    assert seen.counts["cert.s3.read.fallback"] == 1
    assert seen.counts["cert.local.read.success"] == 1


def test_denied_read_does_not_fall_back(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """read.on does not name denied: PermissionError, and local is never asked."""
    fs = make_router("s3-read")
    _legacy(local_root)
    denied = Fault("read", error=lambda: s3_error("AccessDenied", 403))
    with (
        inject_faults(fs, "s3", denied),
        inject_faults(fs, "local") as local,
        pytest.raises(PermissionError),
    ):
        fs.cat_file(KEY)
    assert local.calls.total() == 0


def test_info_falls_back_on_any_error_class(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """info.on is [any]: even a denied HEAD on S3 is answered by local."""
    fs = make_router("s3-read")
    _legacy(local_root)
    denied = Fault("info", error=lambda: s3_error("AccessDenied", 403))
    with inject_faults(fs, "s3", denied):
        assert fs.info(KEY)["size"] == len(DATA)


def test_failed_write_never_goes_to_the_legacy_side(
    make_router: Callable[..., Router], local_objects: Objects
) -> None:
    """A write failing on the primary raises and never touches the read-only legacy side."""
    fs = make_router("s3-read")
    slow = Fault("write", error=lambda: s3_error("SlowDown", 503))
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", slow),
        inject_faults(fs, "local") as local,
        pytest.raises(OSError),
    ):
        fs.pipe_file(KEY, DATA)
    assert seen.counts["cert.s3.write.retry"] == 3
    assert seen.counts["cert.s3.write.fail"] == 1
    assert local.calls.total() == 0
    assert local_objects() == {}
    assert list(fs.journal.entries()) == []


@pytest.mark.parametrize("on_s3", [True, False], ids=["on-both", "legacy-only"])
def test_delete_tombstones_the_legacy_copy(
    make_router: Callable[..., Router],
    local_root: Path,
    s3_objects: Objects,
    local_objects: Objects,
    on_s3: bool,
) -> None:
    """Deleting a key legacy holds journals it (truth s3) and reads never resurrect it."""
    fs = make_router("s3-read")
    if on_s3:
        fs.pipe_file(KEY, DATA)
    _legacy(local_root)
    fs.rm_file(KEY)
    assert s3_objects() == {}
    assert local_objects() == {KEY: DATA}  # read-only legacy: repair removes it later
    entries = [(e.op, e.truth, e.stale) for e in fs.journal.entries()]
    assert entries == [("delete", "s3", "local")]
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    assert not fs.exists(KEY)


def test_delete_of_a_key_legacy_lacks_journals_nothing(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """Deleting a key only S3 holds needs no tombstone."""
    fs = make_router("s3-read")
    fs.pipe_file(KEY, DATA)
    fs.rm_file(KEY)
    assert s3_objects() == {}
    assert list(fs.journal.entries()) == []
