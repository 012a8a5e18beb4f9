"""``explain``: why a key goes where it goes. Pure: a plan in, plain data out.

Used by ``router explain`` and available to applications (e.g. an admin page).
"""

from __future__ import annotations

from typing import Any

from router.keys import normalize_key
from router.plan import BUCKETS, OpPlan, PhasePlan, Plan, RoutePlan, bucket, find_route
from router.policy.load import LoadedPolicy
from router.policy.model import Mode, Op
from router.redact import redact_options, redact_url

__all__ = ["describe_legs", "explain_key", "explain_policy"]

_MUTATIONS = (Op.WRITE, Op.DELETE, Op.COPY, Op.MOVE)


def describe_legs(phase: PhasePlan, op: Op) -> str:
    """One line: which backends an op touches in a phase, and when it moves on."""
    plan: OpPlan = phase.ops[op]
    primary = f"{phase.primary} (primary)"
    retry = ""
    if plan.retries:
        retry = f"; retries {plan.retries}"
        if plan.backoff:
            retry += f", backoff {plan.backoff * 1000:g}ms"
    if plan.deadline is not None:
        retry += f"; deadline {plan.deadline:g}s"
    on = ", ".join(sorted(c.value for c in plan.fallback_on)) or "nothing"
    if len(plan.legs) == 1:
        return f"{primary} only{retry}"
    shadow = f"{phase.shadow} (shadow)"
    if op in _MUTATIONS and phase.mode is Mode.DUAL_WRITE:
        if not plan.fallback_on:
            return f"{primary} + {shadow} concurrently; a primary failure fails the op{retry}"
        return (
            f"{primary} + {shadow} concurrently; degraded ack from the shadow when the "
            f"primary fails with: {on}{retry}"
        )
    if op is Op.LIST and plan.union:
        return f"{primary} + {shadow} listings merged (the primary wins){retry}"
    if not plan.fallback_on:
        return f"{primary}; no fallback to {shadow}{retry}"
    return f"{primary} → {shadow} on {on}{retry}"


def _phase(phase: PhasePlan) -> dict[str, Any]:
    return {
        "name": phase.name,
        "primary": phase.primary,
        "shadow": phase.shadow,
        "mode": phase.mode.value,
        "ops": {op.value: describe_legs(phase, op) for op in Op},
    }


def _origin(loaded: LoadedPolicy, dotted: str) -> str | None:
    origin = loaded.origin(dotted)
    return str(origin) if origin is not None else None


def _route(loaded: LoadedPolicy, route: RoutePlan) -> dict[str, Any]:
    base = f"routes.{route.name}"
    return {
        "name": route.name,
        "prefix": route.prefix,
        "live_phase": route.live.name,
        "live_phase_from": _origin(loaded, f"{base}.phase"),
        "rollout": None
        if route.target is None
        else {
            "to": route.target.name,
            "percent": route.threshold / 100,
            "from": _origin(loaded, f"{base}.rollout.percent"),
        },
    }


def _backends(loaded: LoadedPolicy) -> dict[str, Any]:
    return {
        name: {"url": redact_url(backend.url), "options": redact_options(backend.options)}
        for name, backend in loaded.policy.backends.items()
    }


def explain_key(loaded: LoadedPolicy, plan: Plan, path: str) -> dict[str, Any]:
    """Route, rollout bucket, phase and legs for ``path``. Raises KeyRejected."""
    key = normalize_key(path)
    route = find_route(plan, key)
    if route is None:
        return {"key": key, "route": None, "reason": "no route's prefix matches this key"}
    candidates = sorted(
        (r.prefix for r in plan.routes.values() if key.startswith(r.prefix)), key=len, reverse=True
    )
    info: dict[str, Any] = {
        "key": key,
        "route": _route(loaded, route),
        "matched_prefixes": candidates,
        "why_route": f"longest matching prefix {route.prefix!r}",
        "bucket": None,
    }
    lands = route.live
    if route.target is not None:
        b = bucket(route.name, key)
        info["bucket"] = b
        moved = b < route.threshold
        lands = route.target if moved else route.live
        info["why_phase"] = (
            f"bucket {b} of {BUCKETS} is {'below' if moved else 'at or above'} the rollout "
            f"threshold {route.threshold} ({route.threshold / 100:g}%) → phase {lands.name!r}"
        )
    else:
        info["why_phase"] = f"no rollout: the live phase {lands.name!r}"
    info["phase"] = _phase(lands)
    info["phases"] = {
        "live": _phase(route.live),
        "rollout": _phase(route.target) if route.target is not None else None,
    }
    info["backends"] = _backends(loaded)
    return info


def explain_policy(loaded: LoadedPolicy, plan: Plan) -> dict[str, Any]:
    """Every route with its live (and rollout) phase's legs."""
    return {
        "source": loaded.source,
        "routes": [
            {
                **_route(loaded, route),
                "phases": {
                    "live": _phase(route.live),
                    "rollout": _phase(route.target) if route.target is not None else None,
                },
            }
            for route in sorted(plan.routes.values(), key=lambda r: (-len(r.prefix), r.name))
        ],
        "backends": _backends(loaded),
    }
