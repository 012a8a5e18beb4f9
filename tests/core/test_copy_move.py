"""cp_file / copy / mv within a route (each side copies natively) and across routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from router import Router
from router.testing import Fault, inject_faults, s3_error

Objects = Callable[[], dict[str, bytes]]
SRC = "certificates/2025/a.pdf"
DATA = b"%PDF copy me"


def test_copy_within_a_route_copies_on_both_sides(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """In dual-write a copy lands on local and S3, the source stays."""
    fs = make_router("dual-write")
    fs.pipe_file(SRC, DATA)
    fs.cp_file(SRC, "certificates/2026/a.pdf")
    expected = {SRC: DATA, "certificates/2026/a.pdf": DATA}
    assert s3_objects() == expected
    assert local_objects() == expected
    assert list(fs.journal.entries()) == []


def test_failed_shadow_copy_is_journaled(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """The shadow's copy fails: the copy is acknowledged, the target key journaled."""
    fs = make_router("dual-write")
    fs.pipe_file(SRC, DATA)
    with inject_faults(fs, "s3", Fault("copy", error=lambda: s3_error("AccessDenied", 403))):
        fs.cp_file(SRC, "certificates/2026/a.pdf")
    entries = [(e.key, e.op, e.truth, e.stale) for e in fs.journal.entries()]
    assert entries == [("certificates/2026/a.pdf", "copy", "local", "s3")]
    assert s3_objects() == {SRC: DATA}


def test_copy_across_routes_streams_through_the_router(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """From the S3-only certificates route to the local default route."""
    fs = make_router("s3-only")
    fs.pipe_file(SRC, DATA)
    fs.cp_file(SRC, "archive/a.pdf")
    assert s3_objects() == {SRC: DATA}
    assert local_objects() == {"archive/a.pdf": DATA}


def test_copy_in_read_primary_reads_the_legacy_copy(
    make_router: Callable[..., Router], local_root: Path, s3_objects: Objects
) -> None:
    """A key only the read-only legacy side holds is copied from it to the S3 primary."""
    fs = make_router("s3-read")
    (local_root / "certificates/2025").mkdir(parents=True)
    (local_root / SRC).write_bytes(DATA)
    fs.cp_file(SRC, "certificates/2026/a.pdf")
    assert s3_objects() == {"certificates/2026/a.pdf": DATA}


def test_move_a_file_within_a_route(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """mv removes the source on both sides and writes the target on both."""
    fs = make_router("dual-write")
    fs.pipe_file(SRC, DATA)
    fs.mv(SRC, "certificates/2025/b.pdf")
    assert s3_objects() == {"certificates/2025/b.pdf": DATA}
    assert local_objects() == {"certificates/2025/b.pdf": DATA}


def test_move_a_directory_across_routes(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """mv of a directory (recursive) from the dual-write route to the default route."""
    fs = make_router("dual-write")
    keys = ["certificates/batch/1.pdf", "certificates/batch/sub/2.pdf"]
    for key in keys:
        fs.pipe_file(key, key.encode())
    fs.mv("certificates/batch", "archive/batch", recursive=True)
    moved = {k.replace("certificates/", "archive/"): k.encode() for k in keys}
    assert local_objects() == moved
    assert s3_objects() == {}
    assert fs.find("archive") == sorted(moved)
    assert not fs.exists("certificates/batch")
