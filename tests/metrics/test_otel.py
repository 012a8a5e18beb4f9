"""The OpenTelemetry exporter, checked with the SDK's in-memory span exporter and
metric reader: a span per routed op, a child span per leg, the counters as OTel metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from router import Router
from router.exporters.otel import DURATION_BUCKETS_SECONDS, instrument, uninstrument
from router.testing import Fault, inject_faults, s3_error

KEY = "certificates/2025/a.pdf"
PDF = b"%PDF-1.7 certificate"


@dataclass
class Otel:
    """An SDK tracer provider and meter provider, both exporting to memory."""

    tracer_provider: TracerProvider
    spans: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        """The spans ended so far."""
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """The data points of metric ``name``, by attribute set."""
        data = self.reader.get_metrics_data()
        found: dict[frozenset[tuple[str, Any]], Any] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            found[frozenset((point.attributes or {}).items())] = point
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    """In-memory OpenTelemetry SDK providers, shut down after the test."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(tracer_provider, spans, meter_provider, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def traced(make_router: Callable[..., Router], otel: Otel) -> Callable[..., Router]:
    """A factory of Routers instrumented with the in-memory providers."""

    def make(phase: str, **options: Any) -> Router:
        fs = make_router(phase, **options)
        instrument(fs, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
        return fs

    return make


def _slow_down() -> OSError:
    return s3_error("SlowDown", 503)


def by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    """Spans by name (names are unique in these tests)."""
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})


def test_scenario_e_op_span_with_a_child_per_leg(traced: Callable[..., Router], otel: Otel) -> None:
    """E: one router.write span (outcome degraded) with two children: the S3 leg
    (fallback after 3 retry events, status ERROR) and the local shadow leg (success)."""
    fs = traced("s3-primary")
    with inject_faults(fs, "s3", Fault("write", _slow_down, times=4)):
        fs.pipe_file(KEY, PDF)
    spans = by_name(otel.finished())
    assert set(spans) == {"router.write", "router.write s3", "router.write local"}
    op, s3, local = spans["router.write"], spans["router.write s3"], spans["router.write local"]
    assert attrs(op) == {
        "router.route": "certificates",
        "router.phase": "s3-primary",
        "router.op": "write",
        "router.key": KEY,
        "router.divergence": True,
        "router.outcome": "degraded",
    }
    assert op.parent is None
    assert op.status.status_code is not StatusCode.ERROR
    for leg in (s3, local):
        assert leg.parent is not None
        assert leg.parent.span_id == op.context.span_id
        assert leg.context.trace_id == op.context.trace_id
    assert attrs(s3) == {
        "router.route": "certificates",
        "router.phase": "s3-primary",
        "router.op": "write",
        "router.backend": "s3",
        "router.role": "primary",
        "router.key": KEY,
        "router.outcome": "fallback",
        "router.error_class": "transient",
        "router.attempts": 4,
        "error.type": "OSError",
    }
    assert s3.status.status_code is StatusCode.ERROR
    assert [(e.name, dict(e.attributes or {})) for e in s3.events] == [
        ("retry", {"router.attempt": n, "router.error_class": "transient"}) for n in (1, 2, 3)
    ]
    assert attrs(local)["router.role"] == "shadow"
    assert attrs(local)["router.outcome"] == "success"
    assert local.status.status_code is not StatusCode.ERROR


def test_scenario_b_read_span_names_the_answering_backend(
    traced: Callable[..., Router], otel: Otel, put_local: Callable[[str, bytes], None]
) -> None:
    """B: router.read succeeds with router.backend=local; the S3 leg is a not_found
    fallback, the local leg a success with the bytes it served."""
    fs = traced("s3-primary")
    put_local(KEY, PDF)
    assert fs.cat_file(KEY) == PDF
    spans = by_name(otel.finished())
    assert attrs(spans["router.read"])["router.outcome"] == "success"
    assert attrs(spans["router.read"])["router.backend"] == "local"
    s3 = attrs(spans["router.read s3"])
    assert (s3["router.outcome"], s3["router.error_class"]) == ("fallback", "not_found")
    local = attrs(spans["router.read local"])
    assert (local["router.outcome"], local["router.bytes"]) == ("success", len(PDF))


def test_failed_op_span_is_an_error(traced: Callable[..., Router], otel: Otel) -> None:
    """A read that fails everywhere: the op span has status ERROR, outcome fail, the
    error class of the primary, and the exception recorded (keys are allowed here)."""
    fs = traced("s3-primary")
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    op = by_name(otel.finished())["router.read"]
    assert op.status.status_code is StatusCode.ERROR
    assert attrs(op)["router.outcome"] == "fail"
    assert attrs(op)["router.error_class"] == "not_found"
    assert attrs(op)["error.type"] == "FileNotFoundError"
    assert [e.name for e in op.events] == ["exception"]


def test_keys_off_keeps_keys_out_of_spans(traced: Callable[..., Router], otel: Otel) -> None:
    """With metrics: {keys: false} no span carries the key, nor an exception message."""
    fs = traced("s3-primary", keys=False)
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    spans = otel.finished()
    assert len(spans) == 3
    for span in spans:
        assert "router.key" not in attrs(span)
        assert span.events == () or all(e.name != "exception" for e in span.events)
        assert KEY not in repr(attrs(span))


