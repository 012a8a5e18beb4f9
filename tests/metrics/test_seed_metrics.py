"""Seed scenarios A-G of PRODUCT.md: the exact counter increments and events of each.

Certificates policy on a real moto S3 server and a temp dir; faults are injected in
front of the real s3fs filesystem with router.testing. ``seen.counts`` is compared
whole, so a counter bumped by mistake fails the test as surely as a missing one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router import Router
from router.testing import Capture, Fault, capture_metrics, inject_faults, s3_error

KEY = "certificates/2025/Curaçao-東京-Δ.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"

OP_FIELDS = {
    "event",
    "route",
    "phase",
    "op",
    "backend",
    "role",
    "outcome",
    "error_class",
    "attempt",
    "duration_ms",
    "bytes",
    "key",
}


def _server_error() -> OSError:
    return s3_error("InternalError", 500)


def _slow_down() -> OSError:
    return s3_error("SlowDown", 503)


def legs(seen: Capture, backend: str | None = None) -> list[tuple[str, str, str, str | None, int]]:
    """The router.op events as (backend, role, outcome, error_class, attempt), in order
    (only ``backend``'s, if given)."""
    return [
        (e["backend"], e["role"], e["outcome"], e["error_class"], e["attempt"])
        for e in seen.named("router.op")
        if backend is None or e["backend"] == backend
    ]


def check_op_events(seen: Capture, op: str, phase: str) -> None:
    """Every router.op event has exactly the documented fields, for this op and phase."""
    for event in seen.named("router.op"):
        assert set(event) == OP_FIELDS
        assert (event["route"], event["phase"], event["op"], event["key"]) == (
            "certificates",
            phase,
            op,
            KEY,
        )
        assert isinstance(event["duration_ms"], float)
        assert event["duration_ms"] >= 0


def assert_s3_fell_back_to_local(seen: Capture, op: str, error_class: str) -> None:
    """In s3-primary, the S3 primary's one ``op`` call fell back (``error_class``) and the
    local shadow answered; every router.op event is complete."""
    assert legs(seen) == [
        ("s3", "primary", "fallback", error_class, 1),
        ("local", "shadow", "success", None, 1),
    ]
    check_op_events(seen, op, "s3-primary")


def assert_divergence_announced(
    seen: Capture, fs: Router, phase: str, op: str, *, degraded: bool
) -> None:
    """One router.divergence event (truth local, stale s3, transient) naming the one
    journal entry, with every documented field."""
    (divergence,) = seen.named("router.divergence")
    (entry,) = fs.journal.entries()
    assert divergence == {
        "event": "router.divergence",
        "route": "certificates",
        "phase": phase,
        "op": op,
        "truth": "local",
        "stale": "s3",
        "error_class": "transient",
        "degraded": degraded,
        "entry": entry.id,
        "key": KEY,
    }


def _write_slowed_down(fs: Router, times: int) -> Capture:
    """``pipe_file(KEY, PDF)`` while S3 answers SlowDown to the first ``times`` write
    calls; what the metrics saw."""
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", Fault("write", _slow_down, times=times)),
    ):
        fs.pipe_file(KEY, PDF)
    return seen


def _delete_failing_once_on_s3(fs: Router) -> Capture:
    """``rm_file(KEY)`` (after writing it) while S3 answers its first delete call with a
    500; what the metrics saw of the delete."""
    fs.pipe_file(KEY, PDF)
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", Fault("delete", _server_error, times=1)),
    ):
        fs.rm_file(KEY)
    return seen


def test_seed_a_write_retried_then_succeeds(make_router: Callable[..., Router]) -> None:
    """A: S3 primary answers SlowDown once: one retry, then success on both sides."""
    fs = make_router("s3-primary")
    seen = _write_slowed_down(fs, times=1)
    assert dict(seen.counts) == {
        "cert.s3.write.retry": 1,
        "cert.s3.write.success": 1,
        "cert.local.write.success": 1,
    }
    check_op_events(seen, "write", "s3-primary")
    assert legs(seen, "s3") == [
        ("s3", "primary", "retry", "transient", 1),
        ("s3", "primary", "success", None, 2),
    ]
    assert legs(seen, "local") == [("local", "shadow", "success", None, 1)]
    assert [e["event"] for e in seen.events if e["event"] != "router.op"] == []


