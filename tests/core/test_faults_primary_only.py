"""Fault injection in primary-only phases (``s3-only``, ``legacy``): retries, the primary's
own exceptions, and no other backend ever touched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router import Router
from router.errors import classify
from router.policy.model import ErrorClass
from router.testing import Fault, capture_metrics, inject_faults, s3_error

KEY = "certificates/2025/c.pdf"
DATA = b"primary-only" * 100

Objects = Callable[[], dict[str, bytes]]


def test_transient_write_is_retried_then_succeeds(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """Two RequestTimeouts, then success: counted retry, retry, success."""
    fs = make_router("s3-only")
    flaky = Fault("write", error=lambda: s3_error("RequestTimeout", 400), times=2)
    with capture_metrics() as seen, inject_faults(fs, "s3", flaky):
        fs.pipe_file(KEY, DATA)
    assert [e["outcome"] for e in seen.ops(backend="s3", op="write")] == [
        "retry",
        "retry",
        "success",
    ]
    assert s3_objects() == {KEY: DATA}


def test_exhausted_retries_raise_the_backends_own_error_and_touch_nothing_else(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """After 3 retries s3fs's own OSError is raised; local is untouched, nothing journaled."""
    fs = make_router("s3-only")
    slow = Fault("write", error=lambda: s3_error("SlowDown", 503))
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", slow),
        inject_faults(fs, "local") as local,
        pytest.raises(OSError) as raised,
    ):
        fs.pipe_file(KEY, DATA)
    assert classify(raised.value) is ErrorClass.TRANSIENT
    assert slow.fired == 4
    assert seen.counts["cert.s3.write.retry"] == 3
    assert seen.counts["cert.s3.write.fail"] == 1
    assert local.calls.total() == 0
    assert s3_objects() == {}
    assert list(fs.journal.entries()) == []


def test_denied_is_not_retried(make_router: Callable[..., Router]) -> None:
    """AccessDenied is final: one attempt, PermissionError raised."""
    fs = make_router("s3-only")
    denied = Fault("write", error=lambda: s3_error("AccessDenied", 403))
    with inject_faults(fs, "s3", denied), pytest.raises(PermissionError):
        fs.pipe_file(KEY, DATA)
    assert denied.fired == 1


def test_missing_key_is_file_not_found_from_the_real_backend(
    make_router: Callable[..., Router],
) -> None:
    """A real NoSuchKey from S3 reaches the caller as FileNotFoundError, counted fail."""
    fs = make_router("s3-only")
    with capture_metrics() as seen, pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    (event,) = seen.ops(backend="s3", op="read")
    assert (event["outcome"], event["error_class"]) == ("fail", "not_found")


def test_read_retries_follow_the_policy(make_router: Callable[..., Router]) -> None:
    """With read retries configured, a transient read is retried on the same backend."""
    fs = make_router("legacy", fallbacks={"read": {"on": ["not_found", "transient"], "retries": 2}})
    fs.pipe_file(KEY, DATA)
    with capture_metrics() as seen, inject_faults(fs, "local", Fault("read", times=2)):
        assert fs.cat_file(KEY) == DATA
    assert seen.counts["cert.local.read.retry"] == 2
    assert seen.counts["cert.local.read.success"] == 1


def test_delete_in_primary_only_is_idempotent(
    make_router: Callable[..., Router], local_objects: Objects
) -> None:
    """Deleting a key twice on a local primary succeeds both times."""
    fs = make_router("legacy")
    fs.pipe_file(KEY, DATA)
    fs.rm_file(KEY)
    fs.rm_file(KEY)
    assert local_objects() == {}
