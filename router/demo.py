"""``router demo``: a whole migration, local disk → S3, on an embedded S3 server.

Starts a moto S3 server on a free loopback port and a temp directory, writes a few hundred
sample certificates (some named like ``Curaçao / 東京 / Δ``) straight to the local disk as
an application would have, then walks the ``certificates`` route through every phase —
legacy → dual-write + backfill → s3-primary ramped 10% → 50% → 100% → s3-read → s3-only —
flipping one value in the policy file and calling ``Router.reload()`` at each step, with
application traffic in between. At each step it prints the status table, the counters and
the verify result; it ends with verify clean and a summary. Nothing outside the temp dir
is touched and nothing is left running.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["DemoSetup", "demo_setup", "run_demo", "write_policy"]

BUCKET = "app-media"
NAMES = [
    "Curaçao",
    "東京",
    "Δ-delta",
    "São Paulo",
    "Zürich",
    "Ελλάδα",
    "Kraków",
    "plain",
]

POLICY_TEMPLATE = """\
# yaml-language-server: $schema=https://storage-router.invalid/schema.json
# The demo's policy: the certificates migration of PRODUCT.md on a temp dir and moto.
version: 1
backends:
  local: {{url: "file://{media}"}}
  s3:
    url: s3://{bucket}/prod
    options: {{endpoint_url: "{endpoint}", key: demo-access-key, secret: demo-secret-key}}
journal: {{url: "file://{journal}"}}
routes:
  certificates:
    prefix: certificates/
    phase: {phase}
{rollout}    phases:
      legacy:     {{primary: local}}
      dual-write: {{primary: local, shadow: s3, mode: dual-write}}
      s3-primary: {{primary: s3, shadow: local, mode: dual-write}}
      s3-read:    {{primary: s3, shadow: local, mode: read-primary}}
      s3-only:    {{primary: s3}}
    fallbacks:
      read:   {{on: [not_found, transient]}}
      info:   {{on: [any]}}
      url:    {{on: [any]}}
      delete: {{on: [transient]}}
      write:  {{on: [transient], retries: 3, backoff: 50ms}}
    metrics: {{prefix: cert}}
  default:
    prefix: ""
    primary: local
