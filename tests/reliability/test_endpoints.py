"""Item 15: S3 endpoints on link-local/metadata addresses are refused unless explicitly
allowed — from the policy file, ``${VAR}`` interpolation or an environment override, at
load and at reload — and presigned URL lifetimes are capped (policy, and 7 days)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from router import Router
from router.errors import PolicyError
from router.filesystem import MAX_URL_EXPIRY
from router.policy.load import policy_from_dict

REFUSED = [
    pytest.param("http://169.254.169.254", id="aws-imds"),
    pytest.param("http://169.254.169.254:80/latest", id="aws-imds-port-path"),
    pytest.param("https://169.254.170.2", id="ecs-task-metadata"),
    pytest.param("http://[fe80::1]:9000", id="ipv6-link-local"),
    pytest.param("http://metadata.google.internal", id="gcp-metadata"),
    pytest.param("http://user:pw@169.254.169.254/", id="userinfo"),
    pytest.param("http://2852039166/", id="decimal"),
    pytest.param("http://0xa9fea9fe/", id="hex"),
    pytest.param("http://0251.0376.0251.0376/", id="octal"),
    pytest.param("http://169.254.43518/", id="short-form"),
    pytest.param("http://169.254.169.254./", id="trailing-dot"),
    pytest.param("http://[::ffff:169.254.169.254]/", id="ipv4-mapped-ipv6"),
    pytest.param("http://METADATA.GOOGLE.INTERNAL./", id="gcp-metadata-fqdn"),
    pytest.param("http://[fd00:ec2::254]/", id="aws-imds-ipv6"),
    pytest.param("http://100.100.100.200/", id="alibaba-metadata"),
]


def _policy(endpoint: str, *, allow: bool | None = None, where: str = "options") -> dict[str, Any]:
    backend: dict[str, Any] = {"url": "s3://bucket/prod", "options": {}}
    if where == "options":
        backend["options"]["endpoint_url"] = endpoint
    else:
        backend["options"]["client_kwargs"] = {"endpoint_url": endpoint}
    if allow is not None:
        backend["allow_private_endpoint"] = allow
    return {
        "version": 1,
        "backends": {"s3": backend},
        "routes": {"default": {"prefix": "", "primary": "s3"}},
    }


@pytest.mark.parametrize("endpoint", REFUSED)
@pytest.mark.parametrize("where", ["options", "client_kwargs"])
def test_metadata_endpoint_is_refused(endpoint: str, where: str) -> None:
    """A link-local or metadata endpoint in the policy is a PolicyError, and no Router is built."""
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(_policy(endpoint, where=where), environ={})
    assert "allow_private_endpoint" in str(raised.value)
    with pytest.raises(PolicyError):
        Router.from_dict(_policy(endpoint, where=where), environ={})


@pytest.mark.parametrize("endpoint", ["http://169.254.169.254", "http://[fe80::1]:9000"])
def test_metadata_endpoint_is_allowed_when_said_so(endpoint: str) -> None:
    """allow_private_endpoint: true on the backend accepts it (an explicit, reviewable choice)."""
    assert policy_from_dict(_policy(endpoint, allow=True), environ={})
    with pytest.raises(PolicyError):
        policy_from_dict(_policy(endpoint, allow=False), environ={})


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com", "http://minio.internal:9000"],
)
def test_ordinary_endpoints_are_accepted(endpoint: str) -> None:
    """Loopback, AWS and private DNS endpoints are ordinary."""
    assert policy_from_dict(_policy(endpoint), environ={})


def test_interpolated_metadata_endpoint_is_refused() -> None:
    """${S3_ENDPOINT_URL} pointing at the metadata service is refused like a literal."""
    with pytest.raises(PolicyError) as raised:
        policy_from_dict(
            _policy("${S3_ENDPOINT_URL:-}"), environ={"S3_ENDPOINT_URL": "http://169.254.169.254"}
        )
    assert "S3_ENDPOINT_URL" in str(raised.value) or "endpoint" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROUTER_BACKENDS__S3__OPTIONS__ENDPOINT_URL", "http://169.254.169.254"),
        ("ROUTER_BACKENDS__S3__OPTIONS", '{"endpoint_url": "http://169.254.169.254"}'),
        ("ROUTER_BACKENDS__S3__URL", "s3://bucket@169.254.169.254/prod"),
    ],
)
def test_override_to_a_metadata_endpoint_is_refused(variable: str, value: str) -> None:
    """An environment override pointing the endpoint at the metadata service is refused."""
    with pytest.raises(PolicyError):
        policy_from_dict(_policy("http://127.0.0.1:9000"), environ={variable: value})


def test_reload_to_a_metadata_endpoint_keeps_the_old_plan(tmp_path: Path) -> None:
    """A running Router refuses a reload whose policy (or environment) points at 169.254.169.254."""
    path = tmp_path / "policy.yaml"
    policy = _policy("http://127.0.0.1:9000")
    path.write_text(yaml.safe_dump(policy))
    environ: dict[str, str] = {}
    with Router.from_file(path, environ=environ) as fs:
        plan = fs.plan
        environ["ROUTER_BACKENDS__S3__OPTIONS__ENDPOINT_URL"] = "http://169.254.169.254"
        with pytest.raises(PolicyError):
            fs.reload()
        environ.clear()
        policy["backends"]["s3"]["options"]["endpoint_url"] = "http://169.254.169.254/"
        path.write_text(yaml.safe_dump(policy))
        with pytest.raises(PolicyError):
            fs.reload()
        assert fs.plan is plan
        assert fs.backends["s3"].options["endpoint_url"] == "http://127.0.0.1:9000"


# -- presigned URL expiry ---------------------------------------------------------------


def _lifetime(url: str, signed_at: float) -> float:
    """Seconds a presigned URL stays valid (SigV4 X-Amz-Expires, or SigV2 Expires=epoch)."""
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:
        return float(query["X-Amz-Expires"][0])
    return float(query["Expires"][0]) - signed_at


@pytest.mark.s3
@pytest.mark.parametrize(
    ("cap", "asked", "at_most"),
    [
        (None, 30 * 24 * 3600, MAX_URL_EXPIRY),  # 30 days asked: 7 days given
        (None, 10**9, MAX_URL_EXPIRY),
        (None, 600, 600),
        ("1h", 24 * 3600, 3600),  # the policy's cap wins
        ("1h", 60, 60),
    ],
)
def test_presigned_url_expiry_is_capped(
    cap: str | None,
    asked: int,
    at_most: int,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
) -> None:
    """url(expiration=...) never signs for longer than the backend's max_url_expiry, nor 7 days."""
    policy = cert_policy("s3-only")
    if cap is not None:
        policy["backends"]["s3"]["max_url_expiry"] = cap
    fs = routers(policy)
    fs.pipe_file("certificates/u.pdf", b"pdf")
    signed_at = time.time()
    url = fs.url("certificates/u.pdf", expiration=asked)
    lifetime = _lifetime(url, signed_at)
    assert lifetime <= at_most + 5  # a few seconds of signing-clock rounding
    assert lifetime >= min(asked, at_most) - 5


@pytest.mark.parametrize("cap", ["8d", "30d", "604801s", "1000h"])
def test_policy_cannot_raise_the_expiry_cap_above_7_days(cap: str) -> None:
    """max_url_expiry above 7 days is a PolicyError."""
    policy = _policy("http://127.0.0.1:9000")
    policy["backends"]["s3"]["max_url_expiry"] = cap
    with pytest.raises(PolicyError):
        policy_from_dict(policy, environ={})
