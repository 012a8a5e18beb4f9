"""Item 4: the retry budget. A persistently failing backend fails the op after exactly
the policy's attempt cap — the backend libraries' own retries included (s3fs and
botocore are turned down to one attempt each) — and within the op's deadline.

Attempts are counted, not timed: by the fault that fired, by the router's counters, and
for real S3 traffic by the TCP connections a misbehaving server on 127.0.0.1 accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from router import Router
from router.errors import classify
from router.policy.model import ErrorClass
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from tests.reliability.rel_servers import BadServer

KEY = "certificates/budget.pdf"


def _s3_only(
    cert_policy: Callable[..., dict[str, Any]], op: str, fallback: dict[str, Any]
) -> dict[str, Any]:
    policy = cert_policy("s3-only")
    policy["routes"]["certificates"]["fallbacks"][op] = fallback
    return policy


OPS: dict[str, Callable[[Router], object]] = {
    "read": lambda fs: fs.cat_file(KEY),
    "write": lambda fs: fs.pipe_file(KEY, b"x"),
    "delete": lambda fs: fs.rm_file(KEY),
    "info": lambda fs: fs.info(KEY),
}


@pytest.mark.s3
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("retries", [0, 1, 3])
def test_persistent_transient_failure_stops_at_the_attempt_cap(
    op: str,
    retries: int,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
) -> None:
    """A backend timing out forever is tried exactly 1 + retries times; the op fails with a built-in TimeoutError."""
    fs = routers(
        _s3_only(cert_policy, op, {"on": ["transient"], "retries": retries, "backoff": "1ms"})
    )
    forever = Fault(op, error=lambda: s3_error("SlowDown", 503))
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", forever),
        pytest.raises(OSError) as raised,
    ):
        OPS[op](fs)
    assert forever.fired == retries + 1
    assert seen.counts[f"cert.s3.{op}.retry"] == retries
    assert seen.counts[f"cert.s3.{op}.fail"] == 1
    assert classify(raised.value) is ErrorClass.TRANSIENT
    assert type(raised.value).__module__ == "builtins"


@pytest.mark.s3
def test_deadline_cuts_the_retries_short(
    cert_policy: Callable[..., dict[str, Any]], routers: Callable[..., Router]
) -> None:
    """retries: 20 with a 200ms deadline and 20ms doubling backoff stops after a handful of attempts, not 21."""
    fallback = {"on": ["transient"], "retries": 20, "backoff": "20ms", "deadline": "200ms"}
    fs = routers(_s3_only(cert_policy, "read", fallback))
    forever = Fault("read", error=lambda: TimeoutError("injected"))
    with inject_faults(fs, "s3", forever), pytest.raises(TimeoutError):
        fs.cat_file(KEY)
    # backoff 20ms x 2^k x [0.5, 1.5): the next wait no longer fits the deadline after
    # at most 5 attempts, and at least 2 fit in any case
    assert 2 <= forever.fired <= 5


@pytest.mark.parametrize(
    "library",
    [
        pytest.param("router-defaults"),
        pytest.param("total_max_attempts-1", id="with-the-fix-in-the-policy"),
    ],
)
@pytest.mark.parametrize("retries", [0, 2])
def test_a_failing_endpoint_sees_exactly_the_policys_attempts(
    retries: int, library: str, tmp_path: Any, routers: Callable[..., Router]
) -> None:
    """A real S3 endpoint answering 503 to everything gets 1 + retries requests per op — no hidden library retries."""
    with BadServer("503") as server:
        policy = _real_s3_policy(tmp_path, server.url, retries=retries)
        if library != "router-defaults":
            config = policy["backends"]["s3"]["options"]["config_kwargs"]
            config["retries"] = {"total_max_attempts": 1, "mode": "standard"}
        fs = routers(policy)
        for op in ("read", "write", "info"):
            before = server.connections
            with capture_metrics() as seen, pytest.raises(OSError) as raised:
                OPS[op](fs)
            assert server.connections - before == retries + 1, op
            assert seen.counts[f"cert.s3.{op}.retry"] == retries
            assert classify(raised.value) is ErrorClass.TRANSIENT
            assert type(raised.value).__module__ == "builtins", type(raised.value)


def test_closed_port_fails_fast_with_a_builtin_error(
    tmp_path: Any, routers: Callable[..., Router]
) -> None:
    """An S3 endpoint on a closed 127.0.0.1 port: the read fails after 1 + retries attempts as a built-in ConnectionError, not a botocore one."""
    with BadServer("drop") as server:
        url = server.url  # bound, then closed: nothing listens there any more
    fs = routers(_real_s3_policy(tmp_path, url, retries=2))
    with capture_metrics() as seen, pytest.raises(OSError) as raised:
        fs.cat_file(KEY)
    assert seen.counts["cert.s3.read.retry"] == 2
    assert seen.counts["cert.s3.read.fail"] == 1
    assert isinstance(raised.value, ConnectionError)
    assert classify(raised.value) is ErrorClass.TRANSIENT


def test_silent_server_fails_the_op_within_its_deadline(
    tmp_path: Any, routers: Callable[..., Router]
) -> None:
    """A server that accepts and never answers fails a read with a 300ms deadline well before the 3s socket timeout."""
    with BadServer("hang") as server:
        policy = _real_s3_policy(tmp_path, server.url, retries=0, deadline="300ms", read_timeout=3)
        fs = routers(policy)
        started = time.monotonic()
        with pytest.raises(OSError):
            fs.cat_file(KEY)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0  # very loose: the deadline is 0.3s, the socket timeout 3s
    assert server.connections == 1


def _real_s3_policy(
    tmp_path: Any,
    endpoint: str,
    *,
    retries: int,
    deadline: str | None = None,
    read_timeout: int = 5,
) -> dict[str, Any]:
    fallback: dict[str, Any] = {"on": ["transient"], "retries": retries, "backoff": "1ms"}
    if deadline is not None:
        fallback["deadline"] = deadline
    return {
        "version": 1,
        "backends": {
            "s3": {
                "url": "s3://bucket/prod",
                "options": {
                    "endpoint_url": endpoint,
                    "key": "testing",
                    "secret": "testing",
                    "config_kwargs": {"connect_timeout": 2, "read_timeout": read_timeout},
                },
            }
        },
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {
            "certificates": {
                "prefix": "certificates/",
                "primary": "s3",
                "fallbacks": {op: fallback for op in ("read", "write", "info", "delete")},
                "metrics": {"prefix": "cert"},
            },
            "default": {"prefix": "", "primary": "s3"},
        },
    }
