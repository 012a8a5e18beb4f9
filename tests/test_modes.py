"""The acknowledgement rules of each mode, as a table. Pure: no backend involved."""

from __future__ import annotations

import pytest

from router.modes import MODES, Divergence, Outcome
from router.plan import OpPlan, Role
from router.policy.model import ErrorClass, Mode, Op

T, N, D = ErrorClass.TRANSIENT, ErrorClass.NOT_FOUND, ErrorClass.DENIED
PRIMARY_TRUTH = Divergence(Role.PRIMARY, Role.SHADOW)
SHADOW_TRUTH = Divergence(Role.SHADOW, Role.PRIMARY)
WRITE = OpPlan(Op.WRITE, (("p", Role.PRIMARY), ("s", Role.SHADOW)), frozenset({T}), 0, 0.0, None)


@pytest.mark.parametrize(
    ("primary", "shadow", "answer", "failed", "degraded", "divergence"),
    [
        (None, None, Role.PRIMARY, False, False, None),
        (None, T, Role.PRIMARY, False, False, PRIMARY_TRUTH),
        (T, None, Role.SHADOW, False, True, SHADOW_TRUTH),
        (D, None, Role.PRIMARY, True, False, PRIMARY_TRUTH),
        (T, T, Role.PRIMARY, True, False, None),
        (N, D, Role.PRIMARY, True, False, None),
    ],
)
def test_dual_write_settles_by_the_rules(
    primary: ErrorClass | None,
    shadow: ErrorClass | None,
    answer: Role,
    failed: bool,
    degraded: bool,
    divergence: Divergence | None,
) -> None:
    """Dual-write acks, degrades or fails exactly as PRODUCT.md's rules say."""
    s = MODES[Mode.DUAL_WRITE].settle(
        WRITE, Outcome(Role.PRIMARY, primary), Outcome(Role.SHADOW, shadow)
    )
    assert (s.answer, s.failed, s.degraded, s.divergence) == (answer, failed, degraded, divergence)


@pytest.mark.parametrize("mode", [Mode.PRIMARY_ONLY, Mode.READ_PRIMARY])
def test_single_side_modes_answer_with_the_primary(mode: Mode) -> None:
    """primary-only and read-primary never mutate the shadow and answer with the primary."""
    rules = MODES[mode]
    assert not rules.mutates_shadow()
    ok = rules.settle(WRITE, Outcome(Role.PRIMARY, None), None)
    bad = rules.settle(WRITE, Outcome(Role.PRIMARY, T), None)
    assert (ok.failed, bad.failed, ok.divergence, bad.divergence) == (False, True, None, None)


def test_registry_is_read_only() -> None:
    """The modes registry cannot be changed at run time."""
    with pytest.raises(TypeError):
        MODES[Mode.DUAL_WRITE] = MODES[Mode.PRIMARY_ONLY]  # type: ignore[index]
