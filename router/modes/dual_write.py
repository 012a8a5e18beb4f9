"""``dual-write``: every mutation goes to primary and shadow, concurrently.

Acknowledgement (PRODUCT.md, seed scenarios C and E):

- primary succeeded: acknowledged. A shadow failure is a divergence (truth: primary).
- primary failed with a class in ``fallbacks.<op>.on`` and the shadow succeeded: a
  *degraded* success, journaled with the shadow as the truth.
- any other primary failure: the primary's error is raised; if the shadow succeeded,
  the shadow now holds what the primary does not, which is journaled (truth: primary,
  since the caller was told the op failed).
- both failed: the primary's error; nothing changed, nothing journaled.
"""

from __future__ import annotations

from router.modes.base import Divergence, Outcome, Settlement
from router.plan import OpPlan, Role
from router.policy.model import Mode

_PRIMARY_TRUTH = Divergence(truth=Role.PRIMARY, stale=Role.SHADOW)
_SHADOW_TRUTH = Divergence(truth=Role.SHADOW, stale=Role.PRIMARY)


class DualWrite:
    """Both sides take every mutation."""

    mode = Mode.DUAL_WRITE

    def mutates_shadow(self) -> bool:
        """Mutations run on both sides."""
        return True

    def settle(self, plan: OpPlan, primary: Outcome, shadow: Outcome | None) -> Settlement:
        """Apply the acknowledgement rules of the module docstring."""
        shadow_ok = shadow is not None and shadow.error is None
        if primary.error is None:
            if shadow is not None and shadow.error is not None:
                return Settlement(Role.PRIMARY, failed=False, divergence=_PRIMARY_TRUTH)
            return Settlement(Role.PRIMARY, failed=False)
        if not shadow_ok:
            return Settlement(Role.PRIMARY, failed=True)
        if plan.falls_back(primary.error):
            return Settlement(Role.SHADOW, failed=False, degraded=True, divergence=_SHADOW_TRUTH)
        return Settlement(Role.PRIMARY, failed=True, divergence=_PRIMARY_TRUTH)


RULES = DualWrite()
