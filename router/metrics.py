"""Counters, latency histograms and structured events for every backend call.

The library never configures logging: events go to ``structlog.get_logger("router")``
(at debug level, and only once the application has configured structlog, so an
unconfigured application's stdout is not flooded) and the application decides what
happens to them. Counters are named
``{prefix}.{backend}.{op}.{outcome}`` (``cert.s3.write.fail``); histograms are kept per
(route, backend, op) in fixed log-spaced buckets, so recording is O(1) and memory is
bounded whatever the traffic.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

__all__ = ["Call", "Metrics", "Outcome", "add_listener", "remove_listener"]

log = structlog.get_logger("router")


class Outcome:
    """The outcomes a backend call can have (strings, for cheap formatting)."""

    SUCCESS = "success"
    FAIL = "fail"
    RETRY = "retry"
    FALLBACK = "fallback"


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

    def counter_name(self) -> str:
        """``{prefix}.{backend}.{op}.{outcome}``."""
        return f"{self.prefix}.{self.backend}.{self.op}.{self.outcome}"

    def as_event(self) -> dict[str, Any]:
        """The fields of the ``router.op`` event."""
        return {
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
            "key": self.key,
        }


Listener = Callable[[str, Mapping[str, Any]], None]
_listeners: list[Listener] = []
_listeners_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Receive every event (name, fields) of every Router in this process."""
    with _listeners_lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    """Stop receiving events."""
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


# Histogram buckets: 8 per power of two from 1 µs up to ~ 1 hour.
_PER_OCTAVE = 8
_NBUCKETS = _PER_OCTAVE * 32


def _bucket_of(ms: float) -> int:
    us = ms * 1000.0
    if us <= 1.0:
        return 0
    return min(_NBUCKETS - 1, int(math.log2(us) * _PER_OCTAVE))


def _bucket_upper_ms(index: int) -> float:
    return float(2 ** ((index + 1) / _PER_OCTAVE) / 1000.0)


class _Histogram:
    __slots__ = ("buckets", "count", "total_ms")

    def __init__(self) -> None:
        self.buckets = [0] * _NBUCKETS
        self.count = 0
        self.total_ms = 0.0

    def add(self, ms: float) -> None:
        self.buckets[_bucket_of(ms)] += 1
        self.count += 1
        self.total_ms += ms

    def quantile(self, q: float) -> float:
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return _bucket_upper_ms(index)
        return _bucket_upper_ms(_NBUCKETS - 1)


class Metrics:
    """An in-process, thread-safe registry of counters and histograms."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._histograms: dict[tuple[str, str, str], _Histogram] = {}

    def __repr__(self) -> str:
        return f"Metrics(enabled={self.enabled}, counters={len(self._counts)})"

    def record(self, call: Call) -> None:
        """Count a backend call, time it, and emit its ``router.op`` event."""
        if not self.enabled:
            return
        with self._lock:
            self._counts[call.counter_name()] += 1
            if call.outcome != Outcome.RETRY:
                key = (call.route, call.backend, call.op)
                histogram = self._histograms.get(key)
                if histogram is None:
                    histogram = self._histograms[key] = _Histogram()
                histogram.add(call.duration_ms)
        self.emit("router.op", call.as_event(), counter=call.counter_name())

    def count(self, name: str, n: int = 1) -> None:
        """Bump a named counter (divergences, reloads...)."""
        if not self.enabled:
            return
        with self._lock:
            self._counts[name] += n

    def emit(self, event: str, fields: Mapping[str, Any], *, counter: str | None = None) -> None:
        """Send an event to structlog and to listeners (``capture_metrics``)."""
        if not self.enabled:
            return
        if structlog.is_configured():  # unconfigured structlog would print every event
            log.debug(event, **fields)
        if _listeners:
            payload = dict(fields)
            if counter is not None:
                payload["counter"] = counter
            for listener in list(_listeners):
                listener(event, payload)

    def counts(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counts)

    def snapshot(self) -> dict[str, Any]:
        """Counters plus count/p50/p95/p99 (ms) per (route, backend, op); JSON-ready."""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
            histograms = [
                {
                    "route": route,
                    "backend": backend,
                    "op": op,
                    "count": h.count,
                    "mean_ms": round(h.total_ms / h.count, 3) if h.count else 0.0,
                    "p50_ms": round(h.quantile(0.50), 3),
                    "p95_ms": round(h.quantile(0.95), 3),
                    "p99_ms": round(h.quantile(0.99), 3),
                }
                for (route, backend, op), h in sorted(self._histograms.items())
            ]
        return {"counters": counts, "histograms": histograms}

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._counts.clear()
            self._histograms.clear()
