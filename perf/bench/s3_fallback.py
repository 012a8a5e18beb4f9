"""S3 fallback read: the key is missing on S3 (NoSuchKey), the router falls back to the
local copy; vs the two direct calls made one after the other."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from bench.core import KIB, Context, Target, policy
from bench.report import latency_table
from bench.s2_dualwrite import _s3fs
from bench.stats import ratio, ratio_ci

TITLE = "S3 fallback read: S3 miss, then the local copy"
NKEYS = 16


def run(ctx: Context) -> dict[str, Any]:
    from fsspec.implementations.local import LocalFileSystem

    from router import Router

    root = ctx.dir("s3-local")
    bucket = ctx.bucket("s3fb")
    s3 = _s3fs(ctx, ctx.server)
    client = ctx.boto3_client()
    local = LocalFileSystem(skip_instance_cache=True)
    router = Router.from_dict(
        policy(
            {"local": {"url": f"file://{root}"}, "s3": ctx.s3_backend(bucket, "media")},
            {
                "default": {
                    "prefix": "",
                    "phase": "s3-read",
                    "phases": {
                        "s3-read": {"primary": "s3", "shadow": "local", "mode": "read-primary"}
                    },
                    "fallbacks": {"read": {"on": ["not_found", "transient"]}},
                }
            },
            ctx.journal_url("s3"),
        )
    )
    data = os.urandom(4 * KIB)
    for i in range(NKEYS):
        local.pipe_file(f"{root}/k{i}", data)

    def s3fs_then_local(r: int) -> bytes:
        try:
            return s3.cat_file(f"{bucket}/media/k{r % NKEYS}")  # type: ignore[no-any-return]
        except FileNotFoundError:
            return local.cat_file(f"{root}/k{r % NKEYS}")  # type: ignore[no-any-return]

    def boto3_then_local(r: int) -> bytes:
        try:
            return client.get_object(Bucket=bucket, Key=f"media/k{r % NKEYS}")["Body"].read()  # type: ignore[no-any-return]
        except client.exceptions.NoSuchKey:
            return local.cat_file(f"{root}/k{r % NKEYS}")  # type: ignore[no-any-return]

    def s3fs_miss(r: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            s3.cat_file(f"{bucket}/media/k{r % NKEYS}")

    variants = {
        "s3fs miss + local read (direct)": s3fs_then_local,
        "router.cat_file (S3 miss → local)": lambda r: router.cat_file(f"k{r % NKEYS}"),
        "boto3 NoSuchKey + local read (direct)": boto3_then_local,
        "s3fs miss alone": s3fs_miss,
        "local read alone": lambda r: local.cat_file(f"{root}/k{r % NKEYS}"),
    }
    assert router.cat_file("k0") == data
    reqs = {
        name: ctx.count_requests(lambda fn=fn: fn(0))[1]["total"] for name, fn in variants.items()
    }
    samples = ctx.interleave(variants, rounds=ctx.scale(400, 12), budget_s=45)
    base = "s3fs miss + local read (direct)"
    t = latency_table(
        "S3 fallback, 4 KiB",
        samples,
        base,
        notes=[
            "Route phase read-primary (primary S3, shadow local), `read: {on: [not_found, "
            "transient]}`; the key exists only on the local side. HTTP requests per call: "
            + ", ".join(f"{n}: {c}" for n, c in reqs.items())
        ],
    )
    a, b = samples["router.cat_file (S3 miss → local)"], samples[base]
    ctx.add_target(
        Target(
            "S3 fallback read, 4 KiB (router ÷ S3 miss + local read)",
            "≤ 1.10",
            ratio(a, b),
            1.10,
            ci=ratio_ci(a, b),
            detail=f"router requests per read: {reqs['router.cat_file (S3 miss → local)']}",
        )
    )
    router.close()
    return {"title": TITLE, "tables": [t]}
