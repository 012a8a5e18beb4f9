"""Safe flips: would a new plan stop using a backend that still holds divergences? Pure.

A route's *write set* is every backend its mutations reach in the live phase and the
rollout target; its *read set* adds the read fallbacks. A flip that drops a backend from
either set while the journal still has entries naming that backend for the route would
hide or strand data that only repair can reconcile — so it is refused unless the new
policy says ``force: true`` on the route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from router.plan import PhasePlan, Plan, RoutePlan
from router.policy.model import Op

__all__ = ["FlipRisk", "flip_risks", "read_set", "write_set"]


@dataclass(frozen=True, slots=True)
class FlipRisk:
    """One backend a flip would stop writing to or reading from, with pending entries."""

    route: str
    backend: str
    change: str
    """``stop writing to`` or ``stop reading from``."""
    pending: int
    forced: bool

    def describe(self) -> str:
        """One line for an event or the CLI."""
        verdict = "allowed by force: true" if self.forced else "refused"
        return (
            f"route {self.route!r}: the new policy would {self.change} backend {self.backend!r}, "
            f"which has {self.pending} unrepaired divergence(s) — {verdict}"
        )


def _phases(route: RoutePlan) -> tuple[PhasePlan, ...]:
    if route.target is not None and route.threshold > 0:
        return (route.live, route.target)
    return (route.live,)


def write_set(route: RoutePlan) -> frozenset[str]:
    """Backends the route's mutations reach (live phase and rollout target)."""
    names: set[str] = set()
    for phase in _phases(route):
        names.update(backend for backend, _ in phase.ops[Op.WRITE].legs)
    return frozenset(names)


def read_set(route: RoutePlan) -> frozenset[str]:
    """Backends the route's reads may be served from (including fallbacks)."""
    names: set[str] = set()
    for phase in _phases(route):
        plan = phase.ops[Op.READ]
        names.add(phase.primary)
        if plan.fallback_on:
            names.update(backend for backend, _ in plan.legs)
    return frozenset(names)


def flip_risks(old: Plan, new: Plan, pending: Mapping[str, Mapping[str, int]]) -> list[FlipRisk]:
    """Every backend dropped by the flip from ``old`` to ``new`` that has pending entries.

    ``pending[route][backend]`` counts journal entries of ``route`` naming ``backend``
    (as truth or stale side).
    """
    risks: list[FlipRisk] = []
    for name, before in old.routes.items():
        counts = pending.get(name, {})
        if not any(counts.values()):
            continue
        after = new.routes.get(name)
        forced = after.force if after is not None else False
        writes_after = write_set(after) if after is not None else frozenset()
        reads_after = read_set(after) if after is not None else frozenset()
        for change, was, now in (
            ("stop writing to", write_set(before), writes_after),
            ("stop reading from", read_set(before), reads_after),
        ):
            for backend in sorted(was - now):
                if counts.get(backend, 0):
                    risks.append(FlipRisk(name, backend, change, counts[backend], forced))
    return risks
