"""Item 6: read-after-write across Router instances and other clients — no stale cache.

s3fs caches listings by default (``exists()``/``ls()`` then miss another client's write);
the router turns that cache off. Every check below first *populates* whatever a cache
could hold (ls, exists, info), then changes the bucket from elsewhere, then looks again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from router import Router

pytestmark = pytest.mark.s3

DIR = "certificates/2025"
KEY = f"{DIR}/raw.pdf"


def _look(fs: Router) -> tuple[bool, list[str], bytes | None]:
    """exists, the directory listing and the content, as the router sees them."""
    try:
        listed = sorted(fs.ls(DIR, detail=False))
    except FileNotFoundError:
        listed = []
    try:
        content: bytes | None = fs.cat_file(KEY)
    except FileNotFoundError:
        content = None
    return fs.exists(KEY), listed, content


def _populate_caches(fs: Router) -> None:
    _look(fs)
    fs.ls("certificates", detail=True)
    fs.exists(DIR)


@pytest.mark.parametrize("phase", ["s3-only", "s3-read", "s3-primary"])
def test_another_clients_writes_are_visible(
    phase: str,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    s3_client: Any,
    bucket: str,
) -> None:
    """Objects written, overwritten and deleted with boto3 directly are seen at once by exists/ls/info/cat."""
    fs = routers(cert_policy(phase))
    s3_client.put_object(Bucket=bucket, Key=f"prod/{DIR}/other.pdf", Body=b"x")
    _populate_caches(fs)
    assert _look(fs) == (False, [f"{DIR}/other.pdf"], None)

    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=b"one")
    assert _look(fs) == (True, [f"{DIR}/other.pdf", KEY], b"one")
    assert fs.info(KEY)["size"] == 3

    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=b"second")
    assert _look(fs) == (True, [f"{DIR}/other.pdf", KEY], b"second")
    assert fs.info(KEY)["size"] == 6
    with fs.open(KEY, "rb") as handle:
        assert handle.read() == b"second"

    s3_client.delete_object(Bucket=bucket, Key=f"prod/{KEY}")
    assert _look(fs) == (False, [f"{DIR}/other.pdf"], None)


def test_writes_of_one_router_are_visible_to_another(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    s3_client: Any,
    bucket: str,
) -> None:
    """Two Router instances on one policy (two processes' worth): each sees the other's writes and deletes at once."""
    writer, reader = routers(cert_policy("s3-primary")), routers(cert_policy("s3-primary"))
    _populate_caches(reader)
    assert _look(reader) == (False, [], None)
    writer.pipe_file(KEY, b"from the writer")
    assert _look(reader) == (True, [KEY], b"from the writer")
    with writer.open(KEY, "wb") as out:
        out.write(b"streamed ")
        out.write(b"overwrite")
    assert _look(reader) == (True, [KEY], b"streamed overwrite")
    reader.pipe_file(KEY, b"back from the reader")
    assert _look(writer) == (True, [KEY], b"back from the reader")
    writer.rm_file(KEY)
    assert _look(reader) == (False, [], None)
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="prod/").get("KeyCount") == 0


def test_own_writes_are_visible_through_the_same_router(
    cert_policy: Callable[..., dict[str, Any]], routers: Callable[..., Router]
) -> None:
    """The router's own write, overwrite and delete are visible to its next exists/ls/cat (s3-only)."""
    fs = routers(cert_policy("s3-only"))
    _populate_caches(fs)
    fs.pipe_file(KEY, b"a")
    assert _look(fs) == (True, [KEY], b"a")
    fs.pipe_file(KEY, b"bb")
    assert _look(fs) == (True, [KEY], b"bb")
    fs.rm_file(KEY)
    assert _look(fs) == (False, [], None)


def test_a_listings_cache_in_the_policy_would_hide_writes(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    s3_client: Any,
    bucket: str,
) -> None:
    """Control: with s3fs's listings cache turned back on, the same check sees the stale listing (the test can fail)."""
    policy = cert_policy("s3-only")
    policy["backends"]["s3"]["options"]["use_listings_cache"] = True
    fs = routers(policy)
    s3_client.put_object(Bucket=bucket, Key=f"prod/{DIR}/other.pdf", Body=b"x")
    _populate_caches(fs)
    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=b"one")
    assert KEY not in fs.ls(DIR, detail=False)  # what the router's default prevents
