"""Fixtures for the metrics tests: Routers over the certificates policy (moto S3 and a
temp dir), and structlog put back to its unconfigured defaults after a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from router import Router


@pytest.fixture
def make_router(cert_policy: Any) -> Iterator[Callable[..., Router]]:
    """A factory of Routers over the certificates policy, closed at teardown.

    ``keys=False`` sets the route's ``metrics: {prefix: cert, keys: false}``; other
    keyword arguments go to the Router.
    """
    routers: list[Router] = []

    def make(phase: str = "dual-write", *, keys: bool = True, **options: Any) -> Router:
        policy = cert_policy(phase)
        policy["routes"]["certificates"]["metrics"] = {"prefix": "cert", "keys": keys}
        router = Router.from_dict(policy, **options)
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()


@pytest.fixture
def put_local(local_root: Path) -> Callable[[str, bytes], None]:
    """Write a file straight into the local backend's directory."""

    def put(key: str, data: bytes) -> None:
        path = local_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return put


@pytest.fixture
def reset_structlog() -> Iterator[None]:
    """Leave structlog unconfigured after the test, as the library found it."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