"""


@dataclass
class DemoSetup:
    """A temp directory with a policy, a local media root and an S3 endpoint."""

    root: Path
    endpoint: str
    policy: Path
    media: Path
    journal: Path
    bucket: str = BUCKET
    extras: dict[str, Any] = field(default_factory=dict)


def write_policy(setup: DemoSetup, phase: str, rollout: tuple[str, float] | None = None) -> None:
    """Rewrite the policy file with a live phase (and rollout) — the one value an operator flips."""
    block = f"    rollout: {{to: {rollout[0]}, percent: {rollout[1]:g}}}\n" if rollout else ""
    text = POLICY_TEMPLATE.format(
        media=setup.media,
        bucket=setup.bucket,
        endpoint=setup.endpoint,
        journal=setup.journal,
        phase=phase,
        rollout=block,
    )
    tmp = setup.policy.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, setup.policy)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def demo_setup(
    root: Path | None = None, endpoint: str | None = None, bucket: str = BUCKET
) -> Iterator[DemoSetup]:
    """A temp dir and (unless ``endpoint`` is given) an embedded moto S3 server with a bucket."""
    import logging

    import boto3

    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="router-demo-")))
        root.mkdir(parents=True, exist_ok=True)
        server = None
        if endpoint is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            port = _free_port()
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            stack.callback(server.stop)
            endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="demo-access-key",
            aws_secret_access_key="demo-secret-key",  # noqa: S106 - moto's fake credentials
        )
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
        setup = DemoSetup(
            root=root,
            endpoint=endpoint,
            policy=root / "policy.yaml",
            media=root / "media",
            journal=root / "journal",
            bucket=bucket,
        )
        setup.media.mkdir(exist_ok=True)
        write_policy(setup, "legacy")
        yield setup


def _sample(i: int) -> tuple[str, bytes]:
    name = NAMES[i % len(NAMES)]
    key = f"certificates/{2020 + i % 6}/{name}-{i:04d}.pdf"
    body = b"%PDF-1.7 demo certificate " + hashlib.sha256(key.encode()).digest() * (8 + i % 32)
    return key, body


def seed_legacy_files(setup: DemoSetup, count: int) -> dict[str, bytes]:
    """Files the application wrote to local disk before the router existed."""
    model = {}
    for i in range(count):
        key, body = _sample(i)
        path = setup.media / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        model[key] = body
    return model


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, text: str = "") -> None:
        print(text, file=self.out)

    def step(self, title: str) -> None:
        self()
        self(f"━━ {title} " + "━" * max(0, 70 - len(title)))


def _cli(argv: list[str]) -> tuple[int, str]:
    from router.cli.main import main

    out = io.StringIO()
    code = main(argv, out=out, err=out)
    return code, out.getvalue()


def _counters(fs: Any, show: Callable[[str], None]) -> None:
    counts = {k: v for k, v in fs.metrics.counts().items() if k.startswith("cert.")}
    if not counts:
        show("  counters: none yet")
        return
    items = sorted(counts.items())
    show("  counters: " + ", ".join(f"{k}={v}" for k, v in items))


def _verify(setup: DemoSetup, show: Callable[[str], None]) -> bool:
    code, text = _cli(["verify", str(setup.policy), "--route", "certificates"])
    summary = [line for line in text.splitlines() if line.strip()][-1:] or ["(no output)"]
    show(f"  verify: {'clean' if code == 0 else 'DIFFERENCES'} — {summary[0].strip()}")
    return code == 0


def _status(setup: DemoSetup, show: Callable[[str], None]) -> None:
    _, text = _cli(["status", str(setup.policy)])
    for line in text.rstrip().splitlines():
        show("  " + line)


def _traffic(fs: Any, model: dict[str, bytes], start: int, count: int) -> None:
    """Application traffic: new uploads, reads of old and new files, a few deletes."""
    for i in range(start, start + count):
        key, body = _sample(i)
        fs.pipe_file(key, body)
        model[key] = body
    keys = sorted(model)
    for key in keys[:: max(1, len(keys) // 40)]:
        if fs.cat_file(key) != model[key]:
            raise AssertionError(f"demo read back wrong bytes for {key}")
    for key in keys[start % 7 :: 97][:2]:
        fs.rm_file(key)
        del model[key]


def run_demo(out: TextIO, *, files: int = 300, endpoint: str | None = None) -> int:
    """Run the whole demo, printing to ``out``; 0 when it ends with verify clean."""
    from router.filesystem import Router

    show = _Printer(out)
    started = time.monotonic()
    with demo_setup(endpoint=endpoint) as setup:
        show(f"router demo — temp dir {setup.root}, embedded S3 at {setup.endpoint}")
        model = seed_legacy_files(setup, files)
        show(f"wrote {len(model)} legacy certificates to {setup.media}")
        clean = True
        with Router.from_file(setup.policy) as fs:
            show.step("legacy: local disk only")
            _traffic(fs, model, files, 10)
            _status(setup, show)
            _counters(fs, show)

            show.step("dual-write: every write goes to local and S3")
            write_policy(setup, "dual-write")
            fs.reload()
            _traffic(fs, model, files + 10, 20)
            code, text = _cli(["backfill", str(setup.policy), "--route", "certificates"])
            copied = re.findall(r"copied[^\n]*", text)
            show(f"  backfill: exit {code} — {copied[-1] if copied else text.strip()[-120:]}")
            _status(setup, show)
            _counters(fs, show)
            clean &= _verify(setup, show)

            for percent in (10, 50, 100):
                show.step(f"s3-primary ramp: {percent}% of keys read from S3 first")
                write_policy(setup, "dual-write", ("s3-primary", percent))
                fs.reload()
                _traffic(fs, model, files + 30 + percent, 10)
                _status(setup, show)
                _counters(fs, show)
                clean &= _verify(setup, show)

            show.step("s3-primary: S3 is the source of truth, local still written")
            write_policy(setup, "s3-primary")
            fs.reload()
            _traffic(fs, model, files + 200, 10)
            _cli(["repair", str(setup.policy)])
            clean &= _verify(setup, show)

            show.step("s3-read: writes to S3 only, local is read-only legacy")
            write_policy(setup, "s3-read")
            fs.reload()
            _traffic(fs, model, files + 220, 10)
            _cli(["repair", str(setup.policy)])
            _status(setup, show)
            _counters(fs, show)

            show.step("s3-only: migration done")
            write_policy(setup, "s3-only")
            fs.reload()
            _traffic(fs, model, files + 240, 10)
            wrong = [k for k in sorted(model) if fs.cat_file(k) != model[k]]
            _status(setup, show)
            _counters(fs, show)
            on_s3 = len(fs.backends["s3"].fs.find(fs.backends["s3"].root))
        # verify compares the live phase's sides; in s3-only compare S3 with the model instead.
        show.step("summary")
        show(f"  objects the application holds: {len(model)}; on S3: {on_s3}")
        show(
            f"  every object read back byte-exact from S3: {'yes' if not wrong else f'NO ({len(wrong)} differ)'}"
        )
        show(f"  verify clean at every dual-write step: {'yes' if clean else 'NO'}")
        show(f"  took {time.monotonic() - started:.1f}s; temp dir and S3 server removed")
        return 0 if clean and not wrong and on_s3 == len(model) else 1
