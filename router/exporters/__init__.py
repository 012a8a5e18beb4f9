"""Exporters for the router's metrics and traces, each an optional extra.

Nothing here is imported by the router itself: an exporter's third-party library is
imported only when the application imports the exporter's module.

- :mod:`router.exporters.prometheus` (``pip install 'storage-router[prometheus]'``):
  ``RouterCollector(fs)`` serves ``fs.metrics`` to a ``prometheus_client`` registry.
- :mod:`router.exporters.otel` (``pip install 'storage-router[otel]'``):
  ``instrument(fs)`` adds a span per routed op with a child span per leg, and the same
  counters and latency histograms as OpenTelemetry metrics.

docs/metrics.md names every metric each exporter produces.
"""

__all__: list[str] = []
