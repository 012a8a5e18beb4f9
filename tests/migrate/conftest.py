"""Helpers for the migration tests: policy files, objects on both sides, the CLI."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from router.cli.main import main


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run ``router ARGV`` in-process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def table_value(out: str, label: str) -> int:
    """The number in the summary-table row ``label`` of a command's output."""
    match = re.search(rf"^  {re.escape(label)}\s+(\d+)", out, re.MULTILINE)
    assert match is not None, out
    return int(match.group(1))


@pytest.fixture
def policy_file(cert_policy: Any, tmp_path: Path) -> Callable[..., Path]:
    """Write the certificates policy (in ``phase``) to a YAML file; returns its path."""

    def make(phase: str = "dual-write", **changes: Any) -> Path:
        data = cert_policy(phase)
        for name, value in changes.items():
            data[name] = value
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return make


@pytest.fixture
def s3(moto_server: str) -> Any:
    """A boto3 S3 client on the moto server."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def put_local(local_root: Path) -> Callable[[str, bytes], None]:
    """Write ``data`` at ``key`` under the local backend root."""

    def put(key: str, data: bytes) -> None:
        path = local_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return put


@pytest.fixture
def put_s3(s3: Any, bucket: str) -> Callable[..., None]:
    """PUT ``data`` at ``key`` under the S3 backend root (``prod/``)."""

    def put(key: str, data: bytes, **extra: Any) -> None:
        s3.put_object(Bucket=bucket, Key=f"prod/{key}", Body=data, **extra)

    return put


@pytest.fixture
def s3_keys(s3: Any, bucket: str) -> Callable[[], dict[str, bytes]]:
    """Every object under ``prod/`` as {key: content}."""

    def read() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="prod/"):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len("prod/") :]] = body
        return found

    return read
