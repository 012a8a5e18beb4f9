"""``read-primary``: mutations go to the primary only; reads fall back to the shadow.

The shadow is read-only legacy. One mutation still concerns it: deleting a key the
shadow holds would let a read fallback resurrect it, so the executor journals such a
delete (truth: primary) and the journal guard keeps the shadow's copy from being served
until ``router repair`` removes it.
"""

from __future__ import annotations

from router.modes.base import Outcome, Settlement
from router.plan import OpPlan, Role
from router.policy.model import Mode


class ReadPrimary:
    """The primary takes every mutation; the shadow only serves fallback reads."""

    mode = Mode.READ_PRIMARY

    def mutates_shadow(self) -> bool:
        """The shadow is read-only."""
        return False

    def settle(self, plan: OpPlan, primary: Outcome, shadow: Outcome | None) -> Settlement:
        """The primary's outcome is the answer."""
        return Settlement(answer=Role.PRIMARY, failed=primary.error is not None)


RULES = ReadPrimary()
