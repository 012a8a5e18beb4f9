"""Fixtures that run fsspec's shipped conformance suite against a Router.

Modelled on s3fs's ``tests/derived/s3fs_fixtures.py``: ``fs`` is a Router whose single
route (prefix ``""``) is dual-write over two real backends, ``fs_path`` a directory in
the router's namespace. Two fixture sets: two local temp dirs, and S3 (moto) as the
primary with a local shadow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec.tests.abstract import AbstractFixtures

from router import Router


def dual_write_policy(
    primary: dict[str, Any], shadow: dict[str, Any], journal: Path
) -> dict[str, Any]:
    """A one-route policy: everything is dual-written to ``primary`` and ``shadow``."""
    return {
        "version": 1,
        "backends": {"primary": primary, "shadow": shadow},
        "journal": {"url": f"file://{journal}"},
        "routes": {
            "all": {
                "prefix": "",
                "primary": "primary",
                "shadow": "shadow",
                "mode": "dual-write",
                "fallbacks": {
                    "read": {"on": ["not_found", "transient"]},
                    "info": {"on": ["any"]},
                    "write": {"on": ["transient"], "retries": 2, "backoff": "1ms"},
                    "delete": {"on": ["transient"]},
                },
            }
        },
    }


class LocalDualWriteFixtures(AbstractFixtures):  # type: ignore[misc]
    """A Router dual-writing over two local temp dirs."""

    @pytest.fixture
    def fs(self, tmp_path: Path) -> Iterator[Router]:
        """The Router under test."""
        roots = tmp_path / "primary", tmp_path / "shadow"
        for root in roots:
            root.mkdir()
        policy = dual_write_policy(
            {"url": f"file://{roots[0]}"}, {"url": f"file://{roots[1]}"}, tmp_path / "journal"
        )
        with Router.from_dict(policy) as router:
            yield router

    @pytest.fixture
    def fs_path(self) -> str:
        """A directory in the router's namespace."""
        return f"suite-{uuid.uuid4().hex[:8]}"


class S3PrimaryFixtures(LocalDualWriteFixtures):
    """A Router dual-writing to S3 (moto) as primary and a local temp dir as shadow."""

    @pytest.fixture
    def fs(self, tmp_path: Path, s3_backend: dict[str, Any]) -> Iterator[Router]:
        """The Router under test."""
        shadow = tmp_path / "shadow"
        shadow.mkdir()
        policy = dual_write_policy(s3_backend, {"url": f"file://{shadow}"}, tmp_path / "journal")
        with Router.from_dict(policy) as router:
            yield router

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        """S3 keeps no empty directories, but the local shadow does and ``info`` falls
        back to it (``on: [any]``), so through the router empty directories exist."""
        return True
