"""The ``router`` protocol through fsspec's registry (the ``fsspec.specs`` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pytest
import yaml

from router import Router

Objects = Callable[[], dict[str, bytes]]


@pytest.fixture
def policy_file(cert_policy: Any, tmp_path: Path) -> str:
    """The certificates policy (dual-write) as a YAML file."""
    path = tmp_path / "certificates.yaml"
    path.write_text(yaml.safe_dump(cert_policy("dual-write"), allow_unicode=True), "utf-8")
    return str(path)


def test_fsspec_filesystem_builds_a_router(policy_file: str) -> None:
    """``fsspec.filesystem("router", policy=PATH)`` is a Router for that policy."""
    fs = fsspec.filesystem("router", policy=policy_file)
    try:
        assert isinstance(fs, Router)
        assert fs.policy.source == policy_file
        assert set(fs.plan.routes) == {"certificates", "default"}
    finally:
        fs.close()


def test_fsspec_open_writes_and_reads_router_urls(
    policy_file: str, s3_objects: Objects, local_objects: Objects
) -> None:
    """fsspec.open('router://...', policy=PATH) writes both dual-write sides and reads back."""
    url = "router://certificates/a.pdf"
    opened = fsspec.open(url, "wb", policy=policy_file)
    with opened as f:
        f.write(b"%PDF- via fsspec")
    opened.fs.close()
    assert s3_objects() == {"certificates/a.pdf": b"%PDF- via fsspec"}
    assert local_objects() == {"certificates/a.pdf": b"%PDF- via fsspec"}
    reader = fsspec.open(url, "rb", policy=policy_file)
    with reader as f:
        assert f.read() == b"%PDF- via fsspec"
    reader.fs.close()
    text = fsspec.open(url, "r", policy=policy_file, encoding="utf-8")
    with text as f:
        assert f.read() == "%PDF- via fsspec"
    text.fs.close()


def test_url_to_fs_strips_the_protocol(policy_file: str) -> None:
    """``url_to_fs`` gives a Router and the key in the router's namespace."""
    fs, path = fsspec.core.url_to_fs("router://certificates/2025/a.pdf", policy=policy_file)
    try:
        assert isinstance(fs, Router)
        assert path == "certificates/2025/a.pdf"
    finally:
        fs.close()
