"""Machine details and library versions for the top of RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "storage-router",
    "fsspec",
    "s3fs",
    "aiobotocore",
    "boto3",
    "botocore",
    "moto",
    "werkzeug",
    "structlog",
    "pydantic",
)


def _cmd(args: list[str]) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def describe(repo: Path) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["rclone"] = _cmd(["rclone", "version"])
    versions["aws"] = _cmd(["aws", "--version"])
    commit = _cmd(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = _cmd(
        [
            "git",
            "-C",
            str(repo),
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)perf/RESULTS.md",  # the run's own output
        ]
    )
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": mem_total_gib(),
        "load_before": list(os.getloadavg()),
        "git": f"{commit}{' + uncommitted changes' if dirty else ''}" if commit else None,
        "versions": versions,
    }
