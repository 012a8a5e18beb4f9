"""The modes, one small module each, behind a read-only registry keyed by :class:`Mode`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from router.modes import dual_write, primary_only, read_primary
from router.modes.base import Divergence, ModeRules, Outcome, Settlement
from router.policy.model import Mode

__all__ = ["MODES", "Divergence", "ModeRules", "Outcome", "Settlement", "rules_for"]

MODES: Mapping[Mode, ModeRules] = MappingProxyType(
    {
        Mode.PRIMARY_ONLY: primary_only.RULES,
        Mode.DUAL_WRITE: dual_write.RULES,
        Mode.READ_PRIMARY: read_primary.RULES,
    }
)


def rules_for(mode: Mode) -> ModeRules:
    """The rules of ``mode``."""
    return MODES[mode]
