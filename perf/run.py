"""Run the storage-router benchmark suite: ``python perf/run.py [--quick] [--out DIR]``.

Starts its own moto S3 server (a separate process on 127.0.0.1), runs the scenarios
S1-S6, and writes ``RESULTS.md`` and ``results.json`` into ``--out`` (default: perf/ for
a full run, a fresh temp directory for ``--quick``). See perf/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
REPO = PERF.parent
sys.path.insert(0, str(PERF))

from bench import machine  # noqa: E402
from bench.core import Context, MotoServer, set_s3_env  # noqa: E402
from bench.report import render_table, render_targets  # noqa: E402

SCENARIOS = {
    "S1": "bench.s1_overhead",
    "S2": "bench.s2_dualwrite",
    "S3": "bench.s3_fallback",
    "S4": "bench.s4_backfill",
    "S5": "bench.s5_streaming",
    "S6": "bench.s6_metrics",
}


def _cpu_busy() -> float:
    """Busy CPU seconds of the whole machine so far (from /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few rounds, small data")
    parser.add_argument("--out", type=Path, help="where RESULTS.md and results.json go")
    parser.add_argument("--only", help="comma-separated scenarios, e.g. S1,S4 (default: all)")
    parser.add_argument("--tmp", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite OUT/RESULTS.md from OUT/results.json",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        out = args.out or PERF
        results = json.loads((out / "results.json").read_text())
        results["meta"]["rerendered"] = True
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        (out / "RESULTS.md").write_text(render(results))
        print(f"rewrote {out / 'RESULTS.md'} from {out / 'results.json'}")
        return 0

    out: Path = args.out or (PERF if not args.quick else Path(tempfile.mkdtemp(prefix="perf-")))
    out.mkdir(parents=True, exist_ok=True)
    only = [s.strip().upper() for s in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")

    set_s3_env()
    meta = machine.describe(REPO)
    meta["mode"] = "quick" if args.quick else "full"
    meta["command"] = "python perf/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    scratch = Path(tempfile.mkdtemp(prefix="perf-scratch-", dir=args.tmp))
    started = time.time()
    busy0, own0 = _cpu_busy(), _own_cpu()
    results: dict[str, Any] = {"meta": meta, "scenarios": {}, "targets": []}
    failed = []
    server = MotoServer()
    ctx = Context(quick=args.quick, out=out, tmp=scratch, server=server)
    try:
        for name in only:
            print(f"== {name}", flush=True)
            t0 = time.time()
            try:
                module = __import__(SCENARIOS[name], fromlist=["run"])
                result = module.run(ctx)
                result["status"] = "ok"
            except Exception as exc:
                traceback.print_exc()
                failed.append(name)
                result = {
                    "title": name,
                    "status": "error",
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                    "tables": [],
                }
            result["seconds"] = round(time.time() - t0, 1)
            results["scenarios"][name] = result
            print(f"   {name}: {result['status']} in {result['seconds']} s", flush=True)
    finally:
        server.stop()
        for extra in ctx.extra_servers:
            extra.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.time() - started
    busy = _cpu_busy() - busy0
    own = _own_cpu() - own0
    meta["elapsed_s"] = round(elapsed, 1)
    meta["load_after"] = list(os.getloadavg())
    meta["cpu_seconds"] = {
        "machine_busy": round(busy, 1),
        "this_run": round(own, 1),
        "other_processes": round(busy - own, 1),
        "available": round(elapsed * (os.cpu_count() or 1), 1),
    }
    results["targets"] = [t.as_dict() for t in ctx.targets]
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "RESULTS.md").write_text(render(results))
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'} in {elapsed:.0f} s")
    return 1 if failed else 0


def render(results: dict[str, Any]) -> str:
    from bench.explain import EXPLANATIONS, PREAMBLE

    meta = results["meta"]
    cpu = meta["cpu_seconds"]
    # judged on what other processes did *during* the run; the load average before it
    # is a trailing mean that still holds whatever ran just before (shown, not judged)
    share = cpu["other_processes"] / cpu["available"] if cpu["available"] else 0.0
    idle = share < 0.05
    lines = [
        "# storage-router benchmarks",
        "",
        f"Written by `{meta['command'].strip()}` ({meta['mode']} run) in {meta['elapsed_s']:.0f} s"
        + (
            "; the text was rendered again from its results.json with `--render-only` "
            "(same measurements)."
            if meta.get("rerendered")
            else "."
        ),
        "",
        "## Machine",
        "",
        f"- {meta['cpu']}, {meta['cores']} cores, {meta['memory_gib']} GiB; {meta['platform']}",
        f"- Python {meta['python']}; tree at {meta['git']}",
        f"- load average before: {', '.join(f'{x:.2f}' for x in meta['load_before'])}; "
        f"after: {', '.join(f'{x:.2f}' for x in meta['load_after'])}",
        f"- CPU during the run: {cpu['this_run']} s by this run (client, moto servers and "
        f"tools), {cpu['other_processes']} s by other processes ({share:.1%}), of "
        f"{cpu['available']} s available — the machine was "
        f"**{'otherwise idle' if idle else 'shared with other work'}** (shared: other "
        "processes took 5% or more of the CPU during the run).",
        "",
        "| library | version |",
        "| --- | --- |",
    ]
    for name, version in meta["versions"].items():
        lines.append(f"| {name} | {version or 'not installed'} |")
    lines += ["", PREAMBLE, "", "## Targets", "", render_targets(results["targets"])]
    missed = [t for t in results["targets"] if t["met"] is False]
    unmeasured = [t for t in results["targets"] if t["met"] is None]
    if missed or unmeasured:
        lines += ["### Missed or not measured, and why", ""]
        groups: dict[str, list[dict[str, Any]]] = {}
        for t in missed + unmeasured:
            why = next(
                (text for key, text in EXPLANATIONS.items() if t["figure"].startswith(key)), None
            )
            groups.setdefault(why or t["detail"] or "no explanation recorded", []).append(t)
        for why, group in groups.items():
            names = "; ".join(
                f"**{t['figure']}** ({'missed' if t['met'] is False else 'not measured'})"
                for t in group
            )
            lines.append(f"- {names}: {why}")
        lines.append("")
    for name, scenario in results["scenarios"].items():
        lines += [f"## {name}: {scenario['title']}", "", f"({scenario['seconds']:.0f} s)", ""]
        if scenario["status"] != "ok":
            lines += [
                f"**This scenario failed:** `{scenario['error']}`",
                "",
                "```",
                scenario.get("traceback", "").strip(),
                "```",
                "",
            ]
        for note in scenario.get("notes", []):
            lines += [note, ""]
        for t in scenario["tables"]:
            lines.append(render_table(t))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(main())
