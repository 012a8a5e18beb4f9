"""Run a child process and measure it: wall time, CPU, peak RSS (``wait4`` rusage)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.core import HERE


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run ``argv`` to completion under :mod:`bench.measure`: wall time, CPU time and
    peak RSS of that process alone (the kernel's ``ru_maxrss``, exact, no sampling)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as res,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-S", str(HERE / "measure.py"), res.name, *argv],
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # one process group: a timeout ends the program too
        )
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        try:
            measured = json.loads(Path(res.name).read_text() or "{}")
        except json.JSONDecodeError:
            measured = {}
    return {
        "argv": argv,
        "rc": measured.get("rc", proc.returncode),
        "timed_out": timed_out,
        "wall_s": measured.get("wall_s"),
        "cpu_s": measured.get("cpu_s"),
        "peak_rss_mib": measured.get("peak_rss_mib"),
        "stdout": stdout,
        "stderr": stderr,
    }


def child(task: str, **params: Any) -> list[str]:
    """argv for a task of :mod:`bench.child` in a fresh interpreter."""
    return [sys.executable, str(HERE / "child.py"), task, json.dumps(params)]


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    return {}


def tail(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def which(name: str) -> str | None:
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None
