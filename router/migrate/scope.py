"""What a verify or backfill works on: a route's keys, a source and a target backend.

Default sides come from the route's live phase:

- ``dual-write`` (and ``primary-only`` with a shadow): source = primary (the truth),
  target = shadow; a backfill copies what the shadow lacks or holds differently;
- ``read-primary``: the shadow is the read-only legacy side and the primary holds the
  truth for every key it has, so a backfill goes shadow → primary and copies only what
  the primary *lacks* (never overwriting the primary); verify still compares primary
  (source) with shadow (target);
- a phase with one backend: the other side is the rollout target's primary when it
  differs, else the sides must be named (``source``/``target``, CLI ``--from``/``--to``).

``prefix`` narrows the route: a full key prefix inside the route, or one relative to
the route's prefix (``2025/`` on route ``certificates/`` means ``certificates/2025/``).
Keys owned by a nested route (a longer prefix) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from router.backends import BackendFS
from router.plan import Plan
from router.policy.model import Mode

__all__ = ["Scope", "SidesUnknown", "UnknownRoute", "scope_for"]

Purpose = Literal["verify", "backfill"]


class UnknownRoute(ValueError):
    """A route (or backend) name the policy does not have; the message names the known ones."""


class SidesUnknown(ValueError):
    """The route's live phase has one backend and no side was named."""


class HasPlan(Protocol):
    """What :func:`scope_for` needs from a :class:`router.Router`."""

    @property
    def plan(self) -> Plan: ...

    @property
    def backends(self) -> Mapping[str, BackendFS]: ...


@dataclass(frozen=True)
class Scope:
    """A route's keys on two backends."""

    route: str
    prefix: str
    """Effective key prefix (the route's, or narrower)."""
    source: BackendFS
    target: BackendFS
    exclude: tuple[str, ...] = ()
    """Prefixes of nested routes, left out."""
    only_missing: bool = False
    """Backfill copies only keys the target lacks (never overwrites)."""
    phase: str = ""
    backends: dict[str, str] = field(default_factory=dict)
    """``{"source": name, "target": name}``, for reports."""


def known(names: Iterable[object]) -> str:
    """``a, b, c`` of names, for messages."""
    return ", ".join(sorted(str(n) for n in names))


def _effective_prefix(route_prefix: str, prefix: str | None) -> str:
    if not prefix:
        return route_prefix
    if prefix.startswith(route_prefix):
        return prefix
    return route_prefix + prefix


def scope_for(
    router: HasPlan,
    route: str,
    *,
    prefix: str | None = None,
    source: str | None = None,
    target: str | None = None,
    purpose: Purpose = "verify",
    only_missing: bool | None = None,
) -> Scope:
    """The :class:`Scope` of ``route`` (see the module docstring for the defaults).

    Raises :class:`UnknownRoute` for an unknown route or backend name, and
    :class:`SidesUnknown` when the sides cannot be chosen.
    """
    plan = router.plan
    backends = router.backends
    found = plan.routes.get(route)
    if found is None:
        raise UnknownRoute(
            f"unknown route {route!r}; the policy's routes are: {known(plan.routes)}"
        )
    for name in (source, target):
        if name is not None and name not in backends:
            raise UnknownRoute(
                f"unknown backend {name!r}; the policy's backends are: {known(backends)}"
            )
    live = found.live
    default_only_missing = False
    if live.shadow is not None:
        src, dst = live.primary, live.shadow
        if purpose == "backfill" and live.mode is Mode.READ_PRIMARY:
            src, dst = live.shadow, live.primary
            default_only_missing = True
    elif found.target is not None and found.target.primary != live.primary:
        src, dst = live.primary, found.target.primary
    else:
        src = dst = ""
    if source is not None or target is not None:
        default_only_missing = False
        if source is not None and target is not None:
            src, dst = source, target
        elif source is not None:
            dst = dst if dst and dst != source else (src if src != source else "")
            src = source
        else:
            assert target is not None
            src = src if src and src != target else (dst if dst != target else "")
            dst = target
    if not src or not dst:
        raise SidesUnknown(
            f"route {route!r} is in phase {live.name!r} with one backend ({live.primary}); "
            f"name both sides with --from and --to (backends: {known(backends)})"
        )
    if src == dst:
        raise SidesUnknown(f"source and target are both {src!r}; name two different backends")
    narrowed = _effective_prefix(found.prefix, prefix)
    exclude = tuple(
        sorted(
            r.prefix
            for r in plan.routes.values()
            if r.name != route
            and len(r.prefix) > len(found.prefix)
            and r.prefix.startswith(found.prefix)
        )
    )
    return Scope(
        route=route,
        prefix=narrowed,
        source=backends[src],
        target=backends[dst],
        exclude=exclude,
        only_missing=default_only_missing if only_missing is None else only_missing,
        phase=live.name,
        backends={"source": src, "target": dst},
    )


def default_checkpoint(journal_root: str | os.PathLike[str], scope: Scope) -> str:
    """``JOURNAL/.checkpoints/backfill-<route>-<source>-<target>-<prefix hash>.jsonl``."""
    import hashlib
    import re

    tag = hashlib.sha256(scope.prefix.encode("utf-8")).hexdigest()[:8]
    name = f"backfill-{scope.route}-{scope.source.name}-{scope.target.name}-{tag}"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return os.path.join(os.fspath(journal_root), ".checkpoints", f"{name}.jsonl")
