"""The storage-router benchmark suite: one module per scenario (see perf/README.md)."""
