"""Compile a policy into an immutable plan, and route keys with it. Pure: no I/O.

A :class:`Plan` answers, for any key, *which route, which phase, which legs* — the
executor then does the I/O. Routing is a longest-prefix match over the distinct prefix
lengths (a dict lookup per length, never a scan of every route), then the rollout
bucket decides between the live phase and the rollout target.

Rollout buckets (stable across processes, machines and Python versions)::

    bucket(route, key) = int.from_bytes(sha256(route + "\\0" + key)[:8], "big") % 10000

with ``route`` and ``key`` UTF-8 encoded. A key uses the rollout target when
``bucket < percent * 100``, so raising ``percent`` only ever moves keys forward.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from router.policy.model import ErrorClass, Fallback, Mode, Op, Policy, Route

__all__ = [
    "BUCKETS",
    "Decision",
    "OpPlan",
    "PhasePlan",
    "Plan",
    "Role",
    "RoutePlan",
    "bucket",
    "compile_policy",
    "listing_routes",
    "route_key",
]

BUCKETS = 10_000


class Role(StrEnum):
    """Which side of a migration a backend plays in a phase."""

    PRIMARY = "primary"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class OpPlan:
    """How one op runs in one phase: the legs in order and when to move on."""

    op: Op
    legs: tuple[tuple[str, Role], ...]
    """(backend, role) in the order tried; for mutations in dual-write, run together."""
    fallback_on: frozenset[ErrorClass]
    retries: int
    backoff: float
    deadline: float | None
    union: bool = False

    def falls_back(self, error_class: ErrorClass) -> bool:
        """Whether a primary failure of ``error_class`` moves on to the shadow."""
        return ErrorClass.ANY in self.fallback_on or error_class in self.fallback_on


@dataclass(frozen=True, slots=True)
class PhasePlan:
    """One phase of a route, compiled."""

    name: str
    primary: str
    shadow: str | None
    mode: Mode
    ops: Mapping[Op, OpPlan]

    @property
    def writes_shadow(self) -> bool:
        """Whether mutations go to the shadow too."""
        return self.mode is Mode.DUAL_WRITE

    @property
    def backends(self) -> tuple[str, ...]:
        """Backends this phase touches, primary first."""
        return (self.primary,) if self.shadow is None else (self.primary, self.shadow)


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A route, compiled: its phases and how keys pick one."""

    name: str
    prefix: str
    metrics_prefix: str
    keys_in_events: bool
    live: PhasePlan
    target: PhasePlan | None
    threshold: int
    """Keys whose bucket is below this use ``target``; 0 when there is no rollout."""
    phases: Mapping[str, PhasePlan]
    force: bool
    compare_sample: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one key goes: its route, the phase it lands in, and its bucket."""

    route: RoutePlan
    phase: PhasePlan
    bucket: int | None
    """The key's rollout bucket, when the route has a rollout."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole policy, compiled and ready for routing."""

    routes: Mapping[str, RoutePlan]
    by_prefix: Mapping[str, RoutePlan]
    prefix_lengths: tuple[int, ...]
    """Distinct prefix lengths, longest first."""
    policy: Policy = field(repr=False)


_MUTATIONS = frozenset({Op.WRITE, Op.DELETE, Op.COPY, Op.MOVE})


def _op_plan(
    op: Op, primary: str, shadow: str | None, mode: Mode, fallback: Fallback | None
) -> OpPlan:
    fallback = fallback or Fallback()
    legs: tuple[tuple[str, Role], ...] = ((primary, Role.PRIMARY),)
    shadow_leg = shadow is not None and (
        mode is Mode.DUAL_WRITE or (mode is Mode.READ_PRIMARY and op not in _MUTATIONS)
    )
    if shadow is not None and shadow_leg:
        legs = (*legs, (shadow, Role.SHADOW))
    return OpPlan(
        op=op,
        legs=legs,
        fallback_on=frozenset(fallback.on),
        retries=fallback.retries,
        backoff=fallback.backoff,
        deadline=fallback.deadline,
        union=fallback.union,
    )


def _phase_plan(route: Route, name: str) -> PhasePlan:
    phase = route.phase_table[name]
    ops = {
        op: _op_plan(op, phase.primary, phase.shadow, phase.mode, route.fallbacks.get(op))
        for op in Op
    }
    return PhasePlan(
        name=name,
        primary=phase.primary,
        shadow=phase.shadow,
        mode=phase.mode,
        ops=MappingProxyType(ops),
    )


def _threshold(percent: Decimal) -> int:
    return int(percent * 100)


def compile_policy(policy: Policy) -> Plan:
    """Compile a valid (checked) policy into a :class:`Plan`."""
    routes: dict[str, RoutePlan] = {}
    for name, route in policy.routes.items():
        phases = {phase: _phase_plan(route, phase) for phase in route.phase_table}
        live = phases[route.live_phase]
        target = phases[route.rollout.to] if route.rollout is not None else None
        routes[name] = RoutePlan(
            name=name,
            prefix=route.prefix,
            metrics_prefix=route.metrics.prefix or name,
            keys_in_events=route.metrics.keys,
            live=live,
            target=target,
            threshold=_threshold(route.rollout.percent) if route.rollout is not None else 0,
            phases=MappingProxyType(phases),
            force=route.force,
            compare_sample=route.compare.sample if route.compare is not None else 0.0,
        )
    by_prefix = {r.prefix: r for r in routes.values()}
    lengths = tuple(sorted({len(p) for p in by_prefix}, reverse=True))
    return Plan(
        routes=MappingProxyType(routes),
        by_prefix=MappingProxyType(by_prefix),
        prefix_lengths=lengths,
        policy=policy,
    )


def bucket(route: str, key: str) -> int:
    """The key's rollout bucket in ``[0, 10000)``; see the module docstring."""
    digest = hashlib.sha256(f"{route}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def find_route(plan: Plan, key: str) -> RoutePlan | None:
    """The route with the longest prefix of ``key``, if any."""
    for length in plan.prefix_lengths:
        if length <= len(key):
            found = plan.by_prefix.get(key[:length])
            if found is not None:
                return found
    return None


def route_key(plan: Plan, key: str) -> Decision | None:
    """Route ``key``: its route, the phase it lands in and its bucket (None: no route)."""
    route = find_route(plan, key)
    if route is None:
        return None
    if route.target is None:
        return Decision(route, route.live, None)
    b = bucket(route.name, key)
    return Decision(route, route.target if b < route.threshold else route.live, b)


def listing_routes(plan: Plan, directory: str) -> tuple[RoutePlan | None, tuple[RoutePlan, ...]]:
    """For a directory listing: the route owning the directory, and routes nested in it.

    ``directory`` is a key without trailing slash (``""`` for the top).
    """
    base = f"{directory}/" if directory else ""
    owner = find_route(plan, base)
    nested = tuple(
        r
        for r in plan.routes.values()
        if r.prefix.startswith(base)
        and r.prefix != base
        and r is not owner
        and (owner is None or len(r.prefix) > len(owner.prefix))
    )
    return owner, nested
