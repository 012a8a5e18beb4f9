"""What a mode decides: which legs a mutation runs on, and how their outcomes settle.

Pure: a mode looks at outcomes (which leg succeeded, with which error class) and
returns a :class:`Settlement`; the executor acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from router.plan import OpPlan, Role
from router.policy.model import ErrorClass, Mode

__all__ = ["Divergence", "ModeRules", "Outcome", "Settlement"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one leg of a mutation ended: ``error`` is None on success."""

    role: Role
    error: ErrorClass | None


@dataclass(frozen=True, slots=True)
class Divergence:
    """After a mutation, the side that holds the truth and the side that is stale."""

    truth: Role
    stale: Role


@dataclass(frozen=True, slots=True)
class Settlement:
    """The verdict on a mutation: who answers the caller, and what to journal."""

    answer: Role
    """The leg whose result (or, when ``failed``, whose error) the caller gets."""
    failed: bool
    degraded: bool = False
    """Acknowledged although the primary failed (the shadow took the write)."""
    divergence: Divergence | None = None


class ModeRules(Protocol):
    """One mode's behaviour; see the modules next to this one."""

    mode: Mode

    def mutates_shadow(self) -> bool:
        """Whether mutations run on the shadow too (concurrently with the primary)."""
        ...

    def settle(self, plan: OpPlan, primary: Outcome, shadow: Outcome | None) -> Settlement:
        """Acknowledge, degrade or fail a mutation given each leg's outcome."""
        ...
