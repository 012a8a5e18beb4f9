"""S2 dual-write: a write through a dual-write route vs the max and the sum of its two
legs measured alone (the same backend calls, made directly)."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.core import KIB, MIB, Context, Target, policy
from bench.report import latency_table, table
from bench.s1_overhead import durable_write
from bench.stats import combined

TITLE = "S2 dual-write: both legs concurrently vs each leg alone"
NKEYS = 16


def _s3fs(ctx: Context, server: Any) -> Any:
    import s3fs

    from router.backends import default_options

    opts = default_options("s3")
    retries = opts.pop("s3fs_retries", None)
    fs = s3fs.S3FileSystem(endpoint_url=server.endpoint, skip_instance_cache=True, **opts)
    if retries is not None:
        fs.retries = retries
    return fs


CORES = os.cpu_count() or 1


def _cpu_per_call(
    ctx: Context, variants: dict[str, Any], servers: tuple[Any, ...], calls: int
) -> dict[str, dict[str, float]]:
    """Client and server CPU per call of each variant, over ``calls`` calls in a row."""
    out: dict[str, dict[str, float]] = {}
    for name, fn in variants.items():
        before = [srv.counts()["cpu_s"] for srv in servers]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for r in range(calls):
            fn(r)
        client = (time.process_time() - cpu0) * 1e3 / calls
        wall = (time.perf_counter() - wall0) * 1e3 / calls
        server = (
            sum(srv.counts()["cpu_s"] - b for srv, b in zip(servers, before, strict=True))
            * 1e3
            / calls
        )
        out[name] = {
            "wall_ms": wall,
            "client_ms": client,
            "server_ms": server,
            "total_ms": client + server,
        }
    return out


def _cpu_table(title: str, cpu: dict[str, dict[str, float]]) -> dict[str, Any]:
    rows = [
        [
            name,
            c["wall_ms"],
            c["client_ms"],
            c["server_ms"],
            c["total_ms"],
            c["total_ms"] / CORES,
        ]
        for name, c in cpu.items()
    ]
    return table(
        title,
        [
            "variant",
            "wall ms per call (in a row)",
            "client CPU ms (all threads)",
            "server CPU ms (moto)",
            "CPU ms in all",
            f"CPU floor ms (÷ {CORES} cores)",
        ],
        rows,
        notes=[
            "Each variant run alone, calls back to back; client CPU is this process's "
            "(every thread: caller, pool, s3fs's event loop), server CPU the moto "
            "process(es)'. While client and servers share the cores, no scheduling finishes "
            "a call in less than its CPU divided by the cores: when a dual-write's floor is "
            "above 1.10 x the slower leg alone, the target cannot be met on this machine "
            "without spending less CPU per request — in the S3 client (the server's share is "
            "moto's) — whatever the router does around the two calls."
        ],
    )


def _dual_policy(ctx: Context, name: str, a: dict[str, Any], b: dict[str, Any]) -> dict:
    return policy(
        {"a": a, "b": b},
        {
            "default": {
                "prefix": "",
                "phase": "dual",
                "phases": {"dual": {"primary": "a", "shadow": "b", "mode": "dual-write"}},
            }
        },
        ctx.journal_url(name),
    )


def _case(
    ctx: Context,
    pool: ThreadPoolExecutor,
    tables: list[dict[str, Any]],
    label: str,
    router: Any,
    leg_a: tuple[str, Any],
    leg_b: tuple[str, Any],
    *,
    target: bool,
    note: str,
    servers: tuple[Any, ...] = (),
) -> None:
    def one(size: int, size_label: str) -> None:
        data = os.urandom(size)
        name_a, fn_a = leg_a
        name_b, fn_b = leg_b

        def by_hand(r: int) -> None:
            future = pool.submit(fn_b, r % NKEYS, data)
            fn_a(r % NKEYS, data)
            future.result()

        variants = {
            "router.pipe_file, dual-write": lambda r: router.pipe_file(f"k{r % NKEYS}", data),
            f"leg alone: {name_a}": lambda r: fn_a(r % NKEYS, data),
            f"leg alone: {name_b}": lambda r: fn_b(r % NKEYS, data),
            "both legs by hand, concurrently (a thread + the caller)": by_hand,
        }
        samples = ctx.interleave(
            variants, rounds=ctx.scale(300 if size <= 4 * KIB else 120, 5), budget_s=35
        )
        a, b = samples[f"leg alone: {name_a}"], samples[f"leg alone: {name_b}"]
        per_round_max = combined(a, b, how="max")
        per_round_sum = combined(a, b, how="sum")
        max_of_medians = max(statistics.median(a), statistics.median(b))
        sum_of_medians = statistics.median(a) + statistics.median(b)
        dual = samples["router.pipe_file, dual-write"]
        hand = samples["both legs by hand, concurrently (a thread + the caller)"]
        t = latency_table(
            f"S2 {label}, {size_label} write",
            samples,
            f"leg alone: {name_a}",
            extra={
                "per-round max(legs)": per_round_max,
                "per-round sum(legs)": per_round_sum,
            },
            notes=[
                note,
                f"dual-write p50 ÷ max(leg p50s) = {statistics.median(dual) / max_of_medians:.3f}; "
                f"÷ sum(leg p50s) = {statistics.median(dual) / sum_of_medians:.3f}; "
                f"÷ median of per-round max = "
                f"{statistics.median(dual) / statistics.median(per_round_max):.3f}; "
                f"÷ both legs by hand, concurrently = "
                f"{statistics.median(dual) / statistics.median(hand):.3f} (the floor of a "
                "concurrent write from one process on this machine).",
            ],
        )
        tables.append(t)
        cpu = _cpu_per_call(ctx, variants, servers, ctx.scale(100 if size <= 4 * KIB else 40, 3))
        tables.append(_cpu_table(f"S2 {label}, {size_label} write: CPU per call", cpu))
        floor = cpu["router.pipe_file, dual-write"]["total_ms"] / CORES
        if target:
            ctx.add_target(
                Target(
                    f"S2 dual-write {label}, {size_label} (÷ max of the legs' p50)",
                    "≤ 1.10",
                    statistics.median(dual) / max_of_medians,
                    1.10,
                    detail=f"Δ {(statistics.median(dual) - max_of_medians) * 1e3:+.2f} ms; "
                    f"÷ sum {statistics.median(dual) / sum_of_medians:.2f}; "
                    f"÷ both legs by hand, concurrently "
                    f"{statistics.median(dual) / statistics.median(hand):.2f}; "
                    f"CPU floor (client + server CPU of a dual-write ÷ {CORES} cores) "
                    f"÷ max of the legs: {floor / (max_of_medians * 1e3):.2f}",
                )
            )

    for size, size_label in ((4 * KIB, "4 KiB"), (1 * MIB, "1 MiB")):
        one(size, size_label)


def run(ctx: Context) -> dict[str, Any]:
    from router import Router

    tables: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(1)
    # local + S3: the certificates migration's dual-write phase (primary local, shadow S3)
    root = ctx.dir("s2-local")
    bucket = ctx.bucket("s2")
    s3 = _s3fs(ctx, ctx.server)
    router = Router.from_dict(
        _dual_policy(
            ctx, "s2-ls", {"url": f"file://{root}/router"}, ctx.s3_backend(bucket, "router")
        )
    )
    os.makedirs(f"{root}/hand", exist_ok=True)
    _case(
        ctx,
        pool,
        tables,
        "local + S3",
        router,
        (
            "durable local write (tmp+fsync+rename)",
            lambda i, d: durable_write(f"{root}/hand/k{i}", d),
        ),
        ("s3fs.pipe_file", lambda i, d: s3.pipe_file(f"{bucket}/direct/k{i}", d)),
        target=True,
        servers=(ctx.server,),
        note="Primary: local directory (fsync on, the default), shadow: S3. The local leg "
        "alone is the same durable write done by hand; the S3 leg alone is s3fs with the "
        "router's options.",
    )
    router.close()

    # two S3 buckets on two independent moto servers (two endpoints, as two regions or
    # two providers would be)
    other = ctx.second_server()
    bucket_b = ctx.bucket("s2b", other)
    s3b = _s3fs(ctx, other)
    router = Router.from_dict(
        _dual_policy(
            ctx,
            "s2-ss",
            ctx.s3_backend(bucket, "router2"),
            ctx.s3_backend(bucket_b, "router2", other),
        )
    )
    _case(
        ctx,
        pool,
        tables,
        "S3 + S3 (two moto servers)",
        router,
        ("s3fs.pipe_file, server A", lambda i, d: s3.pipe_file(f"{bucket}/direct2/k{i}", d)),
        ("s3fs.pipe_file, server B", lambda i, d: s3b.pipe_file(f"{bucket_b}/direct2/k{i}", d)),
        target=True,
        servers=(ctx.server, other),
        note="Two buckets on two moto server processes. Each moto server handles a request "
        "in about one core's worth of Python; with 2 cores shared by two servers and the "
        "client, concurrent legs still slow each other down a little.",
    )
    router.close()

    # two buckets on the same moto server: the server serializes its work (the GIL)
    bucket_c = ctx.bucket("s2c")
    router = Router.from_dict(
        _dual_policy(
            ctx, "s2-same", ctx.s3_backend(bucket, "router3"), ctx.s3_backend(bucket_c, "router3")
        )
    )
    _case(
        ctx,
        pool,
        tables,
        "S3 + S3 (one moto server)",
        router,
        ("s3fs.pipe_file, bucket A", lambda i, d: s3.pipe_file(f"{bucket}/direct3/k{i}", d)),
        ("s3fs.pipe_file, bucket B", lambda i, d: s3.pipe_file(f"{bucket_c}/direct3/k{i}", d)),
        target=False,
        servers=(ctx.server,),
        note="Both buckets on one moto server: it runs Python request handlers under one GIL, "
        "so two concurrent PUTs take about as long as two sequential ones — the sum, not the "
        "max, is the floor here. Shown for information; the target is judged on two servers.",
    )
    router.close()
    pool.shutdown()
    return {"title": TITLE, "tables": tables}
