"""OpenTelemetry exporter: a span per routed op with a child span per leg, and metrics.

::

    from router.exporters.otel import instrument

    handle = instrument(fs)            # the global tracer and meter providers
    handle = instrument(fs, tracer_provider=tp, meter_provider=mp)
    ...
    handle.uninstrument()

``Router``'s constructor is unchanged: ``instrument`` sets ``fs.metrics.tracer``
(which the executor reads once per op: None when not instrumented) and adds an
observer to ``fs.metrics``. It lasts across policy reloads.

Spans (kind INTERNAL):

- ``router.{op}`` per routed op (``router.read``, ``router.write``...): attributes
  ``router.route``, ``router.phase``, ``router.op``, and at the end ``router.outcome``
  (``success``, ``degraded`` or ``fail``), ``router.backend`` (who answered a read),
  ``router.error_class`` when it failed (status ERROR); ``router.key`` only on routes
  whose ``metrics: {keys: ...}`` allows keys, and only then the exception is recorded
  (its message names the key);
- ``router.{op} {backend}`` per leg, a child of the op's span (also for the shadow leg
  of a dual-write, which runs on a pool thread): ``router.route``, ``router.phase``,
  ``router.op``, ``router.backend``, ``router.role``, ``router.outcome`` (``success``,
  ``fallback``, ``fail``), ``router.error_class``, ``router.attempts``,
  ``router.bytes``; a ``retry`` span event per retried attempt. Op and leg spans are
  the current span while they run, so spans of instrumented libraries nest below.

Metrics (the same counters as ``fs.metrics``, labelled, never mangled names):

- ``router.calls`` (counter, ``{call}``): route, backend, op, outcome;
- ``router.call.duration`` (histogram, seconds): route, backend, op;
- ``router.divergences``, ``router.degraded_ops`` (counters): route, op;
- ``router.policy.events`` (counter): event; ``router.counters`` (counter): name.

Requires the ``otel`` extra: ``pip install 'storage-router[otel]'``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import Token
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import structlog
from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import Counter, Histogram, Meter, MeterProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from router.metrics import Call, LegTrace, Metrics, OpTrace, Outcome

if TYPE_CHECKING:
    from router.plan import Decision

__all__ = ["DURATION_BUCKETS_SECONDS", "Instrumentation", "instrument", "uninstrument"]

log = structlog.get_logger("router.exporters.otel")

DURATION_BUCKETS_SECONDS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""Bucket boundaries advised for ``router.call.duration``."""

DEGRADED = "degraded"

try:
    _VERSION = version("storage-router")
except PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = "0"

P = ParamSpec("P")
R = TypeVar("R")


def _safe(fn: Callable[P, R]) -> Callable[P, R | None]:
    """Telemetry must never break an op: an exporter error is logged, not raised."""

    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return fn(*args, **kwargs)
        except Exception:
            if structlog.is_configured():
                log.warning("router.otel.error", where=fn.__qualname__, exc_info=True)
            return None

    guarded.__doc__ = fn.__doc__
    guarded.__name__ = fn.__name__
    guarded.__qualname__ = fn.__qualname__
    return guarded


def _wall_ns(perf_started: float) -> int:
    """A ``time.perf_counter()`` reading, as epoch nanoseconds."""
    return time.time_ns() - int((time.perf_counter() - perf_started) * 1e9)


class _Scoped:
    """A span, made the current span while it runs (``current``) until it ends."""

    __slots__ = ("_token", "span")

    def __init__(self, span: Span, current: bool) -> None:
        self.span = span
        self._token: Token[otel_context.Context] | None = (
            otel_context.attach(trace.set_span_in_context(span)) if current else None
        )

    def _detach(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)

    @_safe
    def close(self) -> None:
        """End the span if ``end`` did not (an exception escaped the leg or op)."""
        if self._token is not None or self.span.is_recording():
            self._detach()
            if self.span.is_recording():
                self.span.set_attribute("router.outcome", Outcome.FAIL)
                self.span.set_status(Status(StatusCode.ERROR, "interrupted"))
                self.span.end()


