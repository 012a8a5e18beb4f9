"""Helpers for the reliability tests: policies on local directories, and sha256 views of
what each backend really holds (read behind the router's back)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.sinks import TEMP_MARKER

STRESS = os.environ.get("ROUTER_STRESS", "") not in ("", "0")
"""``ROUTER_STRESS=1``: the long local runs (more crashes, examples, ops)."""


def scaled(ci: int, stress: int) -> int:
    """``ci`` normally, ``stress`` under ``ROUTER_STRESS=1``."""
    return stress if STRESS else ci


def sha(data: bytes) -> str:
    """The sha256 of ``data`` (hex)."""
    return hashlib.sha256(data).hexdigest()


def sha_model(model: Mapping[str, bytes]) -> dict[str, str]:
    """key -> sha256 of the model."""
    return {key: sha(value) for key, value in model.items()}


def local_tree(root: Path, *, temp_ok: bool = False) -> dict[str, bytes]:
    """What a local backend root holds: key -> bytes (temp files fail unless ``temp_ok``)."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if TEMP_MARKER in path.name:
            assert temp_ok, f"leftover temp file {path}"
            continue
        found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def sha_local(root: Path) -> dict[str, str]:
    """key -> sha256 of each file under a local backend root."""
    return sha_model(local_tree(root))


def s3_tree(client: Any, bucket: str, prefix: str = "prod/") -> dict[str, bytes]:
    """What the bucket holds under ``prefix``: key (without the prefix) -> bytes."""
    found: dict[str, bytes] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            found[obj["Key"][len(prefix) :]] = body
    return found


def sha_s3(client: Any, bucket: str, prefix: str = "prod/") -> dict[str, str]:
    """key -> sha256 of each object under ``prefix``."""
    return sha_model(s3_tree(client, bucket, prefix))


@dataclass(frozen=True)
class CertSides:
    """The two sides of the certificates policy (``cert_policy``), behind the router's
    back: the local backend root, and the bucket under ``prod/``."""

    local_root: Path
    s3_client: Any
    bucket: str

    def put_local(self, key: str, data: bytes) -> None:
        """Write ``key`` straight into the local root."""
        path = self.local_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put_s3(self, key: str, data: bytes) -> None:
        """Put ``key`` straight into the bucket."""
        self.s3_client.put_object(Bucket=self.bucket, Key=f"prod/{key}", Body=data)

    def put_both(self, key: str, data: bytes) -> None:
        """The same ``key`` and bytes on both sides."""
        self.put_local(key, data)
        self.put_s3(key, data)

    def local(self) -> dict[str, bytes]:
        """What the local side holds (see :func:`local_tree`)."""
        return local_tree(self.local_root)

    def s3(self) -> dict[str, bytes]:
        """What the S3 side holds (see :func:`s3_tree`)."""
        return s3_tree(self.s3_client, self.bucket)


def two_sided_policy(
    a_url: str,
    b_url: str,
    journal: str,
    *,
    phase: str = "dual-write",
    rollout: dict[str, Any] | None = None,
    fallbacks: dict[str, Any] | None = None,
    a_options: dict[str, Any] | None = None,
    b_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One route (prefix ``""``) over backends ``a`` and ``b``, with the phases of a
    migration from a to b: ``dual-write`` (a primary), ``b-primary`` (b primary, still
    dual-write), ``b-read`` (b primary, a read-only), ``a-only``, ``b-only``."""
    route: dict[str, Any] = {
        "prefix": "",
        "phase": phase,
        "phases": {
            "a-only": {"primary": "a"},
            "dual-write": {"primary": "a", "shadow": "b", "mode": "dual-write"},
            "b-primary": {"primary": "b", "shadow": "a", "mode": "dual-write"},
            "b-read": {"primary": "b", "shadow": "a", "mode": "read-primary"},
            "b-only": {"primary": "b"},
        },
        "fallbacks": fallbacks
        if fallbacks is not None
        else {
            "read": {"on": ["not_found", "transient"]},
            "info": {"on": ["not_found", "transient"]},
            "url": {"on": ["any"]},
            "delete": {"on": ["transient"]},
            "write": {"on": ["transient"], "retries": 1, "backoff": "1ms"},
        },
        "metrics": {"prefix": "m"},
    }
    if rollout is not None:
        route["rollout"] = rollout
    return {
        "version": 1,
        "backends": {
            "a": {"url": a_url, "options": a_options or {}},
            "b": {"url": b_url, "options": b_options or {}},
        },
        "journal": {"url": journal},
        "routes": {"main": route},
    }
