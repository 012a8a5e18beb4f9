"""Counters, latency histograms and structured events for every backend call.

Every backend call the executor makes (each attempt, on each backend) is recorded once:

- a counter ``{prefix}.{backend}.{op}.{outcome}`` (``cert.s3.write.fail``) is bumped;
  the prefix is the route's ``metrics: {prefix: ...}``, or the route's name;
- its duration goes into the latency histogram of (route, backend, op);
- a ``router.op`` event is emitted with its fields (see :meth:`Call.as_event`).

Outcomes (the last part of a counter name):

``success``
    the backend call worked.
``retry``
    it failed transiently and the router tries the same backend again (after backoff).
``fallback``
    it failed for good on this backend with an error class the op's ``fallbacks.<op>.on``
    names, and another backend takes over: the shadow is tried next (reads, info, url,
    list), or the shadow's concurrent leg of a dual-write mutation stands in for the
    primary (the mutation is acknowledged *degraded* when that leg succeeded).
``fail``
    it failed for good and no other backend takes over for it (the last leg, an error
    class the policy does not fall back on, an exhausted deadline, or a shadow leg).

Besides calls: ``{prefix}.divergence.{op}`` counts divergences journaled,
``{prefix}.{op}.degraded`` the mutations acknowledged although the primary failed,
``router.policy.{event}`` the policy events (loaded, reloaded, reload_failed...).
docs/metrics.md is the reference of every event and counter.

The library never configures logging. Events go to ``structlog.get_logger("router")``
only once the application has configured structlog (an unconfigured structlog prints
to stdout, which a library must not do), and always to the listeners of
:func:`router.testing.capture_metrics` and to the exporters of :mod:`router.exporters`.
When nobody listens, recording a call is a thread-local dict lookup and two list
additions, without a lock (each thread counts into its own cells; readers sum them), and
no event is built at all.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

if TYPE_CHECKING:
    from router.plan import Decision, Plan

__all__ = [
    "OUTCOMES",
    "Call",
    "CallSeries",
    "CounterSample",
    "LegTrace",
    "Listener",
    "Metrics",
    "Observer",
    "OpTrace",
    "Outcome",
    "PolicyEvent",
    "Tracer",
    "add_listener",
    "remove_listener",
]

log = structlog.get_logger("router")
_structlog_configured = structlog.is_configured
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _logger_at(level: int) -> Any:
    """The router's structlog logger if structlog is configured and ``level`` passes
    its filter (when the logger can tell), else None: no event is built for nothing.

    ``log.bind()`` is what structlog's lazy proxy does on every call anyway; with the
    application's ``cache_logger_on_first_use=True`` it is a cached logger.
    """
    if not _structlog_configured():
        return None
    bound = log.bind()
    # Look on the class: structlog's generic BoundLogger turns any missing attribute
    # into a logging method, so an instance lookup would "find" one and log with it.
    cls = type(bound)
    check = getattr(cls, "is_enabled_for", None) or getattr(cls, "isEnabledFor", None)
    if check is not None and not check(bound, level):
        return None
    return bound


class Outcome:
    """The outcomes a backend call can have (strings, for cheap formatting)."""

    SUCCESS = "success"
    FAIL = "fail"
    RETRY = "retry"
    FALLBACK = "fallback"


OUTCOMES: tuple[str, ...] = (Outcome.SUCCESS, Outcome.RETRY, Outcome.FALLBACK, Outcome.FAIL)

PolicyEvent = Literal["loaded", "reloaded", "reload_failed", "flip_refused", "flip_forced"]
_POLICY_EVENTS = frozenset({"loaded", "reloaded", "reload_failed", "flip_refused", "flip_forced"})


@dataclass(frozen=True, slots=True)
class Call:
    """One backend call, as recorded."""

    route: str
    prefix: str
    phase: str
    op: str
    backend: str
    role: str
    outcome: str
    error_class: str | None
    attempt: int
    duration_ms: float
    bytes: int | None
    key: str | None
    """None when the route's ``metrics: {keys: false}`` keeps keys out of events."""

    def counter_name(self) -> str:
        """``{prefix}.{backend}.{op}.{outcome}``."""
        return f"{self.prefix}.{self.backend}.{self.op}.{self.outcome}"

    def as_event(self) -> dict[str, Any]:
        """The fields of the ``router.op`` event (``key`` omitted when keys are off)."""
        fields: dict[str, Any] = {
            "route": self.route,
            "phase": self.phase,
            "op": self.op,
            "backend": self.backend,
            "role": self.role,
            "outcome": self.outcome,
            "error_class": self.error_class,
            "attempt": self.attempt,
            "duration_ms": round(self.duration_ms, 3),
            "bytes": self.bytes,
        }
        if self.key is not None:
            fields["key"] = self.key
        return fields


