"""``status``: every route's phase, rollout and journal depth, and where each value came from.

Pure apart from counting journal entries, which the caller passes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.plan import Plan
from router.policy.load import LoadedPolicy

__all__ = ["status_rows"]


def _origin(loaded: LoadedPolicy, dotted: str) -> str:
    origin = loaded.origin(dotted)
    return str(origin) if origin is not None else "default"


def status_rows(
    loaded: LoadedPolicy, plan: Plan, depths: Mapping[str, int]
) -> list[dict[str, Any]]:
    """One row per route, longest prefix first."""
    rows = []
    for route in sorted(plan.routes.values(), key=lambda r: (-len(r.prefix), r.name)):
        base = f"routes.{route.name}"
        live = route.live
        rows.append(
            {
                "route": route.name,
                "prefix": route.prefix,
                "phase": live.name,
                "phase_from": _origin(loaded, f"{base}.phase"),
                "rollout_to": route.target.name if route.target is not None else None,
                "rollout_percent": route.threshold / 100 if route.target is not None else None,
                "rollout_from": _origin(loaded, f"{base}.rollout.percent")
                if route.target is not None
                else None,
                "primary": live.primary,
                "shadow": live.shadow,
                "mode": live.mode.value,
                "journal_depth": int(depths.get(route.name, 0)),
                "force": route.force,
            }
        )
    return rows
