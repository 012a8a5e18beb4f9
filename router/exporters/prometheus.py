"""Prometheus exporter: a ``prometheus_client`` collector over a Router's metrics.

::

    from prometheus_client import start_http_server
    from router.exporters.prometheus import RouterCollector

    RouterCollector(fs)          # registers with prometheus_client's default REGISTRY
    start_http_server(9108)

Every scrape reads ``fs.metrics`` (no work on the router's fast path). Families, with
labels (never names mangled into metric names):

- ``router_calls_total{route, backend, op, outcome}``: backend calls;
- ``router_call_duration_seconds{route, backend, op}``: latency histogram, one bucket
  per power of two from 16 µs to ~34 s (exact: they are edges of the registry's own
  buckets);
- ``router_divergences_total{route, op}``: divergences journaled;
- ``router_degraded_ops_total{route, op}``: mutations acknowledged degraded;
- ``router_policy_events_total{event}``: policy loads, reloads, failed reloads...;
- ``router_counters_total{name}``: any other counter, by its dotted name.

Requires the ``prometheus`` extra: ``pip install 'storage-router[prometheus]'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from router.metrics import NBUCKETS, PER_OCTAVE, Metrics

__all__ = ["BUCKETS_SECONDS", "RouterCollector"]

_FIRST_POWER, _LAST_POWER = 4, 25  # 2**4 µs = 16 µs ... 2**25 µs ≈ 33.6 s
BUCKETS_SECONDS: tuple[float, ...] = tuple(2**n / 1e6 for n in range(_FIRST_POWER, _LAST_POWER + 1))
"""The ``le`` bounds of the latency histogram, in seconds (plus ``+Inf``)."""
_LE = tuple(floatToGoString(b) for b in BUCKETS_SECONDS)  # type: ignore[no-untyped-call]

_FAMILIES: Mapping[str, tuple[str, str]] = {
    "divergences": ("divergences", "Divergences journaled (primary and shadow disagree)."),
    "degraded": ("degraded_ops", "Mutations acknowledged although the primary failed."),
    "policy_events": ("policy_events", "Policy loads, reloads and refused reloads."),
    "counters": ("counters", "Other router counters, by dotted name."),
}


def _metrics_of(source: Any) -> Metrics:
    if isinstance(source, Metrics):
        return source
    metrics = getattr(source, "metrics", None)
    if isinstance(metrics, Metrics):
        return metrics
    raise TypeError(f"expected a Router or a router.metrics.Metrics, got {type(source).__name__}")


class RouterCollector(Collector):
    """Serves a Router's counters and latency histograms to Prometheus.

    ``source`` is a Router (``fs``) or its ``fs.metrics``. The collector registers
    itself with ``registry`` (prometheus_client's default ``REGISTRY`` unless told;
    ``None`` registers nowhere). Two Routers in one registry need different
    ``namespace`` values, or ``const_labels`` plus separate registries.
    """

    def __init__(
        self,
        source: Any,
        *,
        registry: CollectorRegistry | None = REGISTRY,
        namespace: str = "router",
        const_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics = _metrics_of(source)
        self.namespace = namespace
        self.const_labels = dict(const_labels or {})
        self.registry = registry
        if registry is not None:
            registry.register(self)

    def unregister(self) -> None:
        """Remove the collector from its registry."""
        if self.registry is not None:
            self.registry.unregister(self)
            self.registry = None

    def _name(self, name: str) -> str:
        return f"{self.namespace}_{name}"

    def _labels(self, *names: str) -> list[str]:
        return [*self.const_labels, *names]

    def describe(self) -> Iterable[Metric]:
        """The families (without samples), so a registry can check names up front."""
        return [
            CounterMetricFamily(
                self._name("calls"), "", labels=self._labels("route", "backend", "op", "outcome")
            ),
            HistogramMetricFamily(
                self._name("call_duration_seconds"),
                "",
                labels=self._labels("route", "backend", "op"),
            ),
            *(CounterMetricFamily(self._name(name), "") for name, _ in _FAMILIES.values()),
        ]

    def collect(self) -> Iterator[Metric]:
        """One consistent read of the registry, as Prometheus families."""
        const = list(self.const_labels.values())
        calls = CounterMetricFamily(
            self._name("calls"),
            "Backend calls by route, backend, op and outcome (success, retry, fallback, fail).",
            labels=self._labels("route", "backend", "op", "outcome"),
        )
        durations = HistogramMetricFamily(
            self._name("call_duration_seconds"),
            "Latency of backend calls (every attempt), by route, backend and op.",
            labels=self._labels("route", "backend", "op"),
            unit="seconds",
        )
        merged: dict[tuple[str, str, str], tuple[dict[str, int], list[int], float]] = {}
        for series in self.metrics.series():  # one per route prefix; merged by route
            key = (series.route, series.backend, series.op)
            outcomes, buckets, total = merged.get(key, ({}, [0] * NBUCKETS, 0.0))
            for outcome, n in series.outcomes.items():
                outcomes[outcome] = outcomes.get(outcome, 0) + n
            merged[key] = (
                outcomes,
                [a + b for a, b in zip(buckets, series.buckets, strict=True)],
                total + series.total_ms,
            )
        for (route, backend, op), (outcomes, buckets, total_ms) in sorted(merged.items()):
            for outcome, n in outcomes.items():
                if n:
                    calls.add_metric([*const, route, backend, op, outcome], n)
            cumulative: list[tuple[str, float]] = []
            for power, le in zip(range(_FIRST_POWER, _LAST_POWER + 1), _LE, strict=True):
                # bucket i holds [2**(i/8), 2**((i+1)/8)) µs: those below 2**power µs
                # are exactly the first PER_OCTAVE * power buckets.
                cumulative.append((le, float(sum(buckets[: PER_OCTAVE * power]))))
            cumulative.append(("+Inf", float(sum(buckets))))
            durations.add_metric([*const, route, backend, op], cumulative, total_ms / 1000.0)
        yield calls
        yield durations
        families: dict[str, tuple[CounterMetricFamily, list[str]]] = {}
        for sample in sorted(self.metrics.counters(), key=lambda c: (c.family, c.name)):
            name, doc = _FAMILIES.get(sample.family, (sample.family, "Router counter."))
            labels = dict(sample.labels)
            found = families.get(name)
            if found is not None and sorted(labels) != found[1]:
                # a family's label names are fixed: show an odd one out by its name
                name, doc = _FAMILIES["counters"]
                labels = {"name": sample.name}
                found = families.get(name)
            if found is None:
                found = families[name] = (
                    CounterMetricFamily(
                        self._name(name), doc, labels=self._labels(*sorted(labels))
                    ),
                    sorted(labels),
                )
            family, label_names = found
            family.add_metric([*const, *(labels[k] for k in label_names)], sample.value)
        for family, _ in families.values():
            yield family
