"""Fixtures for the router core tests: Routers over the certificates policy, and direct
views of what each backend really holds (boto3 for S3, the filesystem for local)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Router
from tests.core.core_helpers import local_files


@pytest.fixture
def s3_client(moto_server: str) -> Any:
    """A boto3 client on the moto server, to look at S3 behind the router's back."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def make_router(cert_policy: Any) -> Iterator[Callable[..., Router]]:
    """A factory of Routers over the certificates policy (``fallbacks`` replaces ops'
    fallback entries); closed at teardown."""
    routers: list[Router] = []

    def make(
        phase: str = "dual-write", *, fallbacks: dict[str, Any] | None = None, **kwargs: Any
    ) -> Router:
        policy = cert_policy(phase, **kwargs)
        policy["routes"]["certificates"]["fallbacks"].update(fallbacks or {})
        router = Router.from_dict(policy)
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()


@pytest.fixture
def s3_objects(s3_client: Any, bucket: str) -> Callable[[], dict[str, bytes]]:
    """What the bucket holds under the backend root ``prod/``: key -> bytes."""

    def objects() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="prod/")
        for page in pages:
            for obj in page.get("Contents", []):
                body = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                found[obj["Key"][len("prod/") :]] = body
        return found

    return objects


@pytest.fixture
def local_objects(local_root: Path) -> Callable[[], dict[str, bytes]]:
    """What the local backend root holds: key -> bytes."""
    return lambda: local_files(local_root)
