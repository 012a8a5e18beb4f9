"""Which errors fall back: every S3 error code and library exception gets exactly the policy's action."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.errors import classify, translate
from router.policy.model import ErrorClass
from router.testing import Fault, inject_faults, s3_error


def _botocore(name: str) -> Callable[[], BaseException]:
    """An untranslated botocore exception, as raised under s3fs."""

    def make() -> BaseException:
        from botocore import exceptions

        if name == "EndpointConnectionError":
            return exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        if name == "ReadTimeoutError":
            return exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:1")
        return exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1")

    return make


def _aiohttp(name: str) -> Callable[[], BaseException]:
    """An untranslated aiohttp exception."""

    def make() -> BaseException:
        import aiohttp

        if name == "ServerDisconnectedError":
            return aiohttp.ServerDisconnectedError()
        return aiohttp.ClientPayloadError("payload truncated")

    return make


CASES: list[tuple[str, Callable[[], BaseException], ErrorClass]] = [
    ("NoSuchKey", lambda: s3_error("NoSuchKey", 404), ErrorClass.NOT_FOUND),
    ("404", lambda: s3_error("404", 404), ErrorClass.NOT_FOUND),
    ("AccessDenied", lambda: s3_error("AccessDenied", 403), ErrorClass.DENIED),
    ("403", lambda: s3_error("403", 403), ErrorClass.DENIED),
    ("500 InternalError", lambda: s3_error("InternalError", 500), ErrorClass.TRANSIENT),
    ("503 SlowDown", lambda: s3_error("SlowDown", 503), ErrorClass.TRANSIENT),
    ("RequestTimeout", lambda: s3_error("RequestTimeout", 400), ErrorClass.TRANSIENT),
    ("unknown code 400", lambda: s3_error("WeirdNewCode", 400), ErrorClass.OTHER),
    ("unknown code 502", lambda: s3_error("WeirdNewCode", 502), ErrorClass.TRANSIENT),
    ("EndpointConnectionError", _botocore("EndpointConnectionError"), ErrorClass.TRANSIENT),
    ("ReadTimeoutError", _botocore("ReadTimeoutError"), ErrorClass.TRANSIENT),
    ("ConnectionClosedError", _botocore("ConnectionClosedError"), ErrorClass.TRANSIENT),
    ("ServerDisconnectedError", _aiohttp("ServerDisconnectedError"), ErrorClass.TRANSIENT),
    ("ClientPayloadError", _aiohttp("ClientPayloadError"), ErrorClass.TRANSIENT),
    ("FileNotFoundError", lambda: FileNotFoundError(errno.ENOENT, "gone"), ErrorClass.NOT_FOUND),
    ("PermissionError", lambda: PermissionError(errno.EACCES, "no"), ErrorClass.DENIED),
    ("TimeoutError", lambda: TimeoutError("slow"), ErrorClass.TRANSIENT),
    ("ConnectionResetError", lambda: ConnectionResetError("reset"), ErrorClass.TRANSIENT),
    ("ValueError", lambda: ValueError("bug"), ErrorClass.OTHER),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_classify(name: str, make: Callable[[], BaseException], expected: ErrorClass) -> None:
    """Each error maps to its class (s3fs-translated errors by their botocore code)."""
    assert classify(make()) is expected


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_translate_keeps_cause_and_builtin_type(
    name: str, make: Callable[[], BaseException], expected: ErrorClass
) -> None:
    """Library exceptions become the matching built-in, with the original as __cause__."""
    original = make()
    translated = translate(original, "k")
    if expected is ErrorClass.OTHER and not isinstance(original, OSError):
        assert translated is original
        return
    assert isinstance(translated, OSError)
    assert translated is original or translated.__cause__ is original
    assert classify(translated) is expected
    if expected is ErrorClass.NOT_FOUND:
        assert isinstance(translated, FileNotFoundError)
    if expected is ErrorClass.DENIED:
        assert isinstance(translated, PermissionError)


POLICY_ON = {"not_found", "transient"}  # the certificates policy's read fallback


@pytest.mark.s3
@pytest.mark.parametrize(("name", "make", "expected"), CASES[:14], ids=[c[0] for c in CASES[:14]])
def test_read_fallback_follows_policy(
    name: str,
    make: Callable[[], BaseException],
    expected: ErrorClass,
    cert_policy: Callable[..., dict[str, Any]],
    local_root: Path,
) -> None:
    """An S3 read failure falls back to local exactly when its class is in fallbacks.read.on."""
    key = "certificates/table.pdf"
    (local_root / "certificates").mkdir()
    (local_root / "certificates" / "table.pdf").write_bytes(b"local copy")
    with (
        Router.from_dict(cert_policy("s3-read")) as fs,
        inject_faults(fs, "s3", Fault("read", make)),
    ):
        if expected.value in POLICY_ON:
            assert fs.cat_file(key) == b"local copy"
        else:
            with pytest.raises(OSError) as caught:
                fs.cat_file(key)
            assert classify(caught.value) is expected
            if expected is ErrorClass.DENIED:
                assert isinstance(caught.value, PermissionError)


@pytest.mark.s3
def test_denied_falls_back_only_when_named(
    cert_policy: Callable[..., dict[str, Any]], local_root: Path
) -> None:
    """403 does not fall back under [not_found, transient], and does once `denied` is named."""
    key = "certificates/d.pdf"
    (local_root / "certificates").mkdir()
    (local_root / "certificates" / "d.pdf").write_bytes(b"local")
    policy = cert_policy("s3-read")
    with (
        Router.from_dict(policy) as fs,
        inject_faults(fs, "s3", Fault("read", lambda: s3_error("AccessDenied", 403))),
        pytest.raises(PermissionError),
    ):
        fs.cat_file(key)
    policy["routes"]["certificates"]["fallbacks"]["read"]["on"].append("denied")
    with (
        Router.from_dict(policy) as fs,
        inject_faults(fs, "s3", Fault("read", lambda: s3_error("AccessDenied", 403))),
    ):
        assert fs.cat_file(key) == b"local"
