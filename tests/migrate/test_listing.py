"""Sorted, streamed listings of a local directory and of S3, and their merge-join."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from router.backends import build_backend
from router.migrate import KeyRange, ObjectInfo, children, list_objects, merge_listings
from router.migrate.listing import ListingOrderError
from router.policy.model import Backend

TRICKY = [
    "certificates/a-c",
    "certificates/a.txt",
    "certificates/a/b",
    "certificates/a/b-c/d",
    "certificates/a/b0",
    "certificates/a0",
    "certificates/2025/Curaçao-東京-Δ.pdf",
    "certificates/Z",
    "certificates/\u00e9",
    "certificates/e\u0301",
    "certificates/\U0001f600.pdf",
]


def _backends(local_root: Path, s3_backend: dict[str, Any]) -> tuple[Any, Any]:
    local = build_backend("local", Backend(url=f"file://{local_root}"))
    s3 = build_backend("s3", Backend(**s3_backend))
    return local, s3


def test_local_and_s3_list_in_utf8_byte_order(
    local_root: Path, s3_backend: dict[str, Any], put_local: Any, put_s3: Any
) -> None:
    """Both backends list the same keys in UTF-8 byte order, whatever the directory layout."""
    for key in TRICKY:
        put_local(key, key.encode())
        put_s3(key, key.encode())
    local, s3 = _backends(local_root, s3_backend)
    expected = sorted(TRICKY, key=lambda k: k.encode("utf-8"))
    assert [i.key for i in list_objects(local, "certificates/")] == expected
    assert [i.key for i in list_objects(s3, "certificates/")] == expected
    sizes = {i.key: i.size for i in list_objects(s3, "certificates/")}
    assert sizes == {k: len(k.encode()) for k in TRICKY}


def test_listing_resumes_after_a_key_and_keeps_to_a_range(
    local_root: Path, s3_backend: dict[str, Any], put_local: Any, put_s3: Any
) -> None:
    """start_after, key ranges, prefixes and excluded prefixes cut both listings alike."""
    for key in TRICKY:
        put_local(key, b"x")
        put_s3(key, b"x")
    local, s3 = _backends(local_root, s3_backend)
    ordered = sorted(TRICKY)
    after = ordered[3]
    rng = KeyRange("certificates/a", "certificates/a0")
    for backend in (local, s3):
        assert [i.key for i in list_objects(backend, "certificates/", start_after=after)] == (
            ordered[4:]
        )
        assert [i.key for i in list_objects(backend, "certificates/", key_range=rng)] == [
            k for k in ordered if "certificates/a" <= k < "certificates/a0"
        ]
        assert [i.key for i in list_objects(backend, "certificates/a/")] == [
            k for k in ordered if k.startswith("certificates/a/")
        ]
        assert [
            i.key for i in list_objects(backend, "certificates/", exclude=("certificates/a/",))
        ] == [k for k in ordered if not k.startswith("certificates/a/")]


def test_partition_ranges_cover_every_key_once(
    local_root: Path, s3_backend: dict[str, Any], put_local: Any
) -> None:
    """Ranges cut at first-level names cover the listing exactly, with no overlap."""
    for key in TRICKY:
        put_local(key, b"x")
    local, _ = _backends(local_root, s3_backend)
    names = children(local, "certificates/")
    assert "certificates/a/" in names
    assert "certificates/a.txt" in names
    bounds = [None, *names[1:], None]
    seen = []
    for start, end in itertools.pairwise(bounds):
        seen += [
            i.key for i in list_objects(local, "certificates/", key_range=KeyRange(start, end))
        ]
    assert seen == sorted(TRICKY)


def test_merge_join_pairs_keys_and_refuses_unsorted_input() -> None:
    """The merge-join yields each key once with both sides, and refuses an unsorted side."""
    left = [ObjectInfo("a", 1), ObjectInfo("b", 2), ObjectInfo("d", 4)]
    right = [ObjectInfo("b", 2), ObjectInfo("c", 3)]
    merged = [(k, a is not None, b is not None) for k, a, b in merge_listings(left, right)]
    assert merged == [("a", True, False), ("b", True, True), ("c", False, True), ("d", True, False)]
    with pytest.raises(ListingOrderError):
        list(merge_listings([ObjectInfo("b", 1), ObjectInfo("a", 1)], []))