def test_seed_a_single_backend_phase(make_router: Callable[..., Router]) -> None:
    """A in s3-only: the retry and the success are the only calls; local is not touched."""
    seen = _write_slowed_down(make_router("s3-only"), times=2)
    assert dict(seen.counts) == {"cert.s3.write.retry": 2, "cert.s3.write.success": 1}
    assert legs(seen) == [
        ("s3", "primary", "retry", "transient", 1),
        ("s3", "primary", "retry", "transient", 2),
        ("s3", "primary", "success", None, 3),
    ]
    check_op_events(seen, "write", "s3-only")


def test_seed_b_read_missing_on_s3_falls_back(
    make_router: Callable[..., Router], put_local: Callable[[str, bytes], None]
) -> None:
    """B: a real NoSuchKey on S3 counts s3 read fallback 1, local read success 1."""
    fs = make_router("s3-primary")
    put_local(KEY, PDF)
    with capture_metrics() as seen:
        assert fs.cat_file(KEY) == PDF
    assert dict(seen.counts) == {"cert.s3.read.fallback": 1, "cert.local.read.success": 1}
    assert_s3_fell_back_to_local(seen, "read", "not_found")
    assert [e["bytes"] for e in seen.named("router.op")] == [None, len(PDF)]


def test_seed_b_read_missing_everywhere_fails(make_router: Callable[..., Router]) -> None:
    """B, key on neither side: s3 read fallback 1, local read fail 1 (not_found)."""
    fs = make_router("s3-primary")
    with capture_metrics() as seen, pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    assert dict(seen.counts) == {"cert.s3.read.fallback": 1, "cert.local.read.fail": 1}
    assert legs(seen) == [
        ("s3", "primary", "fallback", "not_found", 1),
        ("local", "shadow", "fail", "not_found", 1),
    ]


def test_seed_c_delete_5xx_on_s3_shadow(make_router: Callable[..., Router]) -> None:
    """C (dual-write): S3 shadow delete gets a 500; local delete counted success, S3 fail,
    one divergence journaled and announced, nothing degraded."""
    fs = make_router("dual-write")
    seen = _delete_failing_once_on_s3(fs)
    assert dict(seen.counts) == {
        "cert.local.delete.success": 1,
        "cert.s3.delete.fail": 1,
        "cert.divergence.delete": 1,
    }
    assert sorted(legs(seen)) == [
        ("local", "primary", "success", None, 1),
        ("s3", "shadow", "fail", "transient", 1),
    ]
    check_op_events(seen, "delete", "dual-write")
    assert_divergence_announced(seen, fs, "dual-write", "delete", degraded=False)


def test_seed_c_delete_5xx_on_s3_primary_is_degraded(make_router: Callable[..., Router]) -> None:
    """C (s3-primary): the S3 primary's 500 is covered by delete.on, so it counts as
    fallback; local stands in; divergence and degraded are each counted once."""
    seen = _delete_failing_once_on_s3(make_router("s3-primary"))
    assert dict(seen.counts) == {
        "cert.s3.delete.fallback": 1,
        "cert.local.delete.success": 1,
        "cert.divergence.delete": 1,
        "cert.delete.degraded": 1,
    }
    (divergence,) = seen.named("router.divergence")
    assert (divergence["truth"], divergence["stale"], divergence["degraded"]) == (
        "local",
        "s3",
        True,
    )


def test_seed_d_url_falls_back_to_local(make_router: Callable[..., Router]) -> None:
    """D: signing on S3 fails; s3 url fallback 1, local url success 1, a file:// URL."""
    fs = make_router("s3-primary")
    fs.pipe_file(KEY, PDF)  # on both sides: only the signing fails
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("url", _server_error)):
        url = fs.url(KEY)
    assert url.startswith("file://")
    assert dict(seen.counts) == {"cert.s3.url.fallback": 1, "cert.local.url.success": 1}
    assert_s3_fell_back_to_local(seen, "url", "transient")


def test_seed_e_degraded_write_counted_and_journaled(make_router: Callable[..., Router]) -> None:
    """E: S3 primary write fails 4 times (1 + 3 retries), local takes it: s3 write retry 3
    and fallback 1, local success 1, cert.write.degraded 1, cert.divergence.write 1."""
    fs = make_router("s3-primary")
    seen = _write_slowed_down(fs, times=4)
    assert dict(seen.counts) == {
        "cert.s3.write.retry": 3,
        "cert.s3.write.fallback": 1,
        "cert.local.write.success": 1,
        "cert.write.degraded": 1,
        "cert.divergence.write": 1,
    }
    assert legs(seen, "s3") == [
        ("s3", "primary", "retry", "transient", 1),
        ("s3", "primary", "retry", "transient", 2),
        ("s3", "primary", "retry", "transient", 3),
        ("s3", "primary", "fallback", "transient", 4),
    ]
    assert legs(seen, "local") == [("local", "shadow", "success", None, 1)]
    check_op_events(seen, "write", "s3-primary")
    assert_divergence_announced(seen, fs, "s3-primary", "write", degraded=True)
    # the divergence is announced after both legs were recorded
    assert seen.events[-1]["event"] == "router.divergence"


