"""Cross-checks between parts of a policy that pydantic's field types cannot express.

Pure: takes a :class:`Policy`, returns a list of ``(path, message)`` problems, each
path a tuple of keys as in the YAML document, so the loader can point at the line.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from router.policy.model import Mode, Policy, Route

__all__ = ["Problem", "check", "suggest"]

Path = tuple[str | int, ...]
Problem = tuple[Path, str]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def suggest(name: str, choices: Iterable[str]) -> str:
    """A `` (did you mean 'x'?)`` hint for a near-miss name, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _known(kind: str, name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    listing = ", ".join(repr(c) for c in choices) or "none"
    return f"unknown {kind} {name!r}{suggest(name, choices)} (known: {listing})"


def check(policy: Policy) -> list[Problem]:
    """Every relational problem of ``policy``; an empty list means it is coherent."""
    problems: list[Problem] = []
    for name, backend in policy.backends.items():
        base: Path = ("backends", name)
        if not _NAME.match(name):
            problems.append((base, f"backend name {name!r} may use only letters, digits, _ . -"))
        host, bad_url = _hostname(backend.url)
        if bad_url:
            problems.append(((*base, "url"), bad_url))
        elif not backend.allow_private_endpoint and _is_link_local(host):
            problems.append(((*base, "url"), _LINK_LOCAL))
        problems.extend(
            (base + sub, msg)
            for sub, msg in _check_endpoint(backend.options, backend.allow_private_endpoint)
        )
    _, bad_journal = _hostname(policy.journal.url)
    if bad_journal:
        problems.append((("journal", "url"), bad_journal))
    if not policy.routes:
        problems.append((("routes",), "a policy needs at least one route"))
    seen_prefixes: dict[str, str] = {}
    for name, route in policy.routes.items():
        base = ("routes", name)
        if not _NAME.match(name):
            problems.append((base, f"route name {name!r} may use only letters, digits, _ . -"))
        if route.prefix in seen_prefixes:
            other = seen_prefixes[route.prefix]
            problems.append(
                ((*base, "prefix"), f"prefix {route.prefix!r} is already used by route {other!r}")
            )
        seen_prefixes.setdefault(route.prefix, name)
        problems.extend(_check_route(policy, base, route))
    return problems


_LINK_LOCAL = (
    "endpoint is a link-local/metadata address; set allow_private_endpoint: true "
    "on the backend if this is really intended"
)


_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "metadata.azure.internal"})
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata
    }
)


def _parse_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names, in every spelling an HTTP client accepts: dotted,
    decimal (2852039166), hex (0xa9fea9fe), octal (0251.0376...), short (169.254.43518),
    bracketed IPv6; None for a DNS name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # the C library's lenient forms
    except (OSError, ValueError):
        return None


def _is_link_local(host: str | None) -> bool:
    """Whether ``host`` is a link-local or cloud metadata endpoint, however it is spelled."""
    if not host:
        return False
    host = host.rstrip(".").lower()
    if host in _METADATA_NAMES:
        return True
    address = _parse_host(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address in _METADATA_ADDRESSES


def _hostname(url: str) -> tuple[str | None, str]:
    """The URL's host, or an explanation of why ``url`` cannot be parsed."""
    try:
        return urlsplit(url).hostname, ""
    except ValueError as exc:
        return None, f"{url!r} is not a valid URL ({exc})"


def _check_endpoint(options: dict[str, object], allow_private: bool) -> list[Problem]:
    problems: list[Problem] = []
    candidates: list[tuple[Path, object]] = [
        (("options", "endpoint_url"), options.get("endpoint_url"))
    ]
    client_kwargs = options.get("client_kwargs")
    if isinstance(client_kwargs, dict):
        candidates.append(
            (("options", "client_kwargs", "endpoint_url"), client_kwargs.get("endpoint_url"))
        )
    for path, value in candidates:
        if not isinstance(value, str) or not value:
            continue
        host, bad_url = _hostname(value)
        if bad_url:
            problems.append((path, bad_url))
        elif not allow_private and _is_link_local(host):
            problems.append((path, _LINK_LOCAL))
    return problems


def _check_route(policy: Policy, base: Path, route: Route) -> list[Problem]:
    problems: list[Problem] = []
    shorthand = route.primary is not None or route.shadow is not None or route.mode is not None
    if route.phases is not None and shorthand:
        problems.append((base, "give either phases or the primary/shadow/mode shorthand, not both"))
        return problems
    if route.phases is None and route.primary is None:
        problems.append((base, "a route needs phases or a primary backend"))
        return problems
    if route.phases is not None and not route.phases:
        problems.append(((*base, "phases"), "phases is empty; name at least one phase"))
        return problems
    phases = route.phase_table
    if route.phases is not None:
        if route.phase is None:
            if len(phases) > 1:
                problems.append(
                    (base, f"route has {len(phases)} phases; say which is live with phase: NAME")
                )
        elif route.phase not in phases:
            problems.append(((*base, "phase"), _known("phase", route.phase, phases)))
    elif route.phase is not None:
        problems.append(((*base, "phase"), "phase needs phases; the shorthand has one phase"))
    for phase_name, phase in phases.items():
        where: Path = (*base, "phases", phase_name) if route.phases is not None else base
        for role in ("primary", "shadow"):
            backend = getattr(phase, role)
            if backend is not None and backend not in policy.backends:
                problems.append(((*where, role), _known("backend", backend, policy.backends)))
        if phase.mode is Mode.PRIMARY_ONLY and phase.shadow is not None:
            # Point at the mode only when it was written; an omitted mode defaults to
            # primary-only, and then the shadow is what is wrong.
            explicit_mode = (
                "mode" in phase.model_fields_set if route.phases is not None else route.mode
            )
            at = (*where, "mode") if explicit_mode else (*where, "shadow")
            problems.append(
                (
                    at,
                    "primary-only has no shadow; set mode: dual-write or read-primary, "
                    "or remove the shadow",
                )
            )
        if phase.mode is not Mode.PRIMARY_ONLY and phase.shadow is None:
            problems.append(((*where, "mode"), f"mode {phase.mode.value} needs a shadow backend"))
        if phase.shadow is not None and phase.shadow == phase.primary:
            problems.append(((*where, "shadow"), "shadow must differ from primary"))
    if route.rollout is not None:
        target = route.rollout.to
        if target not in phases:
            problems.append(((*base, "rollout", "to"), _known("phase", target, phases)))
        elif target == route.live_phase:
            problems.append(
                ((*base, "rollout", "to"), f"rollout target {target!r} is already the live phase")
            )
    return problems
