"""Shared fixtures: a real moto S3 server on 127.0.0.1, temp directories, policies."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    for name, value in S3_ENV.items():
        os.environ.setdefault(name, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(moto_server: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_backend(moto_server: str, bucket: str) -> dict[str, Any]:
    """A backend entry for a policy: the fresh bucket, rooted at ``prod``."""
    return {"url": f"s3://{bucket}/prod", "options": {"endpoint_url": moto_server}}


@pytest.fixture
def local_root(tmp_path: Path) -> Path:
    """A real temp directory used as a local backend root."""
    root = tmp_path / "media"
    root.mkdir()
    return root


def certificates_policy(
    local_url: str,
    s3: dict[str, Any],
    journal: str,
    *,
    phase: str = "dual-write",
    rollout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The PRODUCT.md certificates policy as a dict, with test locations."""
    route: dict[str, Any] = {
        "prefix": "certificates/",
        "phase": phase,
        "phases": {
            "legacy": {"primary": "local"},
            "dual-write": {"primary": "local", "shadow": "s3", "mode": "dual-write"},
            "s3-primary": {"primary": "s3", "shadow": "local", "mode": "dual-write"},
            "s3-read": {"primary": "s3", "shadow": "local", "mode": "read-primary"},
            "s3-only": {"primary": "s3"},
        },
        "fallbacks": {
            "read": {"on": ["not_found", "transient"]},
            "info": {"on": ["any"]},
            "url": {"on": ["any"]},
            "delete": {"on": ["transient"]},
            "write": {"on": ["transient"], "retries": 3, "backoff": "1ms"},
        },
        "metrics": {"prefix": "cert"},
    }
    if rollout is not None:
        route["rollout"] = rollout
    return {
        "version": 1,
        "backends": {"local": {"url": local_url}, "s3": s3},
        "journal": {"url": journal},
        "routes": {"certificates": route, "default": {"prefix": "", "primary": "local"}},
    }


@pytest.fixture
def cert_policy(local_root: Path, s3_backend: dict[str, Any], tmp_path: Path) -> Any:
    """A factory for the certificates policy on a temp dir and the moto bucket."""

    def make(phase: str = "dual-write", rollout: dict[str, Any] | None = None) -> dict[str, Any]:
        return certificates_policy(
            f"file://{local_root}",
            s3_backend,
            f"file://{tmp_path / 'journal'}",
            phase=phase,
            rollout=rollout,
        )

    return make
