"""Listings and directories through the router: union listings, route directories, names
in the router's namespace, trailing slashes, mkdir/rmdir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router import Router

Objects = Callable[[], dict[str, bytes]]
DIRECTORY = "certificates/2025"


def _put_s3(s3_client: Any, bucket: str, key: str, data: bytes) -> None:
    s3_client.put_object(Bucket=bucket, Key=f"prod/{key}", Body=data)


def test_union_listing_merges_the_shadow_and_the_primary_info_wins(
    make_router: Callable[..., Router], s3_client: Any, bucket: str
) -> None:
    """list: {union: true} merges the shadow's entries; the primary's info wins on a clash."""
    fs = make_router("dual-write", fallbacks={"list": {"union": True}})
    fs.pipe_file(f"{DIRECTORY}/both.pdf", b"local size")
    _put_s3(s3_client, bucket, f"{DIRECTORY}/both.pdf", b"a different, longer S3 body")
    _put_s3(s3_client, bucket, f"{DIRECTORY}/s3-only.pdf", b"s3")
    listing = {e["name"]: e for e in fs.ls(DIRECTORY)}
    assert set(listing) == {f"{DIRECTORY}/both.pdf", f"{DIRECTORY}/s3-only.pdf"}
    assert listing[f"{DIRECTORY}/both.pdf"]["size"] == len(b"local size")


def test_listing_without_union_is_the_primarys_alone(
    make_router: Callable[..., Router], s3_client: Any, bucket: str
) -> None:
    """Without ``union`` a listing shows the primary's entries only."""
    fs = make_router("dual-write")
    fs.pipe_file(f"{DIRECTORY}/both.pdf", b"x")
    _put_s3(s3_client, bucket, f"{DIRECTORY}/s3-only.pdf", b"s3")
    assert fs.ls(DIRECTORY, detail=False) == [f"{DIRECTORY}/both.pdf"]


@pytest.mark.parametrize("phase", ["legacy", "dual-write", "s3-primary", "s3-read", "s3-only"])
def test_directories_are_seen_in_every_phase(
    make_router: Callable[..., Router], phase: str, local_root: Path, bucket: str
) -> None:
    """Route directories exist, list, glob and walk alike in every phase, in router names."""
    fs = make_router(phase)
    keys = [f"{DIRECTORY}/a.pdf", f"{DIRECTORY}/deep/b.pdf"]
    for key in keys:
        fs.pipe_file(key, b"pdf")
    assert fs.isdir("certificates")
    assert fs.info("certificates")["type"] == "directory"
    assert fs.isdir(DIRECTORY)
    assert fs.isdir(f"{DIRECTORY}/")
    assert fs.isfile(keys[0])
    assert "certificates" in fs.ls("", detail=False)
    assert fs.ls(DIRECTORY, detail=False) == [keys[0], f"{DIRECTORY}/deep"]
    assert fs.ls(f"{DIRECTORY}/", detail=False) == fs.ls(DIRECTORY, detail=False)
    assert fs.find("certificates") == keys
    assert fs.glob("certificates/**/*.pdf") == keys
    assert [root for root, _, _ in fs.walk("certificates")] == [
        "certificates",
        DIRECTORY,
        f"{DIRECTORY}/deep",
    ]
    names = [e["name"] for e in fs.find("", detail=True, withdirs=True).values()]
    assert all(str(local_root) not in n and bucket not in n for n in names)


def test_mkdir_and_rmdir_on_the_sides_that_have_directories(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """mkdir creates a local directory (S3 has none to create); rmdir removes it."""
    fs = make_router("dual-write")
    fs.mkdir("certificates/empty")
    assert (local_root / "certificates" / "empty").is_dir()
    assert fs.isdir("certificates/empty")
    assert fs.ls("certificates/empty") == []
    fs.rmdir("certificates/empty")
    assert not (local_root / "certificates" / "empty").exists()
    assert not fs.exists("certificates/empty")


def test_missing_directory_is_not_found(make_router: Callable[..., Router]) -> None:
    """Listing or stat-ing what exists on no side is FileNotFoundError."""
    fs = make_router("dual-write")
    with pytest.raises(FileNotFoundError):
        fs.ls("certificates/nothing-here")
    with pytest.raises(FileNotFoundError):
        fs.info("certificates/nothing-here")
    assert not fs.isdir("certificates/nothing-here")
