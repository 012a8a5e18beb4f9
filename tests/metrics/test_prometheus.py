"""The Prometheus exporter: scrape text from the real prometheus_client, parsed back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from router import Router
from router.exporters.prometheus import BUCKETS_SECONDS, RouterCollector
from router.metrics import Call, Metrics
from router.testing import Fault, inject_faults, s3_error

KEY = "certificates/2025/a.pdf"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the text exposition, keyed by (name, labels)."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**kv: str) -> frozenset[tuple[str, str]]:
    """A label set."""
    return frozenset(kv.items())


def _slow_down() -> OSError:
    return s3_error("SlowDown", 503)


def test_scenario_e_scraped_with_labels(make_router: Callable[..., Router]) -> None:
    """Scenario E scrapes as router_calls_total by route/backend/op/outcome, divergences
    and degraded ops by route/op: labels, never counter names mangled into metric names."""
    fs = make_router("s3-primary")
    registry = CollectorRegistry()
    RouterCollector(fs, registry=registry)
    with inject_faults(fs, "s3", Fault("write", _slow_down, times=4)):
        fs.pipe_file(KEY, b"pdf")
    samples = scrape(registry)
    calls = {
        dict(lbl)["backend"] + "." + dict(lbl)["outcome"]: value
        for (name, lbl), value in samples.items()
        if name == "router_calls_total"
    }
    assert calls == {"s3.retry": 3.0, "s3.fallback": 1.0, "local.success": 1.0}
    call_labels = {lbl for (name, lbl) in samples if name == "router_calls_total"}
    assert labels(route="certificates", backend="s3", op="write", outcome="retry") in call_labels
    assert samples[("router_divergences_total", labels(route="certificates", op="write"))] == 1
    assert samples[("router_degraded_ops_total", labels(route="certificates", op="write"))] == 1
    assert not any("cert" in name for name, _ in samples)


def test_latency_histogram_buckets(make_router: Callable[..., Router]) -> None:
    """router_call_duration_seconds: cumulative buckets per (route, backend, op), whose
    +Inf bucket and _count equal the number of calls, and a positive _sum."""
    fs = make_router("legacy")
    registry = CollectorRegistry()
    RouterCollector(fs, registry=registry)
    for i in range(5):
        fs.pipe_file(KEY, b"x" * i)
    samples = scrape(registry)
    series = labels(route="certificates", backend="local", op="write")
    assert samples[("router_call_duration_seconds_count", series)] == 5
    assert samples[("router_call_duration_seconds_sum", series)] > 0
    buckets = sorted(
        (float(dict(lbl)["le"]), value)
        for (name, lbl), value in samples.items()
        if name == "router_call_duration_seconds_bucket"
    )
    assert [le for le, _ in buckets] == [*BUCKETS_SECONDS, float("inf")]
    values = [value for _, value in buckets]
    assert values == sorted(values)
    assert values[-1] == 5


def test_histogram_counts_are_exact_at_bucket_edges() -> None:
    """A call of 20 µs is under le=32µs and above le=16µs; 3 ms is under le=4.096ms."""
    metrics = Metrics()
    for ms in (0.020, 3.0):
        metrics.record(
            Call("r", "r", "p", "read", "b", "primary", "success", None, 1, ms, None, None)
        )
    registry = CollectorRegistry()
    RouterCollector(metrics, registry=registry)
    samples = scrape(registry)
    bucket = {
        float(dict(lbl)["le"]): value
        for (name, lbl), value in samples.items()
        if name == "router_call_duration_seconds_bucket"
    }
    assert bucket[16e-6] == 0
    assert bucket[32e-6] == 1
    assert bucket[2.048e-3] == 1
    assert bucket[4.096e-3] == 2
    assert samples[
        ("router_call_duration_seconds_sum", labels(route="r", backend="b", op="read"))
    ] == pytest.approx(0.00302)


def test_policy_events_and_other_counters(make_router: Callable[..., Router]) -> None:
    """Policy events scrape as router_policy_events_total{event}; any other counter as
    router_counters_total{name}."""
    fs = make_router("legacy")
    registry = CollectorRegistry()
    RouterCollector(fs, registry=registry)
    fs.metrics.policy_event("reloaded", source="p.yaml", plan=fs.plan)
    fs.metrics.count("router.policy.flip_refused")
    samples = scrape(registry)
    assert samples[("router_policy_events_total", labels(event="reloaded"))] == 1
    assert samples[("router_counters_total", labels(name="router.policy.flip_refused"))] == 1


def test_namespace_and_const_labels(make_router: Callable[..., Router]) -> None:
    """namespace and const_labels let two Routers share one registry; duplicates refused."""
    first, second = make_router("legacy"), make_router("legacy")
    registry = CollectorRegistry()
    RouterCollector(first, registry=registry)
    RouterCollector(second, registry=registry, namespace="media", const_labels={"app": "web"})
    with pytest.raises(ValueError, match="Duplicated"):
        RouterCollector(first, registry=registry)
    second.pipe_file(KEY, b"x")
    samples = scrape(registry)
    series = labels(app="web", route="certificates", backend="local", op="write", outcome="success")
    assert samples[("media_calls_total", series)] == 1
    assert not any(name == "router_calls_total" for name, _ in samples)


def test_unregister_and_bad_source() -> None:
    """unregister() removes the collector; a source without metrics is a TypeError."""
    registry = CollectorRegistry()
    collector = RouterCollector(Metrics(), registry=registry)
    collector.unregister()
    RouterCollector(Metrics(), registry=registry)  # the names are free again
    with pytest.raises(TypeError, match="Router"):
        RouterCollector(object(), registry=None)


def test_registers_with_the_default_registry(make_router: Callable[..., Router]) -> None:
    """Without registry=, the collector joins prometheus_client's global REGISTRY."""
    fs = make_router("legacy")
    collector = RouterCollector(fs)
    try:
        fs.pipe_file(KEY, b"x")
        samples = scrape(REGISTRY)
        series = labels(route="certificates", backend="local", op="write", outcome="success")
        assert samples[("router_calls_total", series)] == 1
    finally:
        collector.unregister()
