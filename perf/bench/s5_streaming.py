"""S5 streaming: one big object, local → S3, each upload in its own process; peak RSS
(kernel rusage of that process) vs boto3's ``upload_fileobj`` alone."""

from __future__ import annotations

import os
from typing import Any

from bench.core import MIB, Context, Target
from bench.procs import child, last_json, run_measured, tail
from bench.report import table

TITLE = "S5 streaming: one big object local → S3, peak RSS per process"

VARIANTS = {
    "idle": "imports only (the floor every process starts from)",
    "boto3": "boto3 upload_fileobj (defaults: 8 MiB parts, 10 threads)",
    "router": "router.open(key, 'wb'), primary-only S3 route",
    "dual-local-s3": "router.open(key, 'wb'), dual-write: primary local, shadow S3",
    "dual-s3-local": "router.open(key, 'wb'), dual-write: primary S3, shadow local",
    "s3fs-defaults": "s3fs put_file with s3fs defaults (for reference)",
}
SHORT = {
    "router": "router primary-only S3",
    "dual-local-s3": "dual-write local → S3 shadow",
    "dual-s3-local": "dual-write S3 primary, local shadow",
}


def _make_file(path: str, size: int) -> None:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def run(ctx: Context) -> dict[str, Any]:
    size = ctx.scale(512, 4) * MIB
    reps = ctx.scale(2, 1)
    work = ctx.dir("s5")
    src = str(work / "big.bin")
    _make_file(src, size)
    bucket = ctx.bucket("s5")
    client = ctx.boto3_client()
    env = {**os.environ}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    order = list(VARIANTS)
    for rep in range(reps):
        for name in order if rep % 2 == 0 else list(reversed(order)):
            local = ctx.dir(f"s5-local-{name}")
            journal = ctx.dir(f"s5-journal-{name}")
            argv = child(
                "s5-upload",
                mode=name,
                file=src,
                endpoint=ctx.server.endpoint,
                bucket=bucket,
                root=name,
                key="big.bin",
                local=str(local),
                journal=str(journal),
            )
            ctx.log(f"    {name} (rep {rep + 1}/{reps})")
            result, reqs = ctx.count_requests(lambda argv=argv: run_measured(argv, env=env))
            if result["rc"] != 0:
                raise RuntimeError(f"S5 {name} failed:\n{tail(result['stderr'])}")
            out = last_json(result["stdout"])
            if name != "idle":
                head = client.head_object(Bucket=bucket, Key=f"{name}/big.bin")
                if head["ContentLength"] != size:
                    raise RuntimeError(f"S5 {name}: uploaded {head['ContentLength']} of {size}")
                client.delete_object(Bucket=bucket, Key=f"{name}/big.bin")
            if name.startswith("dual") and os.path.getsize(local / "big.bin") != size:
                raise RuntimeError(f"S5 {name}: local copy is incomplete")
            runs[name].append({**result, **out, "requests": reqs["total"]})
    rows = []
    peaks = {name: min(r["peak_rss_mib"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        best = min(rs, key=lambda r: r["peak_rss_mib"])
        secs = sorted(r.get("seconds", r["wall_s"]) for r in rs)
        rows.append(
            [
                VARIANTS[name],
                " / ".join(f"{r['peak_rss_mib']:.0f}" for r in rs),
                peaks[name] - peaks["idle"],
                peaks[name] / peaks["boto3"] if name != "idle" else None,
                (size / MIB) / secs[len(secs) // 2] if name != "idle" else None,
                best["requests"],
                best["cpu_s"],
            ]
        )
    for name in ("router", "dual-local-s3", "dual-s3-local"):
        ctx.add_target(
            Target(
                f"S5 peak RSS, {size // MIB} MiB upload, {SHORT[name]} (÷ boto3 upload_fileobj)",
                "≤ 1.20",
                peaks[name] / peaks["boto3"],
                1.20,
                detail=f"{peaks[name]:.0f} MiB vs {peaks['boto3']:.0f} MiB "
                f"({peaks[name] - peaks['idle']:.0f} vs {peaks['boto3'] - peaks['idle']:.0f} "
                f"above the {peaks['idle']:.0f} MiB import floor)",
            )
        )
    t = table(
        f"S5 one {size // MIB} MiB object, local file → S3",
        [
            "variant",
            "peak RSS MiB (each run)",
            "above floor MiB",
            "÷ boto3 peak",
            "MiB/s",
            "HTTP requests",
            "CPU s",
        ],
        rows,
        [
            f"{reps} run(s) per variant, interleaved; the ratio uses the lowest peak of each "
            "variant. Every process imports boto3, s3fs and the router before it starts, so "
            "the floor is the same for all. The router copies with `shutil.copyfileobj` "
            "(64 KiB writes), as an application streaming an upload would.",
        ],
    )
    os.unlink(src)
    return {
        "title": TITLE,
        "tables": [t],
        "raw": {k: [_slim(r) for r in v] for k, v in runs.items()},
    }


def _slim(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("stdout", "stderr", "argv")}
