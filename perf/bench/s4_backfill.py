"""S4 backfill: local → S3 with ``router backfill`` vs ``rclone copy`` and ``aws s3 sync``
(default flags), and a raw-HTTP ceiling (many threads of bare signed PUTs).

Each tool runs in its own process into a fresh bucket: objects/s and MiB/s from the
process's wall time (start-up included, as an operator sees it), HTTP requests per object
from the moto server's counter, peak RSS from the kernel's rusage of the process.

Each copying tool then runs a second time over the same, now complete, bucket (a fresh
work directory, so no checkpoint is reused): that *no-op run* is the tool's start-up plus
its listing and comparison, and the run's wall time minus it is the time spent moving
bytes. Both are reported, so a tool that starts slowly and a tool that copies slowly can
be told apart."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.core import KIB, MIB, S3_ENV, Context, Target
from bench.procs import child, run_measured, tail, which
from bench.report import table

TITLE = "S4 backfill: router backfill vs rclone copy, aws s3 sync and raw PUTs"
RAW_THREADS = 16
RAW = f"raw PUTs, {RAW_THREADS} threads"
TOOLS = ("router backfill", "rclone copy", "aws s3 sync", RAW)
COPIERS = ("router backfill", "rclone copy", "aws s3 sync")
"""The tools whose second run over a complete bucket copies nothing (the raw ceiling
would PUT everything again)."""


def _make_tree(root: Path, count: int, size: int) -> None:
    directory = root / "certificates"
    directory.mkdir(parents=True)
    for i in range(count):
        (directory / f"c{i:05d}.pdf").write_bytes(os.urandom(size))


def _aws() -> str | None:
    path = which("aws")
    if path and "/.pyenv/shims/" in path:  # skip pyenv's shim: exec the real script
        real = subprocess.run(
            ["pyenv", "which", "aws"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if real:
            return real
    return path


def _listing(ctx: Context, bucket: str) -> tuple[int, int]:
    client = ctx.boto3_client()
    n = total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            n += 1
            total += obj["Size"]
    return n, total


def _empty(ctx: Context, bucket: str) -> None:
    client = ctx.boto3_client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


def _command(ctx: Context, tool: str, src: Path, bucket: str, work: Path) -> tuple[list[str], dict]:
    ep = ctx.server.endpoint
    env = {**os.environ, **S3_ENV}
    if tool == "router backfill":
        s3_options: dict[str, Any] = {"endpoint_url": ep}
        journal = work / "journal"
        policy = {
            "version": 1,
            "backends": {
                "local": {"url": f"file://{src}"},
                "s3": {"url": f"s3://{bucket}/dst", "options": s3_options},
            },
            "journal": {"url": f"file://{journal}"},
            "routes": {
                "certificates": {
                    "prefix": "certificates/",
                    "phase": "dual-write",
                    "phases": {
                        "legacy": {"primary": "local"},
                        "dual-write": {"primary": "local", "shadow": "s3", "mode": "dual-write"},
                    },
                }
            },
        }
        path = work / "policy.yaml"
        path.write_text(yaml.safe_dump(policy, sort_keys=False))
        exe = which("router")
        base = [exe] if exe else [os.sys.executable, "-m", "router.cli"]  # type: ignore[attr-defined]
        return [*base, "backfill", str(path), "--route", "certificates", "--progress", "none"], env
    if tool == "rclone copy":
        env.update(
            RCLONE_CONFIG_MOTO_TYPE="s3",
            RCLONE_CONFIG_MOTO_PROVIDER="Other",
            RCLONE_CONFIG_MOTO_ENDPOINT=ep,
            RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=S3_ENV["AWS_ACCESS_KEY_ID"],
            RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=S3_ENV["AWS_SECRET_ACCESS_KEY"],
            RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE="true",
            RCLONE_CONFIG_MOTO_REGION="us-east-1",
        )
        # rclone's AWS SDK fails on a custom CA bundle with its own transport; the server
        # is plain http on 127.0.0.1, so no bundle is needed
        env.pop("AWS_CA_BUNDLE", None)
        exe = which("rclone")
        assert exe
        return [exe, "copy", f"{src}/certificates", f"moto:{bucket}/dst/certificates"], env
    if tool == "aws s3 sync":
        exe = _aws()
        assert exe
        return [
            exe,
            "s3",
            "sync",
            f"{src}/certificates",
            f"s3://{bucket}/dst/certificates",
            "--endpoint-url",
            ep,
            "--only-show-errors",
        ], env
    return child(
        "raw-put", src=str(src), endpoint=ep, bucket=bucket, prefix="dst", threads=RAW_THREADS
    ), env


def _available(tool: str) -> str | None:
    """None when the tool can run here, else why not."""
    if tool == "rclone copy" and not which("rclone"):
        return "rclone is not installed (apt-get install rclone)"
    if tool == "aws s3 sync" and not _aws():
        return "the aws CLI is not installed (pip install awscli)"
    if tool == "router backfill":
        from router.cli import commands

        if "backfill" not in commands.COMMANDS:
            return "this tree has no `router backfill` command yet"
    return None


def _dataset(ctx: Context, name: str, count: int, size: int) -> dict[str, Any]:
    src = ctx.dir(f"s4-src-{name}")
    _make_tree(src, count, size)
    reps = ctx.scale(3, 1)
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    missing = {tool: why for tool in TOOLS if (why := _available(tool))}
    for rep in range(reps):
        order = TOOLS if rep % 2 == 0 else tuple(reversed(TOOLS))
        for tool in order:
            if tool in missing:
                continue
            work = ctx.dir(f"s4-work-{name}-{rep}-{TOOLS.index(tool)}")
            bucket = ctx.bucket("s4")
            argv, env = _command(ctx, tool, src, bucket, work)
            ctx.log(f"    {name}: {tool} (rep {rep + 1}/{reps})")
            result, reqs = ctx.count_requests(
                lambda argv=argv, env=env, work=work: run_measured(argv, env=env, cwd=work)
            )
            n, total = _listing(ctx, bucket)
            ok = result["rc"] == 0 and n == count and total == count * size
            if not ok:
                runs[tool].append(
                    {
                        "failed": True,
                        "rc": result["rc"],
                        "objects": n,
                        "stderr": tail(result["stderr"] or result["stdout"]),
                    }
                )
                ctx.log(f"      FAILED rc={result['rc']} objects={n}/{count}")
                ctx.log(tail(result["stderr"] or result["stdout"], 6))
            else:
                runs[tool].append(
                    {
                        "wall_s": result["wall_s"],
                        "cpu_s": result["cpu_s"],
                        "peak_rss_mib": result["peak_rss_mib"],
                        "requests": reqs["requests"],
                        "requests_total": reqs["total"],
                        "server_cpu_s": reqs["server_cpu_s"],
                        **(
                            _noop(ctx, tool, src, bucket, f"{name}-{rep}")
                            if tool in COPIERS
                            else {}
                        ),
                    }
                )
            _empty(ctx, bucket)
    shutil.rmtree(src, ignore_errors=True)
    return {"count": count, "size": size, "runs": runs, "missing": missing}


def _noop(ctx: Context, tool: str, src: Path, bucket: str, label: str) -> dict[str, Any]:
    """The tool run again over the complete bucket: start-up, listing and comparison."""
    work = ctx.dir(f"s4-noop-{label}-{TOOLS.index(tool)}")
    argv, env = _command(ctx, tool, src, bucket, work)
    if tool == "router backfill":
        # its default check hashes a local object to compare with an existing ETag,
        # which the measured run (into an empty bucket) never does: sizes only here
        argv = [*argv, "--size-only"]
    result, reqs = ctx.count_requests(lambda: run_measured(argv, env=env, cwd=work))
    if result["rc"] != 0 or reqs["requests"].get("PUT object"):
        return {"noop_failed": tail(result["stderr"] or result["stdout"])}
    return {"noop_wall_s": result["wall_s"], "noop_requests": reqs["total"]}


def _median(run: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in run if not r.get("failed") and r.get(field) is not None]
    return statistics.median(values) if values else None


def _transfer_s(run: list[dict[str, Any]]) -> float | None:
    """Median of (wall - no-op run) over the runs that have both."""
    values = [
        r["wall_s"] - r["noop_wall_s"]
        for r in run
        if not r.get("failed") and r.get("noop_wall_s") is not None
    ]
    return statistics.median(values) if values else None


def _rate(run: list[dict[str, Any]], count: int) -> float | None:
    good = [r for r in run if not r.get("failed")]
    if not good:
        return None
    return count / statistics.median(r["wall_s"] for r in good)


def _table(name: str, data: dict[str, Any]) -> dict[str, Any]:
    count, size = data["count"], data["size"]
    rows = []
    rclone = _rate(data["runs"]["rclone copy"], count)
    blank = [None] * 11
    for tool in TOOLS:
        if tool in data["missing"]:
            rows.append([tool, "not run: " + data["missing"][tool], *blank[1:]])
            continue
        runs = data["runs"][tool]
        good = [r for r in runs if not r.get("failed")]
        if not good:
            rows.append([tool, "FAILED: " + runs[0]["stderr"].replace("\n", " ")[:300], *blank[1:]])
            continue
        rate = _rate(runs, count)
        assert rate is not None
        best = min(good, key=lambda r: r["wall_s"])
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(best["requests"].items()))
        rows.append(
            [
                tool,
                " / ".join(f"{r['wall_s']:.2f}" for r in good),
                rate,
                rate * size / MIB,
                rate / rclone if rclone else None,
                _median(runs, "noop_wall_s"),
                _transfer_s(runs),
                best["requests_total"] / count,
                kinds,
                max(r["peak_rss_mib"] for r in good),
                statistics.median(r["cpu_s"] for r in good),
                statistics.median(r["server_cpu_s"] for r in good) * 1000 / count,
            ]
        )
    return table(
        f"S4 {name}: {count:,} x {size // KIB if size < MIB else size // MIB} "
        f"{'KiB' if size < MIB else 'MiB'}, local → S3",
        [
            "tool",
            "wall s (each run)",
            "objects/s",
            "MiB/s",
            "÷ rclone",
            "no-op run s (start-up + listing)",
            "wall - no-op s (moving bytes)",
            "HTTP req/object",
            "requests by kind",
            "peak RSS MiB",
            "client CPU s",
            "server CPU ms/object",
        ],
        rows,
    )


_CLIENT = (
    "import router.cli.main, botocore.session; "
    "botocore.session.get_session().create_client('s3', region_name='us-east-1')"
)
STARTUP = (
    ("python -c pass", ["-c", "pass"]),
    ("import router.cli.main (the CLI and the policy model)", ["-c", "import router.cli.main"]),
    ("+ import botocore and build an S3 client (the backfill's)", ["-c", _CLIENT]),
    (
        "+ import s3fs, aiobotocore, aiohttp (the backfill does not)",
        ["-c", _CLIENT + "; import s3fs"],
    ),
)


def _startup(ctx: Context) -> dict[str, Any]:
    """Where a router process's start-up goes: the wall time of each step, cumulative."""
    rows = []
    for label, args in STARTUP:
        walls = [
            run_measured([sys.executable, *args], env=dict(os.environ))["wall_s"]
            for _ in range(ctx.scale(5, 1))
        ]
        rows.append([label, statistics.median(walls) * 1000])
    rclone = which("rclone")
    if rclone:
        walls = [run_measured([rclone, "version"])["wall_s"] for _ in range(ctx.scale(5, 1))]
        rows.append(["rclone version (for comparison)", statistics.median(walls) * 1000])
    return table(
        "S4 start-up: a Python process's imports, measured alone",
        ["step (cumulative)", "wall ms (median)"],
        rows,
        notes=[
            "Each line a new process doing the steps above it too: the difference between "
            "two lines is that step's cost. The backfill sends every request through its "
            "own botocore client, built from the backend's options; the s3fs filesystem "
            "(and with it aiobotocore and aiohttp) is built only on first use, which a "
            "backfill never makes — the last line is what it would cost."
        ],
    )


