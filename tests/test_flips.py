"""Safe flips (pure): which backends a policy change drops while they hold divergences."""

from __future__ import annotations

from typing import Any

from router.flips import flip_risks, read_set, write_set
from router.plan import compile_policy
from router.policy.load import policy_from_dict


def plan(phase: str, force: bool = False, rollout: dict[str, Any] | None = None) -> Any:
    """The certificates-like plan with a given live phase."""
    route: dict[str, Any] = {
        "prefix": "c/",
        "phase": phase,
        "force": force,
        "phases": {
            "legacy": {"primary": "local"},
            "dual": {"primary": "local", "shadow": "s3", "mode": "dual-write"},
            "s3-read": {"primary": "s3", "shadow": "local", "mode": "read-primary"},
            "s3-only": {"primary": "s3"},
        },
        "fallbacks": {"read": {"on": ["not_found"]}},
    }
    if rollout:
        route["rollout"] = rollout
    data = {
        "version": 1,
        "backends": {"local": {"url": "memory://flip-l"}, "s3": {"url": "memory://flip-s"}},
        "routes": {"c": route},
    }
    return compile_policy(policy_from_dict(data).policy)


def test_sets_follow_the_mode() -> None:
    """Dual-write writes both sides; read-primary writes the primary and reads both."""
    assert write_set(plan("dual").routes["c"]) == {"local", "s3"}
    assert write_set(plan("s3-read").routes["c"]) == {"s3"}
    assert read_set(plan("s3-read").routes["c"]) == {"s3", "local"}
    assert read_set(plan("s3-only").routes["c"]) == {"s3"}


def test_dropping_a_backend_with_entries_is_a_risk() -> None:
    """dual → s3-only drops local from writes and reads while local has entries."""
    risks = flip_risks(plan("dual"), plan("s3-only"), {"c": {"local": 2, "s3": 2}})
    assert [(r.backend, r.change, r.forced) for r in risks] == [
        ("local", "stop writing to", False),
        ("local", "stop reading from", False),
    ]


def test_empty_journal_means_no_risk() -> None:
    """With no pending entries every flip is safe."""
    assert flip_risks(plan("dual"), plan("s3-only"), {}) == []


def test_force_marks_risks_forced() -> None:
    """force: true on the new route turns refusals into forced flips."""
    risks = flip_risks(plan("dual"), plan("s3-only", force=True), {"c": {"local": 1}})
    assert risks
    assert all(r.forced for r in risks)


def test_rollout_target_counts_as_in_use() -> None:
    """A backend still used by the rollout target is not dropped."""
    before = plan("dual")
    after = plan("legacy", rollout={"to": "dual", "percent": 5})
    assert flip_risks(before, after, {"c": {"s3": 3}}) == []
