"""Shadow-read comparison: for a sticky sample of keys, check the shadow's copy in the
background after a read the primary served, and journal any mismatch.

Only in dual-write phases (both sides are written, so they should agree). A key is in
the sample when ``bucket(route + "\\0compare", key) < sample * 10000`` — sticky by key and
independent of the rollout bucket. The comparison (size, then sha256) runs on the
Router's pool: the caller's latency does not include it. Outcomes are counted as
``{prefix}.compare.match``, ``.mismatch`` or ``.error``; a mismatch also emits
``router.compare.mismatch`` and journals a divergence (truth: primary), which
``router repair`` then fixes. Keys with a pending journal entry are skipped: they are
known to differ.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, wait

from router.executor import Executor
from router.plan import BUCKETS, Decision, bucket
from router.policy.model import ErrorClass, Mode, Op

__all__ = ["ShadowCompare", "in_sample"]


def in_sample(route: str, key: str, sample: float) -> bool:
    """Whether ``key`` is among the compared share ``sample`` of ``route``'s keys."""
    return sample > 0 and bucket(f"{route}\0compare", key) < int(sample * BUCKETS)


class ShadowCompare:
    """Schedules and runs background comparisons for one Router."""

    def __init__(self) -> None:
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def wanted(self, executor: Executor, decision: Decision, key: str, served_by: str) -> bool:
        """Whether a read of ``key`` served by ``served_by`` should be compared."""
        route, phase = decision.route, decision.phase
        return (
            route.compare_sample > 0
            and phase.mode is Mode.DUAL_WRITE
            and phase.shadow is not None
            and served_by == phase.primary
            and in_sample(route.name, key, route.compare_sample)
            and executor.journal.pending(route.name, key) is None
        )

    def submit(self, executor: Executor, decision: Decision, key: str, data: bytes | None) -> None:
        """Compare in the background (``data``: what the caller got, if it was read whole)."""
        future = executor.pool.submit(self._run, executor, decision, key, data)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the comparisons scheduled so far."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def _run(self, executor: Executor, decision: Decision, key: str, data: bytes | None) -> None:
        route, phase = decision.route, decision.phase
        assert phase.shadow is not None
        prefix = route.metrics_prefix
        try:
            if data is None:
                primary = executor.backends[phase.primary]
                data = bytes(primary.fs.cat_file(primary.path(key)))
            shadow = executor.backends[phase.shadow]
            other = bytes(shadow.fs.cat_file(shadow.path(key)))
        except Exception as exc:  # a comparison never fails anything; it is counted
            executor.metrics.count(f"{prefix}.compare.error")
            executor.metrics.emit(
                "router.compare.error",
                {
                    "route": route.name,
                    "key": key if route.keys_in_events else None,
                    "error": type(exc).__name__,
                },
            )
            return
        same = len(data) == len(other) and (
            hashlib.sha256(data).digest() == hashlib.sha256(other).digest()
        )
        if same:
            executor.metrics.count(f"{prefix}.compare.match")
            return
        executor.metrics.count(f"{prefix}.compare.mismatch")
        executor.metrics.emit(
            "router.compare.mismatch",
            {
                "route": route.name,
                "phase": phase.name,
                "primary": phase.primary,
                "shadow": phase.shadow,
                "primary_size": len(data),
                "shadow_size": len(other),
                "key": key if route.keys_in_events else None,
            },
        )
        executor.journal_divergence(
            decision,
            Op.READ,
            key,
            truth=phase.primary,
            stale=phase.shadow,
            error_class=ErrorClass.OTHER,
        )