def run(ctx: Context) -> dict[str, Any]:
    small = _dataset(ctx, "small", ctx.scale(2000, 20), 4 * KIB)
    large = _dataset(ctx, "large", ctx.scale(20, 2), ctx.scale(8, 1) * MIB)
    big = f"{large['size'] // MIB} MiB"
    tables = [_table("small objects", small), _table(f"{big} objects", large), _startup(ctx)]
    notes = [
        "Default flags for every tool: `router backfill POLICY --route certificates` "
        "(concurrency 8), `rclone copy SRC moto:BUCKET/...` (4 transfers, 8 checkers), "
        f"`aws s3 sync SRC s3://BUCKET/... --endpoint-url ...`; the ceiling is {RAW_THREADS} "
        "threads of boto3 `put_object` sharing one client. Each run goes to a fresh bucket "
        "and is checked afterwards (object count and bytes) before it counts.",
        "No-op run: each copying tool run a second time over the complete bucket, from a "
        "fresh work directory — its start-up, listings and comparison, with nothing to copy "
        "(checked: no PUT); the router's with `--size-only`, since its default check "
        "hashes local objects to compare with existing ETags, which the measured run, "
        "into an empty bucket, never does. `wall - no-op` is the median over runs of the time spent moving "
        "bytes. Objects/s and the targets use the whole wall time, start-up included.",
    ]
    for label, data in (("small", small), (big, large)):
        runs = data["runs"]
        router_rate = _rate(runs["router backfill"], data["count"])
        rclone_rate = _rate(runs["rclone copy"], data["count"])
        raw_rate = _rate(runs[RAW], data["count"])
        why = data["missing"].get("router backfill") or data["missing"].get("rclone copy") or ""
        detail = why
        if router_rate and rclone_rate:
            detail = f"{router_rate:.0f} vs {rclone_rate:.0f} objects/s"
            phases = [
                (_median(runs[t], "noop_wall_s"), _transfer_s(runs[t]))
                for t in ("router backfill", "rclone copy")
            ]
            (r_noop, r_move), (c_noop, c_move) = phases
            if None not in (r_noop, r_move, c_noop, c_move):
                detail += (
                    f"; start-up + listing (no-op run) {r_noop:.2f} s vs {c_noop:.2f} s; "
                    f"moving bytes {r_move:.2f} s vs {c_move:.2f} s "
                    f"(router ÷ rclone on that part alone: {c_move / r_move:.2f})"
                )
        ctx.add_target(
            Target(
                f"S4 backfill {label} objects (router ÷ rclone copy, objects/s)",
                "≥ 1.5" if label == "small" else "≥ 1.0",
                router_rate / rclone_rate if router_rate and rclone_rate else None,
                1.5 if label == "small" else 1.0,
                higher_is_better=True,
                detail=detail,
            )
        )
        if label == "small":
            ctx.add_target(
                Target(
                    "S4 backfill small objects (router ÷ raw-HTTP ceiling, objects/s)",
                    "≥ 0.8",
                    router_rate / raw_rate if router_rate and raw_rate else None,
                    0.8,
                    higher_is_better=True,
                    detail=f"{router_rate:.0f} vs {raw_rate:.0f} objects/s"
                    if router_rate and raw_rate
                    else why,
                )
            )
            good = [r for r in runs["router backfill"] if not r.get("failed")]
            per_object = min(r["requests_total"] for r in good) / data["count"] if good else None
            ctx.add_target(
                Target(
                    "S4 backfill small objects: HTTP requests per object copied",
                    "≤ 1.01 (one PUT each; listings amortized)",
                    per_object,
                    1.01,
                    detail=", ".join(f"{k} {v}" for k, v in sorted(good[0]["requests"].items()))
                    if good
                    else why,
                )
            )
    return {
        "title": TITLE,
        "tables": tables,
        "notes": notes,
        "raw": {"small": small, "large": large},
    }