class _Leg(_Scoped):
    """One leg's span (implements :class:`router.metrics.LegTrace`)."""

    __slots__ = ()

    @_safe
    def retry(self, attempt: int, error_class: str) -> None:
        """A retried attempt, as a span event."""
        self.span.add_event(
            "retry", {"router.attempt": attempt, "router.error_class": str(error_class)}
        )

    @_safe
    def end(
        self,
        outcome: str,
        error_class: str | None,
        attempts: int,
        nbytes: int | None,
        error: BaseException | None,
    ) -> None:
        """Set the leg's outcome attributes and end its span."""
        span = self.span
        if not span.is_recording():
            self._detach()
            return
        attributes: dict[str, Any] = {"router.outcome": outcome, "router.attempts": attempts}
        if error_class is not None:
            attributes["router.error_class"] = str(error_class)
        if nbytes is not None:
            attributes["router.bytes"] = nbytes
        span.set_attributes(attributes)
        if outcome != Outcome.SUCCESS:
            # a fallback leg is an error of this backend, not of the op
            span.set_status(Status(StatusCode.ERROR, str(error_class)))
            if error is not None:
                span.set_attribute("error.type", type(error).__qualname__)
        self._detach()
        span.end()


class _Op(_Scoped):
    """One routed op's span (implements :class:`router.metrics.OpTrace`)."""

    __slots__ = ("_degraded", "_keys")

    def __init__(self, span: Span, keys: bool, current: bool) -> None:
        super().__init__(span, current)
        self._keys = keys
        self._degraded = False

    @_safe
    def divergence(self, *, degraded: bool) -> None:
        """Mark the op as having left the two sides disagreeing."""
        self._degraded = self._degraded or degraded
        self.span.set_attribute("router.divergence", True)

    @_safe
    def end(
        self,
        outcome: str,
        *,
        backend: str | None = None,
        error_class: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Set the op's outcome and end its span."""
        span = self.span
        if not span.is_recording():
            self._detach()
            return
        if outcome == Outcome.SUCCESS and self._degraded:
            outcome = DEGRADED
        attributes: dict[str, Any] = {"router.outcome": outcome}
        if backend is not None:
            attributes["router.backend"] = backend
        if error_class is not None:
            attributes["router.error_class"] = str(error_class)
        span.set_attributes(attributes)
        if outcome == Outcome.FAIL:
            span.set_status(Status(StatusCode.ERROR, str(error_class)))
            if error is not None:
                span.set_attribute("error.type", type(error).__qualname__)
                if self._keys:
                    span.record_exception(error)
        self._detach()
        span.end()


class _Tracer:
    """The executor's tracing hooks (implements :class:`router.metrics.Tracer`)."""

    def __init__(self, tracer: trace.Tracer, owner: Instrumentation) -> None:
        self.tracer = tracer
        self.owner = owner

    def start_op(self, decision: Decision, op: str, key: str, current: bool = True) -> OpTrace:
        """Start the span of a routed op (the current span unless ``current=False``)."""
        route = decision.route
        attributes: dict[str, Any] = {
            "router.route": route.name,
            "router.phase": decision.phase.name,
            "router.op": str(op),
        }
        if route.keys_in_events:
            attributes["router.key"] = key
        span = self.tracer.start_span(f"router.{op}", kind=SpanKind.INTERNAL, attributes=attributes)
        return _Op(span, route.keys_in_events, current)

    def start_leg(
        self,
        parent: OpTrace | None,
        decision: Decision,
        op: str,
        backend: str,
        role: str,
        key: str,
        started: float | None = None,
    ) -> LegTrace:
        """Start a leg's span, a child of ``parent`` (``started``: back-dated, not current)."""
        route = decision.route
        attributes: dict[str, Any] = {
            "router.route": route.name,
            "router.phase": decision.phase.name,
            "router.op": str(op),
            "router.backend": backend,
            "router.role": str(role),
        }
        if route.keys_in_events:
            attributes["router.key"] = key
        parent_context = trace.set_span_in_context(parent.span) if isinstance(parent, _Op) else None
        span = self.tracer.start_span(
            f"router.{op} {backend}",
            context=parent_context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_wall_ns(started) if started is not None else None,
        )
        return _Leg(span, current=started is None)


class _MetricsObserver:
    """Mirrors a registry's counters and latencies into OpenTelemetry instruments."""

    def __init__(self, meter: Meter, owner: Instrumentation) -> None:
        self.meter = meter
        self.owner = owner
        self.calls = meter.create_counter(
            "router.calls", unit="{call}", description="Backend calls by outcome."
        )
        self.duration: Histogram = meter.create_histogram(
            "router.call.duration",
            unit="s",
            description="Latency of backend calls (every attempt).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
        )
        self.families: dict[str, Counter] = {
            "divergences": meter.create_counter(
                "router.divergences", unit="{divergence}", description="Divergences journaled."
            ),
            "degraded": meter.create_counter(
                "router.degraded_ops",
                unit="{op}",
                description="Mutations acknowledged although the primary failed.",
            ),
            "policy_events": meter.create_counter(
                "router.policy.events", unit="{event}", description="Policy loads and reloads."
            ),
            "counters": meter.create_counter(
                "router.counters", description="Other router counters, by dotted name."
            ),
        }

    @_safe
    def on_call(self, call: Call) -> None:
        """Count the call and record its latency."""
        self.calls.add(
            1,
            {
                "route": call.route,
                "backend": call.backend,
                "op": call.op,
                "outcome": call.outcome,
            },
        )
        self.duration.record(
            call.duration_ms / 1000.0,
            {"route": call.route, "backend": call.backend, "op": call.op},
        )

    @_safe
    def on_count(self, family: str, labels: Mapping[str, str], n: int) -> None:
        """Count a divergence, a degraded mutation, a policy event..."""
        counter = self.families.get(family)
        if counter is None:
            counter = self.families[family] = self.meter.create_counter(f"router.{family}")
        counter.add(n, dict(labels))


class Instrumentation:
    """What :func:`instrument` did to one registry; :meth:`uninstrument` undoes it."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.tracer: _Tracer | None = None
        self.observer: _MetricsObserver | None = None

    def uninstrument(self) -> None:
        """Stop tracing and mirroring metrics (spans in flight still end)."""
        tracer = self.metrics.tracer
        if tracer is not None and tracer is self.tracer:
            self.metrics.tracer = None
        if self.observer is not None:
            self.metrics.remove_observer(self.observer)
        self.tracer = None
        self.observer = None

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstrument()


def _metrics_of(source: Any) -> Metrics:
    if isinstance(source, Metrics):
        return source
    metrics = getattr(source, "metrics", None)
    if isinstance(metrics, Metrics):
        return metrics
    raise TypeError(f"expected a Router or a router.metrics.Metrics, got {type(source).__name__}")


def _current(registry: Metrics) -> Instrumentation | None:
    tracer = registry.tracer
    if isinstance(tracer, _Tracer):
        return tracer.owner
    for observer in registry.observers:
        if isinstance(observer, _MetricsObserver):
            return observer.owner
    return None


def instrument(
    fs: Any,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    traces: bool = True,
    metrics: bool = True,
) -> Instrumentation:
    """Trace a Router's ops and mirror its metrics into OpenTelemetry.

    ``fs`` is a Router (or its ``fs.metrics``). The providers default to the global
    ones (``opentelemetry.trace.set_tracer_provider``...). ``traces=False`` or
    ``metrics=False`` leaves one half out. Instrumenting again replaces the previous
    instrumentation. Spans and metric points are only made while the registry is
    enabled (``Router(..., metrics=False)`` disables both).
    """
    registry = _metrics_of(fs)
    previous = _current(registry)
    if previous is not None:
        previous.uninstrument()
    handle = Instrumentation(registry)
    if metrics:
        meter = otel_metrics.get_meter("router", _VERSION, meter_provider=meter_provider)
        handle.observer = _MetricsObserver(meter, handle)
        registry.add_observer(handle.observer)
    if traces and registry.enabled:
        tracer = trace.get_tracer("router", _VERSION, tracer_provider=tracer_provider)
        handle.tracer = _Tracer(tracer, handle)
        registry.tracer = handle.tracer
    return handle


def uninstrument(fs: Any) -> None:
    """Undo :func:`instrument` for a Router (or its ``fs.metrics``)."""
    handle = _current(_metrics_of(fs))
    if handle is not None:
        handle.uninstrument()
