"""S6 metrics on vs off: the router's per-op cost of counters, histograms and events on
a local backend (issue 4's figure)."""

from __future__ import annotations

import os
from typing import Any

from bench.core import KIB, Context, Target, policy
from bench.report import latency_table
from bench.stats import ratio, ratio_ci

TITLE = "S6 metrics: on vs off, 4 KiB on a local backend"
NKEYS = 16


def run(ctx: Context) -> dict[str, Any]:
    from fsspec.implementations.local import LocalFileSystem

    from router import Router

    root = ctx.dir("s6")
    pol = policy(
        {"local": {"url": f"file://{root}", "options": {"fsync": False}}},
        {"default": {"prefix": "", "primary": "local"}},
        ctx.journal_url("s6"),
    )
    on = Router.from_dict(pol, metrics=True)
    off = Router.from_dict(pol, metrics=False)
    direct = LocalFileSystem(skip_instance_cache=True)
    data = os.urandom(4 * KIB)
    for i in range(NKEYS):
        on.pipe_file(f"k{i}", data)
    tables = []
    reads = ctx.interleave(
        {
            "router.cat_file, metrics off": lambda r: off.cat_file(f"k{r % NKEYS}"),
            "router.cat_file, metrics on": lambda r: on.cat_file(f"k{r % NKEYS}"),
            "fsspec LocalFileSystem.cat_file": lambda r: direct.cat_file(f"{root}/k{r % NKEYS}"),
        },
        rounds=ctx.scale(4000, 100),
        budget_s=15,
    )
    t = latency_table(
        "S6 4 KiB read",
        reads,
        "router.cat_file, metrics off",
        notes=[
            "Metrics on: the counters and the latency histogram of each call. structlog is "
            "not configured in this process and no listener or exporter is registered, so no "
            "`router.op` event is built: the figure is the registry's own cost."
        ],
    )
    tables.append(t)
    a, b = reads["router.cat_file, metrics on"], reads["router.cat_file, metrics off"]
    ctx.add_target(
        Target(
            "S6 metrics on ÷ off, 4 KiB local read through the router",
            "≤ 1.05",
            ratio(a, b),
            1.05,
            ci=ratio_ci(a, b),
            detail=f"Δp50 {(t['stats']['router.cat_file, metrics on']['p50'] - t['stats']['router.cat_file, metrics off']['p50']) * 1000:+.1f} µs",
        )
    )
    writes = ctx.interleave(
        {
            "router.pipe_file, metrics off": lambda r: off.pipe_file(f"w{r % NKEYS}", data),
            "router.pipe_file, metrics on": lambda r: on.pipe_file(f"w{r % NKEYS}", data),
        },
        rounds=ctx.scale(1500, 50),
        budget_s=10,
    )
    tables.append(
        latency_table("S6 4 KiB write (fsync: false)", writes, "router.pipe_file, metrics off")
    )
    on.close()
    off.close()
    return {"title": TITLE, "tables": tables}
