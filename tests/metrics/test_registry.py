"""The in-process registry: counters, histograms, snapshot, events to structlog."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from router import Router
from router.metrics import Call, Metrics, bucket_upper_ms
from router.plan import route_key
from router.testing import Fault, capture_metrics, inject_faults

KEY = "certificates/2025/a.pdf"


def _call(outcome: str = "success", ms: float = 1.0, **over: Any) -> Call:
    fields: dict[str, Any] = {
        "route": "certificates",
        "prefix": "cert",
        "phase": "dual-write",
        "op": "read",
        "backend": "s3",
        "role": "primary",
        "outcome": outcome,
        "error_class": None,
        "attempt": 1,
        "duration_ms": ms,
        "bytes": 10,
        "key": KEY,
    }
    fields.update(over)
    return Call(**fields)


def test_snapshot_is_json_with_quantiles() -> None:
    """snapshot() is plain JSON data: counters by name, p50/p95/p99 per histogram."""
    metrics = Metrics()
    for ms in [1.0] * 90 + [10.0] * 9 + [100.0]:
        metrics.record(_call(ms=ms))
    metrics.record(_call("fail", ms=5.0, error_class="transient"))
    snapshot = json.loads(json.dumps(metrics.snapshot()))
    assert snapshot["counters"] == {"cert.s3.read.success": 100, "cert.s3.read.fail": 1}
    (histogram,) = snapshot["histograms"]
    assert histogram["route"] == "certificates"
    assert (histogram["backend"], histogram["op"], histogram["count"]) == ("s3", "read", 101)
    # a quantile is the upper edge of its bucket: within 9% above the true value
    assert 1.0 <= histogram["p50_ms"] <= 1.0 * 2 ** (1 / 8)
    assert 10.0 <= histogram["p95_ms"] <= 10.0 * 2 ** (1 / 8)
    assert 10.0 <= histogram["p99_ms"] <= 10.0 * 2 ** (1 / 8)
    assert histogram["mean_ms"] == pytest.approx((90 + 90 + 100 + 5) / 101, abs=1e-3)


def test_histogram_bucket_edges() -> None:
    """Bucket i of the histogram ends at 2**((i+1)/8) µs."""
    assert bucket_upper_ms(0) == pytest.approx(2 ** (1 / 8) / 1000)
    assert bucket_upper_ms(79) == pytest.approx(1.024)


def test_counts_are_exact_under_threads() -> None:
    """Eight threads recording at once, while another reads snapshots, lose no increment."""
    metrics = Metrics()
    barrier = threading.Barrier(9)
    done = threading.Event()
    snapshots: list[int] = []

    def work() -> None:
        barrier.wait()
        for i in range(2000):
            metrics.record(_call("success" if i % 2 else "retry", ms=0.5 + i % 7))

    def read() -> None:
        barrier.wait()
        while not done.is_set():
            snapshots.append(sum(metrics.counts().values()))

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert metrics.counts() == {"cert.s3.read.success": 8000, "cert.s3.read.retry": 8000}
    (histogram,) = metrics.snapshot()["histograms"]
    assert histogram["count"] == 16000
    assert snapshots == sorted(snapshots)  # a reader never sees a count go back
    assert all(0 <= n <= 16000 for n in snapshots)


def test_reset_forgets_everything() -> None:
    """reset() empties counters and histograms."""
    metrics = Metrics()
    metrics.record(_call())
    metrics.count("cert.divergence.write", family="divergences", labels={"route": "c"})
    metrics.reset()
    assert metrics.snapshot() == {"counters": {}, "histograms": []}


def test_unknown_outcome_is_refused() -> None:
    """An outcome outside success/retry/fallback/fail is a programming error."""
    with pytest.raises(ValueError, match="unknown outcome"):
        Metrics().record(_call("maybe"))


def test_snapshot_of_a_router(make_router: Callable[..., Router]) -> None:
    """fs.metrics.snapshot() after real ops: counts per backend, a histogram per leg."""
    fs = make_router("dual-write")
    fs.pipe_file(KEY, b"x" * 4096)
    assert fs.cat_file(KEY) == b"x" * 4096
    snapshot = fs.metrics.snapshot()
    json.dumps(snapshot)
    assert snapshot["counters"] == {
        "router.policy.loaded": 1,
        "cert.local.write.success": 1,
        "cert.s3.write.success": 1,
        "cert.local.read.success": 1,
    }
    assert [(h["backend"], h["op"], h["count"]) for h in snapshot["histograms"]] == [
        ("local", "read", 1),
        ("local", "write", 1),
        ("s3", "write", 1),
    ]
    for h in snapshot["histograms"]:
        assert 0 < h["p50_ms"] <= h["p95_ms"] <= h["p99_ms"]


def test_route_without_prefix_uses_its_name(
    local_root: Path, tmp_path: Path, put_local: Callable[[str, bytes], None]
) -> None:
    """A route without metrics.prefix names its counters after the route."""
    policy = {
        "version": 1,
        "backends": {"local": {"url": f"file://{local_root}"}},
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {"avatars": {"prefix": "avatars/", "primary": "local"}},
    }
    put_local("avatars/me.png", b"png")
    with Router.from_dict(policy) as fs, capture_metrics() as seen:
        assert fs.cat_file("avatars/me.png") == b"png"
    assert dict(seen.counts) == {"avatars.local.read.success": 1}
    assert seen.named("router.op")[0]["phase"] == "default"


@pytest.mark.usefixtures("reset_structlog")
def test_events_go_to_structlog_when_configured(make_router: Callable[..., Router]) -> None:
    """A configured structlog receives router.op at debug with the event's fields."""
    fs = make_router("legacy")
    with capture_logs() as logs:
        fs.pipe_file(KEY, b"pdf")
    (entry,) = logs
    assert entry["event"] == "router.op"
    assert entry["log_level"] == "debug"
    assert (entry["backend"], entry["outcome"], entry["key"], entry["bytes"]) == (
        "local",
        "success",
        KEY,
        None,
    )


