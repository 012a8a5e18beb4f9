"""Fixtures for the reliability tests: Routers on real local directories and the moto
S3 server, what each side really holds, and the size knob for the long runs.

``ROUTER_STRESS=1`` makes the crash, Hypothesis and thread runs several times longer
(see docs/reliability.md); the default keeps the whole directory to a few minutes on a
two-core CI machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Router
from tests.reliability.rel_helpers import CertSides, two_sided_policy


@pytest.fixture
def s3_client(moto_server: str) -> Any:
    """A boto3 client on the moto server: another client, behind the router's back."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def routers() -> Iterator[Callable[..., Router]]:
    """A factory of Routers from a policy dict or file; all closed at teardown."""
    made: list[Router] = []

    def make(policy: Any, **options: Any) -> Router:
        router = (
            Router.from_dict(policy, **options)
            if isinstance(policy, dict)
            else (Router.from_file(policy, **options))
        )
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


@pytest.fixture
def two_roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two real local backend roots and a journal directory."""
    a, b, journal = tmp_path / "a", tmp_path / "b", tmp_path / "journal"
    a.mkdir()
    b.mkdir()
    return a, b, journal


@pytest.fixture
def sides(local_root: Path, s3_client: Any, bucket: str) -> CertSides:
    """The local root and the bucket of ``cert_policy``, read and written directly."""
    return CertSides(local_root, s3_client, bucket)


@pytest.fixture
def cert_routers(
    cert_policy: Callable[..., dict[str, Any]], routers: Callable[..., Router]
) -> Callable[[str], Router]:
    """A factory: a Router on ``cert_policy(phase)``, closed at teardown."""
    return lambda phase: routers(cert_policy(phase))


@pytest.fixture
def local_pair(
    two_roots: tuple[Path, Path, Path], routers: Callable[..., Router]
) -> Callable[..., Router]:
    """A factory of Routers on :func:`two_sided_policy` over ``two_roots``, by phase."""
    a, b, journal = two_roots

    def make(phase: str = "dual-write") -> Router:
        return routers(
            two_sided_policy(f"file://{a}", f"file://{b}", f"file://{journal}", phase=phase)
        )

    return make