def test_seed_e_streaming_write_counts_like_pipe(make_router: Callable[..., Router]) -> None:
    """E through fs.open(..., "wb"): the failed S3 leg is a fallback, the write degraded."""
    fs = make_router("s3-primary")
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", Fault("write", _slow_down)),
        fs.open(KEY, "wb") as f,
    ):
        f.write(PDF)
    assert dict(seen.counts) == {
        "cert.s3.write.fallback": 1,
        "cert.local.write.success": 1,
        "cert.write.degraded": 1,
        "cert.divergence.write": 1,
    }
    assert [e["bytes"] for e in seen.ops(backend="local")] == [len(PDF)]


def test_seed_f_read_primary_touches_only_s3(
    make_router: Callable[..., Router], put_local: Callable[[str, bytes], None]
) -> None:
    """F: in s3-read, S3 serves the read: s3 read success 1 and no local call at all."""
    fs = make_router("s3-read")
    fs.pipe_file(KEY, PDF)  # read-primary writes go to S3 only
    put_local(KEY, b"stale legacy copy")
    with capture_metrics() as seen, inject_faults(fs, "local") as local:
        assert fs.cat_file(KEY) == PDF
    assert dict(seen.counts) == {"cert.s3.read.success": 1}
    assert legs(seen) == [("s3", "primary", "success", None, 1)]
    check_op_events(seen, "read", "s3-read")
    assert seen.named("router.op")[0]["bytes"] == len(PDF)
    assert sum(local.calls.values()) == 0


def test_seed_g_size_on_s3_fails_local_answers(
    make_router: Callable[..., Router], put_local: Callable[[str, bytes], None]
) -> None:
    """G: info on S3 times out; info.on is [any]: s3 info fallback 1, local success 1."""
    fs = make_router("s3-primary")
    put_local(KEY, PDF)
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("info")):
        assert fs.size(KEY) == len(PDF)
    assert dict(seen.counts) == {"cert.s3.info.fallback": 1, "cert.local.info.success": 1}
    assert_s3_fell_back_to_local(seen, "info", "transient")


def test_uncovered_error_class_counts_fail_not_fallback(
    make_router: Callable[..., Router], put_local: Callable[[str, bytes], None]
) -> None:
    """A read error class that read.on does not name is a fail: no shadow is tried."""
    fs = make_router("s3-primary")
    put_local(KEY, PDF)
    denied = Fault("read", lambda: s3_error("AccessDenied", 403))
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", denied),
        pytest.raises(PermissionError),
    ):
        fs.cat_file(KEY)
    assert dict(seen.counts) == {"cert.s3.read.fail": 1}
    assert legs(seen) == [("s3", "primary", "fail", "denied", 1)]


def test_keys_off_omits_key_from_every_event(make_router: Callable[..., Router]) -> None:
    """With metrics: {keys: false}, router.op and router.divergence carry no key at all."""
    seen = _write_slowed_down(make_router("s3-primary", keys=False), times=4)
    assert seen.named("router.op")
    assert seen.named("router.divergence")
    for event in seen.events:
        assert "key" not in event
        assert KEY not in repr(event)
    assert {frozenset(e) for e in seen.named("router.op")} == {frozenset(OP_FIELDS - {"key"})}


def test_registry_matches_capture(make_router: Callable[..., Router]) -> None:
    """fs.metrics.counts() holds the same increments capture_metrics saw."""
    fs = make_router("s3-primary")
    fs.metrics.reset()  # the Router's own `router.policy.loaded` came before the capture
    seen = _write_slowed_down(fs, times=4)
    assert fs.metrics.counts() == dict(seen.counts)


def test_disabled_metrics_record_nothing(make_router: Callable[..., Router]) -> None:
    """Router(metrics=False): no counter, no event, an empty snapshot; the op still works."""
    fs = make_router("s3-primary", metrics=False)
    seen = _write_slowed_down(fs, times=4)
    assert fs.cat_file(KEY) == PDF
    assert seen.counts == {}
    assert seen.events == []
    assert fs.metrics.snapshot() == {"counters": {}, "histograms": []}
    assert len(list(fs.journal.entries())) == 1  # journaling does not depend on metrics
