"""The benchmark suite's smoke test: ``perf/run.py --quick`` runs every scenario and
writes its results. Benchmarks themselves never run inside the test suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PERF = Path(__file__).resolve().parents[2] / "perf"


def test_quick_run_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(PERF / "run.py"),
            "--quick",
            "--out",
            str(out),
            "--tmp",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["scenarios"]) == ["S1", "S2", "S3", "S4", "S5", "S6"]
    for name, scenario in results["scenarios"].items():
        assert scenario["status"] == "ok", (name, scenario.get("error"))
        assert scenario["tables"], name
    figures = [t["figure"] for t in results["targets"]]
    for prefix in ("S1 local", "S1 S3", "S2 ", "S3 fallback", "S4 backfill", "S5 peak RSS", "S6 "):
        assert any(f.startswith(prefix) for f in figures), prefix
    # a target with no measurement must say why (a tool that is not installed, ...)
    for target in results["targets"]:
        assert target["measured"] is not None or target["detail"], target
    text = (out / "RESULTS.md").read_text()
    assert "## Targets" in text
    assert "| moto |" in text