# -- listeners (process-wide: capture_metrics) and observers (per Metrics: exporters) ----


class Listener(Protocol):
    """Receives every event and counter bump of every Router in the process."""

    def on_event(self, event: str, fields: Mapping[str, Any]) -> None:
        """An event (``router.op``...) with its fields."""
        ...

    def on_count(self, name: str, n: int) -> None:
        """Counter ``name`` was bumped by ``n``."""
        ...


_listeners: tuple[Listener, ...] = ()
_listeners_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Receive every event and counter bump of every Router in this process."""
    global _listeners
    with _listeners_lock:
        _listeners = (*_listeners, listener)


def remove_listener(listener: Listener) -> None:
    """Stop receiving events."""
    global _listeners
    with _listeners_lock:
        _listeners = tuple(x for x in _listeners if x is not listener)


class Observer(Protocol):
    """Receives one Metrics registry's calls and counter bumps (the OTel exporter)."""

    def on_call(self, call: Call) -> None:
        """A backend call was recorded."""
        ...

    def on_count(self, family: str, labels: Mapping[str, str], n: int) -> None:
        """A counter of ``family`` (``divergences``, ``degraded``, ``policy_events``)."""
        ...


class LegTrace(Protocol):
    """A tracing span for one leg: one backend, all its attempts."""

    def retry(self, attempt: int, error_class: str) -> None:
        """Attempt ``attempt`` failed transiently; another follows."""
        ...

    def end(
        self,
        outcome: str,
        error_class: str | None,
        attempts: int,
        nbytes: int | None,
        error: BaseException | None,
    ) -> None:
        """The leg is over."""
        ...

    def close(self) -> None:
        """End the span if :meth:`end` was not called (an exception escaped)."""
        ...


