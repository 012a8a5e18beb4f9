"""What every scenario shares: the moto servers, temp dirs, clients, policies, results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
KIB = 1024
MIB = 1024 * 1024


class MotoServer:
    """``perf/bench/s3server.py`` in its own process on 127.0.0.1."""

    def __init__(self) -> None:
        env = {**os.environ, **S3_ENV}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "s3server.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _get(self, path: str, method: str = "GET") -> dict[str, Any]:
        req = urllib.request.Request(self.endpoint + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def counts(self) -> dict[str, Any]:
        """Requests by kind, total, and the server's CPU seconds so far."""
        return self._get("/__perf__/counts")

    def reset_counts(self) -> None:
        self._get("/__perf__/reset", method="POST")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Target:
    """One line of the targets table."""

    figure: str
    target: str
    measured: float | None
    limit: float
    higher_is_better: bool = False
    detail: str = ""
    ci: tuple[float, float] | None = None

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured >= self.limit
        return self.measured <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "target": self.target,
            "measured": self.measured,
            "ci95": list(self.ci) if self.ci else None,
            "limit": self.limit,
            "higher_is_better": self.higher_is_better,
            "met": self.met,
            "detail": self.detail,
        }


@dataclass
class Context:
    """Handed to each scenario's ``run``."""

    quick: bool
    out: Path
    tmp: Path
    server: MotoServer
    extra_servers: list[MotoServer] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    log: Any = print

    def interleave(
        self, variants: dict[str, Any], rounds: int, *, budget_s: float | None = None
    ) -> dict[str, list[float]]:
        """Interleaved A/B/A/B timing (see :func:`bench.stats.interleave`)."""
        from bench.stats import interleave

        names = ", ".join(variants)
        self.log(f"    timing {rounds} rounds of: {names}")
        return interleave(
            variants,
            rounds,
            warmup=1 if self.quick else 5,
            budget_s=(budget_s / 4 if self.quick and budget_s else budget_s),
        )

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def dir(self, name: str) -> Path:
        path = self.tmp / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def second_server(self) -> MotoServer:
        if not self.extra_servers:
            self.extra_servers.append(MotoServer())
        return self.extra_servers[0]

    def boto3_client(self, server: MotoServer | None = None, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        cfg = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            **config,
        )
        return boto3.client(
            "s3",
            endpoint_url=(server or self.server).endpoint,
            region_name="us-east-1",
            config=cfg,
        )

    def bucket(self, prefix: str, server: MotoServer | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.boto3_client(server).create_bucket(Bucket=name)
        return name

    def s3_backend(self, bucket: str, root: str, server: MotoServer | None = None, **options: Any):
        return {
            "url": f"s3://{bucket}/{root}",
            "options": {"endpoint_url": (server or self.server).endpoint, **options},
        }

    def journal_url(self, name: str) -> str:
        return f"file://{self.dir('journal-' + name)}"

    def add_target(self, target: Target) -> None:
        self.targets.append(target)

    def count_requests(self, fn: Any, server: MotoServer | None = None) -> tuple[Any, dict]:
        """Run ``fn`` and return (its result, the requests the server saw meanwhile)."""
        srv = server or self.server
        before = srv.counts()
        result = fn()
        after = srv.counts()
        diff = {
            k: v - before["requests"].get(k, 0)
            for k, v in after["requests"].items()
            if v - before["requests"].get(k, 0)
        }
        return result, {
            "requests": diff,
            "total": sum(diff.values()),
            "server_cpu_s": after["cpu_s"] - before["cpu_s"],
        }


def policy(backends: dict[str, Any], routes: dict[str, Any], journal: str) -> dict[str, Any]:
    return {"version": 1, "backends": backends, "routes": routes, "journal": {"url": journal}}


def set_s3_env() -> None:
    for k, v in S3_ENV.items():
        os.environ[k] = v


def wall() -> float:
    return time.perf_counter()
