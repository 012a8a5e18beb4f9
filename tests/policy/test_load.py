"""The whole loader: files, text and dicts to a located, validated policy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.errors import PolicyError
from router.policy.load import (
    LoadedPolicy,
    Origin,
    load_policy,
    load_policy_text,
    policy_from_dict,
)
from router.policy.model import ErrorClass, Mode, Op

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CERTIFICATES = POLICIES / "certificates.yaml"


def problems_of(text: str) -> list[str]:
    """The printed problems of a policy given as text."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, source="p.yaml", environ={})
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_policies_load(path: Path) -> None:
    """Every file in policies/ is a valid policy."""
    loaded = load_policy(path, environ={})
    assert isinstance(loaded, LoadedPolicy)
    assert loaded.source == str(path)
    assert len(loaded.fingerprint) == 64


def test_certificates_policy_is_the_product_contract() -> None:
    """The PRODUCT.md policy loads with every key and value it shows."""
    policy = load_policy(CERTIFICATES, environ={}).policy
    route = policy.routes["certificates"]
    assert route.phase == "dual-write"
    assert list(route.phase_table) == ["legacy", "dual-write", "s3-primary", "s3-read", "s3-only"]
    assert route.phase_table["s3-read"].mode is Mode.READ_PRIMARY
    assert route.rollout is not None
    assert route.rollout.percent == Decimal(10)
    assert route.fallbacks[Op.READ].on == (ErrorClass.NOT_FOUND, ErrorClass.TRANSIENT)
    assert route.fallbacks[Op.WRITE].backoff == pytest.approx(0.05)
    assert route.fallbacks[Op.WRITE].retries == 3
    assert policy.backends["local"].url == "file:///var/lib/app/media"
    assert policy.backends["s3"].options == {"endpoint_url": ""}
    assert policy.routes["default"].phase_table["default"].primary == "local"


def test_origins_point_at_file_positions() -> None:
    """Each value's origin is its file, line and column; nested lookups fall back to ancestors."""
    loaded = load_policy(CERTIFICATES, environ={})
    assert loaded.origins["routes.certificates.fallbacks.write.backoff"] == Origin(
        "file", str(CERTIFICATES), 26, 54
    )
    assert loaded.origins["routes.certificates.fallbacks.read.on.1"].line == 22
    assert loaded.origin("routes.certificates.phases.legacy.primary.nothing") == Origin(
        "file", str(CERTIFICATES), 16, 29
    )
    assert loaded.origin("nowhere") is None


def test_fingerprint_follows_the_file_bytes() -> None:
    """The same bytes give the same fingerprint; one changed byte gives another."""
    text = CERTIFICATES.read_text()
    first = load_policy_text(text, environ={}).fingerprint
    assert load_policy_text(text, environ={}).fingerprint == first
    assert load_policy_text(text.replace("percent: 10", "percent: 11"), environ={}).fingerprint != (
        first
    )


def test_all_problems_of_a_file_are_reported_sorted_by_line() -> None:
    """Several mistakes are reported together, in file order."""
    text = (
        "version: 1\n"
        "backends:\n"
        "  local: {url: 'file:///a', optoins: {}}\n"
        "routes:\n"
        "  b: {prefix: x, primary: local, mode: dual-wirte}\n"
        "  a: {prefix: y, primary: local, fallbacks: {reed: {}}}\n"
    )
    assert problems_of(text) == [
        "p.yaml:3:29: backends.local.optoins: unknown key 'optoins'; did you mean 'options'?",
        "p.yaml:5:40: routes.b.mode: unknown mode 'dual-wirte'; did you mean 'dual-write'? "
        "(known: 'primary-only', 'dual-write', 'read-primary')",
        "p.yaml:6:46: routes.a.fallbacks.reed: unknown op 'reed'; did you mean 'read'? "
        "(known: 'read', 'write', 'delete', 'info', 'list', 'url', 'copy', 'move')",
    ]


def test_cross_check_problems_are_all_reported() -> None:
    """Every relational problem is reported, each at its own value."""
    text = (
        "version: 1\n"
        "backends: {local: {url: 'file:///a'}}\n"
        "routes:\n"
        "  a: {prefix: x, primary: lokal}\n"
        "  b: {prefix: x, primary: local, shadow: local, mode: dual-write}\n"
    )
    assert problems_of(text) == [
        "p.yaml:4:27: routes.a.primary: unknown backend 'lokal'; did you mean 'local'? "
        "(known: 'local')",
        "p.yaml:5:15: routes.b.prefix: prefix 'x' is already used by route 'a'",
        "p.yaml:5:42: routes.b.shadow: shadow must differ from primary",
    ]


def test_missing_key_points_at_the_parent_mapping() -> None:
    """A missing required key is reported at the mapping that lacks it."""
    text = "version: 1\nbackends:\n  local:\n    options: {}\nroutes: {d: {prefix: '', primary: local}}\n"
    assert problems_of(text) == [
        "p.yaml:3:3: backends.local: missing required key 'url' "
        "(fsspec URL; its path is the backend's root)"
    ]