@pytest.mark.usefixtures("reset_structlog")
def test_structlog_level_filter_is_respected(make_router: Callable[..., Router]) -> None:
    """An application logging at info does not get router.op, but gets divergences."""
    fs = make_router("dual-write")
    seen: list[dict[str, Any]] = []

    def keep(_: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append({"level": method, **event})
        raise structlog.DropEvent

    structlog.configure(processors=[keep], wrapper_class=structlog.make_filtering_bound_logger(20))
    with inject_faults(fs, "s3", Fault("write", times=4)):
        fs.pipe_file(KEY, b"pdf")
    assert [(e["level"], e["event"]) for e in seen] == [("warning", "router.divergence")]


@pytest.mark.usefixtures("reset_structlog")
def test_unconfigured_structlog_prints_nothing(
    make_router: Callable[..., Router], capsys: pytest.CaptureFixture[str]
) -> None:
    """With structlog unconfigured the library writes nothing to stdout or stderr."""
    fs = make_router("legacy")
    fs.pipe_file(KEY, b"pdf")
    assert fs.cat_file(KEY) == b"pdf"
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "")


def test_policy_event_helper(make_router: Callable[..., Router]) -> None:
    """policy_event counts router.policy.<event> and emits it with the plan's phases."""
    fs = make_router("dual-write")
    fs.metrics.reset()  # forget the Router's own `loaded` event
    with capture_metrics() as seen:
        fs.metrics.policy_event("loaded", source="policy.yaml", plan=fs.plan)
        fs.metrics.policy_event(
            "reload_failed", source="policy.yaml", reason="invalid policy", problems=["x"]
        )
    assert dict(seen.counts) == {"router.policy.loaded": 1, "router.policy.reload_failed": 1}
    loaded, failed = seen.events
    assert loaded == {
        "event": "router.policy.loaded",
        "source": "policy.yaml",
        "routes": {
            "certificates": {"phase": "dual-write", "rollout": None},
            "default": {"phase": "default", "rollout": None},
        },
    }
    assert failed == {
        "event": "router.policy.reload_failed",
        "source": "policy.yaml",
        "reason": "invalid policy",
        "problems": ["x"],
    }
    assert fs.metrics.counts()["router.policy.loaded"] == 1
    with pytest.raises(ValueError, match="unknown policy event"):
        fs.metrics.policy_event("exploded", source="x")  # type: ignore[arg-type]


def test_policy_event_reports_rollouts(cert_policy: Any) -> None:
    """A route ramping to another phase shows its target and percent."""
    policy = cert_policy("dual-write", {"to": "s3-primary", "percent": 12.5})
    with Router.from_dict(policy) as fs, capture_metrics() as seen:
        fs.metrics.policy_event("reloaded", source="<dict>", plan=fs.plan, changed_routes=[])
    (event,) = seen.events
    assert event["routes"]["certificates"] == {
        "phase": "dual-write",
        "rollout": {"to": "s3-primary", "percent": 12.5},
    }


def test_divergence_helper_fields(make_router: Callable[..., Router]) -> None:
    """Metrics.divergence counts divergence (and degraded) and emits router.divergence."""
    fs = make_router("s3-primary")
    decision = route_key(fs.plan, KEY)
    assert decision is not None
    with capture_metrics() as seen:
        fs.metrics.divergence(
            decision,
            "delete",
            KEY,
            truth="local",
            stale="s3",
            error_class="transient",
            degraded=False,
            entry="e1",
        )
    assert dict(seen.counts) == {"cert.divergence.delete": 1}
    assert seen.events == [
        {
            "event": "router.divergence",
            "route": "certificates",
            "phase": "s3-primary",
            "op": "delete",
            "truth": "local",
            "stale": "s3",
            "error_class": "transient",
            "degraded": False,
            "entry": "e1",
            "key": KEY,
        }
    ]


def test_capture_stops_at_block_end(make_router: Callable[..., Router]) -> None:
    """Calls after the with block are not captured; nested captures both see inner calls."""
    fs = make_router("legacy")
    with capture_metrics() as outer:
        with capture_metrics() as inner:
            fs.pipe_file(KEY, b"1")
        fs.pipe_file(KEY, b"2")
    fs.pipe_file(KEY, b"3")
    assert inner.counts == {"cert.local.write.success": 1}
    assert outer.counts == {"cert.local.write.success": 2}
    assert len(outer.ops(backend="local", outcome="success")) == 2