def test_leg_span_is_current_during_the_backend_call(
    traced: Callable[..., Router], otel: Otel, put_local: Callable[[str, bytes], None]
) -> None:
    """A span started inside the backend call (here by the fault) nests under the leg."""
    fs = traced("s3-primary")
    put_local(KEY, PDF)
    inner_tracer = otel.tracer_provider.get_tracer("test")

    def failing_inside_a_span() -> OSError:
        with inner_tracer.start_as_current_span("inside s3"):
            return TimeoutError("slow")

    with inject_faults(fs, "s3", Fault("read", failing_inside_a_span)):
        assert fs.cat_file(KEY) == PDF
    spans = by_name(otel.finished())
    inner = spans["inside s3"]
    assert inner.parent is not None
    assert inner.parent.span_id == spans["router.read s3"].context.span_id


def test_metrics_mirror_the_registry(traced: Callable[..., Router], otel: Otel) -> None:
    """E as OTel metrics: router.calls by route/backend/op/outcome equal fs.metrics'
    counters; router.call.duration holds one point per call in seconds."""
    fs = traced("s3-primary")
    with inject_faults(fs, "s3", Fault("write", _slow_down, times=4)):
        fs.pipe_file(KEY, PDF)
    calls = {
        (dict(a)["backend"], dict(a)["outcome"]): p.value
        for a, p in otel.points("router.calls").items()
    }
    assert calls == {("s3", "retry"): 3, ("s3", "fallback"): 1, ("local", "success"): 1}
    assert {dict(a)["route"] for a in otel.points("router.calls")} == {"certificates"}
    durations = otel.points("router.call.duration")
    s3 = durations[frozenset({"route": "certificates", "backend": "s3", "op": "write"}.items())]
    assert isinstance(s3, HistogramDataPoint)
    assert s3.count == 4
    assert 0 < s3.sum < 60
    assert tuple(s3.explicit_bounds) == DURATION_BUCKETS_SECONDS
    route_op = frozenset({"route": "certificates", "op": "write"}.items())
    assert otel.points("router.divergences")[route_op].value == 1
    assert otel.points("router.degraded_ops")[route_op].value == 1


def test_policy_events_as_otel_metrics(traced: Callable[..., Router], otel: Otel) -> None:
    """Policy events are counted in router.policy.events by event."""
    fs = traced("legacy")
    fs.metrics.policy_event("reloaded", source="p.yaml")
    points = otel.points("router.policy.events")
    assert points[frozenset({"event": "reloaded"}.items())].value == 1


def test_streaming_write_is_an_op_span_with_legs(traced: Callable[..., Router], otel: Otel) -> None:
    """A streaming write is one router.write span whose legs, reported at close, are
    its children, back-dated to when each leg began."""
    fs = traced("dual-write")
    with fs.open(KEY, "wb") as f:
        f.write(PDF)
    spans = by_name(otel.finished())
    assert set(spans) == {"router.write", "router.write local", "router.write s3"}
    op = spans["router.write"]
    assert attrs(op)["router.outcome"] == "success"
    for name in ("router.write local", "router.write s3"):
        leg = spans[name]
        assert leg.parent is not None
        assert leg.parent.span_id == op.context.span_id
        assert attrs(leg)["router.outcome"] == "success"
        assert attrs(leg)["router.bytes"] == len(PDF)
        assert leg.start_time is not None
        assert leg.end_time is not None
        assert leg.start_time <= leg.end_time


def test_degraded_streaming_write_span(traced: Callable[..., Router], otel: Otel) -> None:
    """A streaming write whose S3 primary fails is a degraded op with a fallback leg."""
    fs = traced("s3-primary")
    with inject_faults(fs, "s3", Fault("write", _slow_down)), fs.open(KEY, "wb") as f:
        f.write(PDF)
    spans = by_name(otel.finished())
    assert attrs(spans["router.write"])["router.outcome"] == "degraded"
    assert attrs(spans["router.write s3"])["router.outcome"] == "fallback"
    assert attrs(spans["router.write local"])["router.outcome"] == "success"


def test_uninstrument_stops_spans_and_points(traced: Callable[..., Router], otel: Otel) -> None:
    """After uninstrument(fs) the Router makes no spans and no metric points."""
    fs = traced("legacy")
    fs.pipe_file(KEY, PDF)
    uninstrument(fs)
    assert fs.metrics.tracer is None
    assert fs.metrics.observers == ()
    before = len(otel.finished())
    fs.pipe_file(KEY, PDF)
    assert len(otel.finished()) == before
    calls = otel.points("router.calls")
    assert [p.value for p in calls.values()] == [1]


def test_instrument_again_replaces(make_router: Callable[..., Router], otel: Otel) -> None:
    """Instrumenting twice leaves one instrumentation: one span per op, not two."""
    fs = make_router("legacy")
    instrument(fs, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    handle = instrument(
        fs, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    fs.pipe_file(KEY, PDF)
    assert [s.name for s in otel.finished()] == ["router.write local", "router.write"]
    with handle:
        pass  # leaving the block uninstruments
    assert fs.metrics.tracer is None


def test_disabled_metrics_make_no_spans(make_router: Callable[..., Router], otel: Otel) -> None:
    """A Router with metrics=False is not traced either."""
    fs = make_router("legacy", metrics=False)
    instrument(fs, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    fs.pipe_file(KEY, PDF)
    assert otel.finished() == []
    assert otel.points("router.calls") == {}
