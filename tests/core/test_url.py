"""url(): presigned on S3, file:// locally, never a URL to an object that is not there."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from router import Router


def fetch(url: str) -> bytes:
    """GET a presigned URL on the loopback moto server."""
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url) as response:
        return bytes(response.read())


@pytest.mark.s3
def test_url_falls_back_for_a_key_only_local_holds(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """In s3-primary, a not-yet-copied key gets its local URL, not a presigned 404."""
    (local_root / "certificates").mkdir()
    (local_root / "certificates" / "old.pdf").write_bytes(b"old")
    fs = make_router("s3-primary")
    url = fs.url("certificates/old.pdf")
    assert url.startswith("file://")
    assert Path(urllib.parse.unquote(url[len("file://") :])).read_bytes() == b"old"


@pytest.mark.s3
def test_url_presigns_an_object_s3_holds(make_router: Callable[..., Router]) -> None:
    """In s3-primary, a key S3 holds gets a presigned URL that serves its bytes."""
    fs = make_router("s3-primary")
    fs.pipe_file("certificates/new.pdf", b"new")
    assert fetch(fs.url("certificates/new.pdf")) == b"new"


@pytest.mark.s3
def test_url_expiry_is_capped_by_the_backend(
    cert_policy: Callable[..., dict[str, object]],
) -> None:
    """A requested expiry above the backend's max_url_expiry is cut down to it."""
    policy = cert_policy("s3-only")
    policy["backends"]["s3"]["max_url_expiry"] = "1h"  # type: ignore[index]
    with Router.from_dict(policy) as fs:
        fs.pipe_file("certificates/x.pdf", b"x")
        url = fs.url("certificates/x.pdf", expiration=30 * 24 * 3600)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    lifetime = int(query["Expires"][0]) - time.time()  # SigV2 query auth: an epoch second
    assert 3000 < lifetime <= 3600


def test_url_refuses_non_positive_expiry(tmp_path: Path) -> None:
    """expiration=0 is a caller mistake, reported as ValueError."""
    with Router.from_dict(
        {
            "version": 1,
            "backends": {"a": {"url": f"file://{tmp_path}"}},
            "routes": {"d": {"prefix": "", "primary": "a"}},
        }
    ) as fs:
        fs.pipe_file("x", b"1")
        with pytest.raises(ValueError, match="positive"):
            fs.url("x", expiration=0)
