"""``primary-only``: every op on the primary; no shadow exists."""

from __future__ import annotations

from router.modes.base import Outcome, Settlement
from router.plan import OpPlan, Role
from router.policy.model import Mode


class PrimaryOnly:
    """The primary answers everything, success or failure."""

    mode = Mode.PRIMARY_ONLY

    def mutates_shadow(self) -> bool:
        """No shadow to mutate."""
        return False

    def settle(self, plan: OpPlan, primary: Outcome, shadow: Outcome | None) -> Settlement:
        """The primary's outcome is the answer."""
        return Settlement(answer=Role.PRIMARY, failed=primary.error is not None)


RULES = PrimaryOnly()
