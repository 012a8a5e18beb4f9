"""Item 5: truncated bodies and short reads — the router returns the whole object or an
error, never short data.

Below HTTP: a proxy in front of the moto server forwards every S3 response but cuts the
body of chosen GETs short (the Content-Length header stays). Above the library: a
filesystem wrapper whose read handle stops early, as a buggy or non-HTTP backend could.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.errors import classify
from router.policy.model import ErrorClass
from router.testing import FaultyFileSystem
from tests.reliability.rel_servers import TruncatingProxy

pytestmark = pytest.mark.s3

KEY = "certificates/2025/long.pdf"
DATA = bytes(range(256)) * 800  # 200 KiB


def _policy(tmp_path: Path, endpoint: str, bucket: str, retries: int) -> dict[str, Any]:
    return {
        "version": 1,
        "backends": {
            "s3": {
                "url": f"s3://{bucket}/prod",
                "options": {"endpoint_url": endpoint, "key": "testing", "secret": "testing"},
            },
        },
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {
            "default": {
                "prefix": "",
                "primary": "s3",
                "fallbacks": {"read": {"on": ["transient"], "retries": retries, "backoff": "1ms"}},
            }
        },
    }


READS: dict[str, Callable[[Router], bytes]] = {
    "cat_file": lambda fs: fs.cat_file(KEY),
    "open-read": lambda fs: _read_all(fs),
    "range": lambda fs: fs.cat_file(KEY, start=1000, end=150_000),
}


def _read_all(fs: Router) -> bytes:
    with fs.open(KEY, "rb") as handle:
        return bytes(handle.read())


def _expected(name: str) -> bytes:
    return DATA[1000:150_000] if name == "range" else DATA


@pytest.fixture
def proxy(moto_server: str, bucket: str, s3_client: Any) -> Iterator[TruncatingProxy]:
    """A truncating proxy in front of the moto server, on which KEY holds DATA."""
    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=DATA)
    with TruncatingProxy(moto_server) as running:
        yield running


@pytest.fixture
def router_via_proxy(
    proxy: TruncatingProxy, bucket: str, tmp_path: Path, routers: Callable[..., Router]
) -> Callable[..., Router]:
    """A factory: a Router on the bucket through ``proxy``, with ``retries`` read retries;
    from then on the proxy cuts the body of the next ``truncate`` GETs short."""

    def make(*, retries: int, truncate: int) -> Router:
        fs = routers(_policy(tmp_path, proxy.url, bucket, retries))
        proxy.truncate = truncate
        return fs

    return make


@pytest.mark.parametrize("name", list(READS))
@pytest.mark.parametrize("cuts", [1, 2])
def test_truncated_body_is_retried_to_the_whole_object(
    name: str,
    cuts: int,
    proxy: TruncatingProxy,
    router_via_proxy: Callable[..., Router],
) -> None:
    """Bodies cut short on the wire are retried (transient); the caller gets every byte."""
    fs = router_via_proxy(retries=3, truncate=cuts)
    assert READS[name](fs) == _expected(name)
    assert proxy.truncated == cuts  # the cuts really happened


@pytest.mark.parametrize("name", list(READS))
def test_body_truncated_every_time_is_an_error_not_short_data(
    name: str,
    proxy: TruncatingProxy,
    router_via_proxy: Callable[..., Router],
) -> None:
    """When every response is cut, the read fails — it never returns the partial bytes."""
    fs = router_via_proxy(retries=1, truncate=10**6)
    try:
        got = READS[name](fs)
    except Exception:
        pass  # an error is a correct answer here (its type: see the next test)
    else:
        assert got == _expected(name), f"short data: {len(got)} of {len(_expected(name))} bytes"
    assert proxy.truncated >= 1


@pytest.mark.parametrize("name", list(READS))
def test_truncated_body_error_is_a_builtin_transient_error(
    name: str,
    proxy: TruncatingProxy,
    router_via_proxy: Callable[..., Router],
) -> None:
    """The error for a body cut every time is a built-in OSError of class transient, as the router promises."""
    fs = router_via_proxy(retries=1, truncate=10**6)
    with pytest.raises(OSError) as raised:
        READS[name](fs)
    assert classify(raised.value) is ErrorClass.TRANSIENT
    assert type(raised.value).__module__ == "builtins"


# -- a backend whose read handle stops early ---------------------------------------------


class _ShortFile(io.RawIOBase):
    """A read handle that reports the real size but ends after ``keep`` bytes."""

    def __init__(self, inner: Any, keep: int) -> None:
        super().__init__()
        self.inner = inner
        self.size = inner.size
        self.keep = keep
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        room = max(0, self.keep - self.served)
        data = self.inner.read(min(len(buffer), room))
        buffer[: len(data)] = data
        self.served += len(data)
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


class ShortReads(FaultyFileSystem):  # type: ignore[misc]
    """Opens for reading return a handle that stops after half the object."""

    def open(self, path: str, mode: str = "rb", **kw: Any) -> Any:
        handle = super().open(path, mode, **kw)
        if "r" in mode:
            return _ShortFile(handle, keep=int(handle.size) // 2)
        return handle


def test_read_handle_that_stops_early_is_an_error(
    tmp_path: Path, routers: Callable[..., Router]
) -> None:
    """A backend read handle ending before the object's size makes the read fail, not return short data."""
    (tmp_path / "media").mkdir()
    policy = {
        "version": 1,
        "backends": {"local": {"url": f"file://{tmp_path / 'media'}"}},
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {"default": {"prefix": "", "primary": "local"}},
    }
    fs = routers(policy)
    fs.pipe_file(KEY, DATA)
    backend = fs.backends["local"]
    backend.fs = ShortReads(backend.fs)
    try:
        got = _read_all(fs)
    except OSError:
        return
    assert got == DATA, f"short data: {len(got)} of {len(DATA)} bytes"
