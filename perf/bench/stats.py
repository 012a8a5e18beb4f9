"""Timing: interleaved rounds, percentiles, ratios of medians with a bootstrap interval."""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

Samples = dict[str, list[float]]


def interleave(
    variants: Mapping[str, Callable[[int], Any]],
    rounds: int,
    *,
    warmup: int = 3,
    budget_s: float | None = None,
    seed: int = 7,
) -> Samples:
    """Time one call of each variant per round, A/B/A/B, in a shuffled order per round.

    ``variants`` take the round number (to pick a key). Returns seconds per call.
    Stops early (after at least 20 rounds) once ``budget_s`` is spent.
    """
    rng = random.Random(seed)
    names = list(variants)
    for i in range(warmup):
        for name in names:
            variants[name](-1 - i)
    gc.collect()
    out: Samples = {name: [] for name in names}
    clock = time.perf_counter
    started = clock()
    for r in range(rounds):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            fn = variants[name]
            t0 = clock()
            fn(r)
            out[name].append(clock() - t0)
        if budget_s is not None and r >= 20 and clock() - started > budget_s:
            break
    return out


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (same as numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """n, p50, p95, p99, mean (in ms for seconds input)."""
    return {
        "n": len(values),
        "p50": quantile(values, 0.50) * scale,
        "p95": quantile(values, 0.95) * scale,
        "p99": quantile(values, 0.99) * scale,
        "mean": (statistics.fmean(values) * scale) if values else float("nan"),
    }


def ratio(a: list[float], b: list[float]) -> float:
    """median(a) / median(b)."""
    return statistics.median(a) / statistics.median(b)


def ratio_ci(
    a: list[float], b: list[float], *, reps: int = 400, seed: int = 11
) -> tuple[float, float]:
    """A 95% bootstrap interval for median(a)/median(b)."""
    rng = random.Random(seed)
    na, nb = len(a), len(b)
    values = []
    for _ in range(reps):
        ma = statistics.median(a[rng.randrange(na)] for _ in range(na))
        mb = statistics.median(b[rng.randrange(nb)] for _ in range(nb))
        values.append(ma / mb)
    return quantile(values, 0.025), quantile(values, 0.975)


def combined(*samples: list[float], how: str = "sum") -> list[float]:
    """Per-round sum or max of several variants' samples (same rounds)."""
    n = min(len(s) for s in samples)
    fn = sum if how == "sum" else max
    return [fn(s[i] for s in samples) for i in range(n)]