class OpTrace(Protocol):
    """A tracing span for one routed op; its legs are children."""

    def divergence(self, *, degraded: bool) -> None:
        """The op left primary and shadow disagreeing (journaled)."""
        ...

    def end(
        self,
        outcome: str,
        *,
        backend: str | None = None,
        error_class: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        """The op is over: ``success``, ``degraded`` or ``fail``."""
        ...

    def close(self) -> None:
        """End the span if :meth:`end` was not called (an exception escaped)."""
        ...


class Tracer(Protocol):
    """What the executor asks of a tracing exporter (:mod:`router.exporters.otel`)."""

    def start_op(self, decision: Decision, op: str, key: str, current: bool = True) -> OpTrace:
        """A span for a routed op; ``current``: the current span until it ends (only
        for an op that starts and ends on one thread)."""
        ...

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
        """A span for one leg; ``started`` (``time.perf_counter()``) back-dates it."""
        ...


# -- histograms ---------------------------------------------------------------------

# 8 buckets per power of two from 1 µs up to ~ 1 hour: bucket i holds durations in
# [2**(i/8), 2**((i+1)/8)) µs, so a quantile is known to within 9%.
PER_OCTAVE = 8
NBUCKETS = PER_OCTAVE * 32  # Metrics.call spells both as literals, for speed
_log2 = math.log2


def bucket_upper_ms(index: int) -> float:
    """The upper edge (ms) of histogram bucket ``index``."""
    return float(2 ** ((index + 1) / PER_OCTAVE) / 1000.0)


def _quantile(buckets: Sequence[int], count: int, q: float) -> float:
    if not count:
        return 0.0
    rank = q * count
    seen = 0
    for index, n in enumerate(buckets):
        seen += n
        if seen >= rank:
            return bucket_upper_ms(index)
    return bucket_upper_ms(NBUCKETS - 1)


@dataclass(frozen=True, slots=True)
class CallSeries:
    """A copy of one series of backend calls, for exporters."""

    route: str
    prefix: str
    backend: str
    op: str
    outcomes: Mapping[str, int]
    """Calls per outcome (every outcome present, zeros included)."""
    buckets: tuple[int, ...]
    """Calls per histogram bucket (see :func:`bucket_upper_ms`)."""
    count: int
    total_ms: float

    def counter_name(self, outcome: str) -> str:
        """``{prefix}.{backend}.{op}.{outcome}``."""
        return f"{self.prefix}.{self.backend}.{self.op}.{outcome}"


@dataclass(frozen=True, slots=True)
class CounterSample:
    """A counter other than calls: its family, dotted name, labels and value."""

    family: str
    name: str
    labels: Mapping[str, str]
    value: int


_CellKey = tuple[str, str, str, str, str]


def _merge_into(
    target: dict[_CellKey, list[float]], items: list[tuple[_CellKey, list[float]]]
) -> None:
    for key, cell in items:
        copy = list(cell)
        found = target.get(key)
        if found is None:
            target[key] = copy
        else:
            for i, value in enumerate(copy):
                found[i] += value


class Metrics:
    """An in-process, thread-safe registry of counters and histograms (``fs.metrics``).

    ``Metrics(enabled=False)`` records nothing and the executor skips even its clock
    reads. ``tracer`` is set by :func:`router.exporters.otel.instrument` (None otherwise).
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tracer: Tracer | None = None
        self._lock = threading.Lock()  # guards everything below but a thread's own cells
        # Each thread records into its own cells, without a lock: (route, prefix,
        # backend, op, outcome) -> [sum of ms, calls per histogram bucket...]. Readers
        # copy every thread's cells under the lock; a finished thread's cells are
        # folded into _retired.
        self._local = threading.local()
        self._shards: list[tuple[weakref.ref[threading.Thread], dict[_CellKey, list[float]]]] = []
        self._retired: dict[_CellKey, list[float]] = {}
        self._counters: dict[tuple[str, str], CounterSample] = {}
        self._observers: tuple[Observer, ...] = ()

    def __repr__(self) -> str:
        return f"Metrics(enabled={self.enabled}, threads={len(self._shards)})"

    # -- observers ---------------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        """Receive this registry's calls and counter bumps (used by exporters)."""
        with self._lock:
            self._observers = (*self._observers, observer)

    @property
    def observers(self) -> tuple[Observer, ...]:
        """The observers added by exporters."""
        return self._observers

    def remove_observer(self, observer: Observer) -> None:
        """Stop receiving calls."""
        with self._lock:
            self._observers = tuple(o for o in self._observers if o is not observer)

    # -- recording ---------------------------------------------------------------------

    def call(
        self,
        decision: Decision,
        op: str,
        backend: str,
        role: str,
        outcome: str,
        error_class: str | None,
        attempt: int,
        duration_ms: float,
        nbytes: int | None,
        key: str,
    ) -> None:
        """Record one backend call: the executor's fast path (see :meth:`record`).

        ``op``, ``role`` and ``error_class`` may be the router's string enums.
        """
        if not self.enabled:
            return
        route = decision.route
        us = duration_ms * 1000.0
        index = int(_log2(us) * 8) + 1 if us > 1.0 else 1  # 8 == PER_OCTAVE
        if index > 256:  # == NBUCKETS
            index = 256
        ckey = (route.name, route.metrics_prefix, backend, op, outcome)
        try:
            cells = self._local.cells
        except AttributeError:
            cells = self._new_shard()
        cell = cells.get(ckey)
        if cell is None:
            cell = self._new_cell(cells, ckey)
        cell[0] += duration_ms
        cell[index] += 1
        if _listeners or self._observers or _structlog_configured():
            logger = _logger_at(logging.DEBUG)
            if logger is None and not _listeners and not self._observers:
                return
            self._deliver(
                Call(
                    route=route.name,
                    prefix=route.metrics_prefix,
                    phase=decision.phase.name,
                    op=str(op),
                    backend=backend,
                    role=str(role),
                    outcome=outcome,
                    error_class=str(error_class) if error_class is not None else None,
                    attempt=attempt,
                    duration_ms=duration_ms,
                    bytes=nbytes,
                    key=key if route.keys_in_events else None,
                ),
                logger,
            )

    def _new_shard(self) -> dict[_CellKey, list[float]]:
        """This thread's cells, created on its first call."""
        cells: dict[_CellKey, list[float]] = {}
        with self._lock:
            self._fold_finished()
            self._shards.append((weakref.ref(threading.current_thread()), cells))
        self._local.cells = cells
        return cells

    @staticmethod
    def _new_cell(cells: dict[_CellKey, list[float]], ckey: _CellKey) -> list[float]:
        """A cell of this thread: [sum of ms, calls per histogram bucket...]."""
        if ckey[4] not in OUTCOMES:
            raise ValueError(f"unknown outcome {ckey[4]!r}")
        cell: list[float] = [0.0] * (NBUCKETS + 1)
        cells[(str(ckey[0]), str(ckey[1]), str(ckey[2]), str(ckey[3]), str(ckey[4]))] = cell
        return cell

    def _fold_finished(self) -> None:
        """Fold the cells of finished threads into ``_retired`` (under the lock)."""
        alive = []
        for ref, cells in self._shards:
            thread = ref()
            if thread is not None and thread.is_alive():
                alive.append((ref, cells))
                continue
            _merge_into(self._retired, list(cells.copy().items()))
        self._shards = alive

    def _all_cells(self) -> dict[_CellKey, list[float]]:
        """Every thread's cells, summed: a copy."""
        with self._lock:
            self._fold_finished()
            merged = {k: list(v) for k, v in self._retired.items()}
            for _, cells in self._shards:
                # dict.copy() clones in C without running Python code (no GC pass can
                # start mid-copy), so the owner thread cannot add a cell while we read
                _merge_into(merged, list(cells.copy().items()))
        return merged

    def record(self, call: Call) -> None:
        """Count a backend call, time it, and emit its ``router.op`` event."""
        if not self.enabled:
            return
        us = call.duration_ms * 1000.0
        index = min(NBUCKETS, int(_log2(us) * PER_OCTAVE) + 1) if us > 1.0 else 1
        ckey = (call.route, call.prefix, call.backend, call.op, call.outcome)
        try:
            cells = self._local.cells
        except AttributeError:
            cells = self._new_shard()
        cell = cells.get(ckey)
        if cell is None:
            cell = self._new_cell(cells, ckey)
        cell[0] += call.duration_ms
        cell[index] += 1
        self._deliver(call, _logger_at(logging.DEBUG))

    def _deliver(self, call: Call, logger: Any) -> None:
        """Hand a call to observers, structlog (``logger``, if any) and listeners."""
        for observer in self._observers:
            observer.on_call(call)
        listeners = _listeners
        if logger is None and not listeners:
            return
        fields = call.as_event()
        if logger is not None:
            logger.debug("router.op", **fields)
        if listeners:
            name = call.counter_name()
            for listener in listeners:
                listener.on_count(name, 1)
                listener.on_event("router.op", fields)

    def count(
        self,
        name: str,
        n: int = 1,
        *,
        family: str = "counters",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Bump counter ``name`` (a dotted name) by ``n``.

        ``family`` and ``labels`` are how exporters show it: Prometheus
        ``router_{family}_total{labels}`` (``divergences`` by route and op...); a
        counter without a family is exported as ``router_counters_total{name=...}``.
        """
        if not self.enabled:
            return
        if labels is None:
            labels = {"name": name} if family == "counters" else {}
        else:
            labels = dict(labels)
        with self._lock:
            current = self._counters.get((family, name))
            value = n + (current.value if current is not None else 0)
            self._counters[(family, name)] = CounterSample(family, name, labels, value)
        for observer in self._observers:
            observer.on_count(family, labels, n)
        for listener in _listeners:
            listener.on_count(name, n)

    def emit(self, event: str, fields: Mapping[str, Any], *, level: str = "debug") -> None:
        """Send an event to structlog (if configured, at ``level``) and to listeners."""
        if not self.enabled:
            return
        logger = _logger_at(_LEVELS[level]) if _structlog_configured() else None
        if logger is not None:
            getattr(logger, level)(event, **fields)
        listeners = _listeners
        if listeners:
            payload = dict(fields)
            for listener in listeners:
                listener.on_event(event, payload)

    # -- event helpers -----------------------------------------------------------------

    def divergence(
        self,
        decision: Decision,
        op: str,
        key: str,
        *,
        truth: str,
        stale: str,
        error_class: str,
        degraded: bool,
        entry: str,
    ) -> None:
        """Count a journaled divergence and emit ``router.divergence``.

        Bumps ``{prefix}.divergence.{op}``, and ``{prefix}.{op}.degraded`` when the
        mutation was acknowledged although the primary failed.
        """
        if not self.enabled:
            return
        route = decision.route
        prefix = route.metrics_prefix
        labels = {"route": route.name, "op": op}
        self.count(f"{prefix}.divergence.{op}", family="divergences", labels=labels)
        if degraded:
            self.count(f"{prefix}.{op}.degraded", family="degraded", labels=labels)
        fields: dict[str, Any] = {
            "route": route.name,
            "phase": decision.phase.name,
            "op": op,
            "truth": truth,
            "stale": stale,
            "error_class": error_class,
            "degraded": degraded,
            "entry": entry,
        }
        if route.keys_in_events:
            fields["key"] = key
        self.emit("router.divergence", fields, level="warning")

    def policy_event(
        self,
        event: PolicyEvent,
        *,
        source: str,
        plan: Plan | None = None,
        **fields: Any,
    ) -> None:
        """Count ``router.policy.{event}`` and emit the event ``router.policy.{event}``.

        ``event``: ``loaded``, ``reloaded``, ``reload_failed``, ``flip_refused`` or
        ``flip_forced``. The event carries ``source`` (the policy file, or ``<dict>``),
        ``routes`` when ``plan`` (the plan now in force) is given — each route's live
        phase and rollout — and ``fields`` as given (docs/metrics.md lists the fields of
        each event). Logged at info, or warning for ``reload_failed`` and
        ``flip_refused``. The caller keeps secrets out of ``fields``.
        """
        if event not in _POLICY_EVENTS:
            raise ValueError(f"unknown policy event {event!r}; one of {sorted(_POLICY_EVENTS)}")
        if not self.enabled:
            return
        name = f"router.policy.{event}"
        self.count(name, family="policy_events", labels={"event": event})
        payload: dict[str, Any] = {"source": source}
        if plan is not None:
            payload["routes"] = {
                route_name: {
                    "phase": route.live.name,
                    "rollout": (
                        {"to": route.target.name, "percent": route.threshold / 100}
                        if route.target is not None
                        else None
                    ),
                }
                for route_name, route in plan.routes.items()
            }
        payload.update(fields)
        level = "warning" if event in ("reload_failed", "flip_refused") else "info"
        self.emit(name, payload, level=level)

    # -- reading -----------------------------------------------------------------------

    def series(self) -> list[CallSeries]:
        """A consistent copy of every call series (for exporters)."""
        cells = self._all_cells().items()
        merged: dict[tuple[str, str, str, str], tuple[dict[str, int], list[int], float]] = {}
        for (route, prefix, backend, op, outcome), cell in cells:
            outcomes, buckets, total = merged.get(
                (route, prefix, backend, op), (dict.fromkeys(OUTCOMES, 0), [0] * NBUCKETS, 0.0)
            )
            counts = [int(n) for n in cell[1:]]
            outcomes[outcome] += sum(counts)
            merged[(route, prefix, backend, op)] = (
                outcomes,
                [a + b for a, b in zip(buckets, counts, strict=True)],
                total + cell[0],
            )
        return [
            CallSeries(
                route=route,
                prefix=prefix,
                backend=backend,
                op=op,
                outcomes=outcomes,
                buckets=tuple(buckets),
                count=sum(outcomes.values()),
                total_ms=total,
            )
            for (route, prefix, backend, op), (outcomes, buckets, total) in sorted(merged.items())
        ]

    def counters(self) -> list[CounterSample]:
        """A copy of every counter other than calls (for exporters)."""
        with self._lock:
            return list(self._counters.values())

    def counts(self) -> dict[str, int]:
        """Every non-zero counter by dotted name."""
        counts: dict[str, int] = {}
        for s in self.series():
            for outcome, n in s.outcomes.items():
                if n:
                    name = s.counter_name(outcome)
                    counts[name] = counts.get(name, 0) + n
        for c in self.counters():
            counts[c.name] = counts.get(c.name, 0) + c.value
        return counts

    def snapshot(self) -> dict[str, Any]:
        """Counters plus count/mean/p50/p95/p99 (ms) per (route, backend, op); JSON-ready."""
        merged: dict[tuple[str, str, str], tuple[list[int], int, float]] = {}
        for s in self.series():
            key = (s.route, s.backend, s.op)
            buckets, count, total = merged.get(key, ([0] * NBUCKETS, 0, 0.0))
            merged[key] = (
                [a + b for a, b in zip(buckets, s.buckets, strict=True)],
                count + s.count,
                total + s.total_ms,
            )
        histograms = [
            {
                "route": route,
                "backend": backend,
                "op": op,
                "count": count,
                "mean_ms": round(total / count, 3) if count else 0.0,
                "p50_ms": round(_quantile(buckets, count, 0.50), 3),
                "p95_ms": round(_quantile(buckets, count, 0.95), 3),
                "p99_ms": round(_quantile(buckets, count, 0.99), 3),
            }
            for (route, backend, op), (buckets, count, total) in sorted(merged.items())
        ]
        return {"counters": dict(sorted(self.counts().items())), "histograms": histograms}

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._retired.clear()
            for _, cells in self._shards:
                cells.clear()  # a call racing with reset() may be kept or lost
            self._counters.clear()
