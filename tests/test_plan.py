"""The planner: longest-prefix routing, rollout buckets and compiled legs. No I/O."""

from __future__ import annotations

from typing import Any

import pytest

from router.plan import Role, bucket, compile_policy, route_key
from router.policy.load import policy_from_dict
from router.policy.model import ErrorClass, Mode, Op


def policy(**route: Any) -> dict[str, Any]:
    """A policy with backends a, b and a certificates route (plus a default route)."""
    cert = {
        "prefix": "certificates/",
        "phase": "one",
        "phases": {
            "one": {"primary": "a", "shadow": "b", "mode": "dual-write"},
            "two": {"primary": "b", "shadow": "a", "mode": "read-primary"},
        },
        "fallbacks": {"read": {"on": ["not_found"]}, "write": {"on": ["transient"], "retries": 2}},
    }
    cert.update(route)
    return {
        "version": 1,
        "backends": {"a": {"url": "memory://plan-a"}, "b": {"url": "memory://plan-b"}},
        "routes": {
            "certificates": cert,
            "c2025": {"prefix": "certificates/2025/", "primary": "b"},
            "default": {"prefix": "", "primary": "a"},
        },
    }


def compiled(**route: Any) -> Any:
    """Compile the test policy."""
    return compile_policy(policy_from_dict(policy(**route)).policy)


@pytest.mark.parametrize(
    ("key", "route"),
    [
        ("certificates/a.pdf", "certificates"),
        ("certificates/2025/a.pdf", "c2025"),
        ("certificates/2024/a.pdf", "certificates"),
        ("certificates", "default"),
        ("avatars/x.png", "default"),
        ("", "default"),
    ],
)
def test_longest_prefix_wins(key: str, route: str) -> None:
    """A key goes to the route with the longest matching prefix."""
    decision = route_key(compiled(), key)
    assert decision is not None
    assert decision.route.name == route


def test_bucket_is_stable_sha256() -> None:
    """The bucket is sha256(route NUL key)[:8] mod 10000 — the documented formula."""
    import hashlib

    digest = hashlib.sha256(b"certificates\0certificates/a.pdf").digest()
    assert bucket("certificates", "certificates/a.pdf") == int.from_bytes(digest[:8], "big") % 10000


def test_raising_percent_only_moves_keys_forward() -> None:
    """Every key on the target phase at 10% is still there at 50%."""
    keys = [f"certificates/{i}.pdf" for i in range(2000)]
    at10 = compiled(rollout={"to": "two", "percent": 10})
    at50 = compiled(rollout={"to": "two", "percent": 50})
    moved10 = {k for k in keys if route_key(at10, k).phase.name == "two"}  # type: ignore[union-attr]
    moved50 = {k for k in keys if route_key(at50, k).phase.name == "two"}  # type: ignore[union-attr]
    assert moved10 <= moved50
    assert 100 < len(moved10) < 300
    assert 850 < len(moved50) < 1150


def test_dual_write_legs_and_fallbacks_compile() -> None:
    """Dual-write compiles primary then shadow legs with the op's classes and retries."""
    phase = compiled().routes["certificates"].live
    assert phase.mode is Mode.DUAL_WRITE
    write = phase.ops[Op.WRITE]
    assert write.legs == (("a", Role.PRIMARY), ("b", Role.SHADOW))
    assert write.retries == 2
    assert write.falls_back(ErrorClass.TRANSIENT)
    assert not write.falls_back(ErrorClass.DENIED)


def test_read_primary_keeps_mutations_off_the_shadow() -> None:
    """In read-primary, reads have a shadow leg and mutations do not."""
    phase = compiled().routes["certificates"].phases["two"]
    assert [b for b, _ in phase.ops[Op.READ].legs] == ["b", "a"]
    assert [b for b, _ in phase.ops[Op.WRITE].legs] == ["b"]
    assert [b for b, _ in phase.ops[Op.DELETE].legs] == ["b"]