def test_typo_of_a_required_key_is_one_problem() -> None:
    """`route:` for `routes:` is reported once, as an unknown key with a suggestion."""
    text = "version: 1\nbackends: {local: {url: 'file:///a'}}\nroute: {}\n"
    assert problems_of(text) == ["p.yaml:3:1: route: unknown key 'route'; did you mean 'routes'?"]


def test_unknown_key_without_a_near_miss_lists_the_allowed_keys() -> None:
    """An unknown key far from any field name lists the keys that are allowed."""
    (line,) = problems_of(
        "version: 1\nbackends: {local: {url: 'file:///a', zzz: 1}}\n"
        "routes: {d: {prefix: '', primary: local}}\n"
    )
    assert line.endswith(
        "unknown key 'zzz'; allowed keys: url, options, max_url_expiry, allow_private_endpoint"
    )


@pytest.mark.parametrize(
    ("value", "where", "message"),
    [
        ("[]", "2:1", "expected a mapping, got a list"),
        ("5", "2:11", "expected a mapping, got 5"),
        ("~", "2:11", "expected a mapping, got null"),
    ],
)
def test_wrong_types_are_described_in_yaml_words(value: str, where: str, message: str) -> None:
    """Type errors say what was expected and what was found, at the scalar or the key."""
    (line,) = problems_of(f"version: 1\nbackends: {value}\nroutes: {{}}\n")
    assert line == f"p.yaml:{where}: backends: {message}"


def test_interpolation_failure_is_not_reported_twice() -> None:
    """A value whose interpolation failed gets one problem, not a second one for ''."""
    text = "version: 1\nbackends: {local: {url: '${NOPE}'}}\nroutes: {d: {prefix: '', primary: local}}\n"
    assert problems_of(text) == [
        "p.yaml:2:25: backends.local.url: environment variable NOPE is not set and has no default"
    ]


def test_load_policy_missing_file_raises_os_error(tmp_path: Path) -> None:
    """A file that does not exist raises FileNotFoundError, not PolicyError."""
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "nope.yaml")


def test_load_policy_caps_the_size(tmp_path: Path) -> None:
    """A file over 1 MiB is refused without being read whole."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(PolicyError, match="larger than 1 MiB"):
        load_policy(big)


def test_policy_from_dict_validates_and_checks() -> None:
    """A policy given as a dict is validated like a file, with dotted paths and no lines."""
    data = {
        "version": 1,
        "backends": {"local": {"url": "file:///a"}},
        "routes": {"d": {"prefix": "", "primary": "local", "phase": "x"}},
    }
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(data, environ={})
    assert [str(p) for p in caught.value.problems] == [
        "<dict>: routes.d.phase: phase needs phases; the shorthand has one phase"
    ]
    del data["routes"]["d"]["phase"]  # type: ignore[attr-defined]
    loaded = policy_from_dict(data, environ={"ROUTER_ROUTES__D__PREFIX": "p/"})
    assert loaded.policy.routes["d"].prefix == "p/"
    assert loaded.origin("routes.d.prefix") == Origin("env", "ROUTER_ROUTES__D__PREFIX")


def test_policy_from_dict_rejects_a_non_mapping() -> None:
    """Anything but a mapping is a PolicyError."""
    with pytest.raises(PolicyError, match="a policy is a mapping"):
        policy_from_dict([1, 2], environ={})  # type: ignore[arg-type]


def test_unparseable_urls_are_problems_not_crashes() -> None:
    """A backend, endpoint or journal URL urllib cannot parse is reported at its value."""
    text = (
        "version: 1\n"
        "backends:\n"
        "  a: {url: 's3://[bucket/prod'}\n"
        "  b: {url: 'file:///b', options: {endpoint_url: 'http://[]:9000'}}\n"
        "journal: {url: 'file://[j'}\n"
        "routes: {d: {prefix: '', primary: b}}\n"
    )
    found = problems_of(text)
    assert [line.split(": ", 2)[:2] for line in found] == [
        ["p.yaml:3:12", "backends.a.url"],
        ["p.yaml:4:49", "backends.b.options.endpoint_url"],
        ["p.yaml:5:16", "journal.url"],
    ]
    assert all("is not a valid URL" in line for line in found)


def test_allow_private_endpoint_also_allows_a_link_local_endpoint_url() -> None:
    """`allow_private_endpoint: true` accepts a metadata-address endpoint_url too."""
    text = (
        "version: 1\n"
        "backends:\n"
        "  s3:\n"
        "    url: s3://bucket/prod\n"
        "    allow_private_endpoint: true\n"
        "    options: {endpoint_url: 'http://169.254.169.254'}\n"
        "routes: {d: {prefix: '', primary: s3}}\n"
    )
    assert load_policy_text(text, environ={}).policy.backends["s3"].allow_private_endpoint


@pytest.mark.parametrize("backoff", [".inf", ".nan", "'1" + "0" * 400 + "s'"])
def test_infinite_durations_are_refused(backoff: str) -> None:
    """Infinite or overflowing durations are problems, not inf seconds."""
    (line,) = problems_of(
        "version: 1\nbackends: {a: {url: 'file:///a'}}\n"
        f"routes: {{d: {{prefix: '', primary: a, fallbacks: {{read: {{backoff: {backoff}}}}}}}}}\n"
    )
    assert "routes.d.fallbacks.read.backoff: " in line
    assert "duration" in line
