"""``router explain POLICY [PATH]``: which route, phase and backend each op takes, and why.

Exit codes: 0 explained; 1 the policy is invalid or the path is refused; 2 usage.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from router.cli.common import load_or_report
from router.errors import KeyRejected
from router.explain import explain_key, explain_policy
from router.plan import compile_policy

NAME = "explain"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``explain`` sub-command."""
    parser = sub.add_parser(
        NAME, help="show how a key (or every route) is routed", description=__doc__
    )
    parser.add_argument("policy", metavar="POLICY", help="policy file")
    parser.add_argument("path", metavar="PATH", nargs="?", help="a key, e.g. certificates/a.pdf")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _phase_lines(title: str, phase: dict[str, Any] | None, out: TextIO) -> None:
    if phase is None:
        return
    shadow = f", shadow {phase['shadow']}" if phase["shadow"] else ""
    print(
        f"  {title}: phase {phase['name']!r} — primary {phase['primary']}{shadow}, "
        f"mode {phase['mode']}",
        file=out,
    )
    for op, legs in phase["ops"].items():
        print(f"    {op:<7} {legs}", file=out)


def _backend_lines(backends: dict[str, Any], out: TextIO) -> None:
    print("backends:", file=out)
    for name, backend in backends.items():
        options = (
            f"  options {json.dumps(backend['options'], ensure_ascii=False)}"
            if backend["options"]
            else ""
        )
        print(f"  {name}: {backend['url']}{options}", file=out)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Explain a key, or the whole policy."""
    loaded = load_or_report(args.policy, err)
    if loaded is None:
        return 1
    plan = compile_policy(loaded.policy)
    if args.path is None:
        report = explain_policy(loaded, plan)
        if args.format == "json":
            print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
            return 0
        for route in report["routes"]:
            origin = f" (from {route['live_phase_from']})" if route["live_phase_from"] else ""
            print(
                f"route {route['name']!r}  prefix {route['prefix']!r}  live phase "
                f"{route['live_phase']!r}{origin}",
                file=out,
            )
            if route["rollout"]:
                print(
                    f"  rollout: {route['rollout']['percent']:g}% of keys → "
                    f"{route['rollout']['to']!r}",
                    file=out,
                )
            _phase_lines("live", route["phases"]["live"], out)
            _phase_lines("rollout", route["phases"]["rollout"], out)
        _backend_lines(report["backends"], out)
        return 0
    try:
        report = explain_key(loaded, plan, args.path)
    except KeyRejected as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
        return 0
    print(f"key:    {report['key']}", file=out)
    if report["route"] is None:
        print(f"route:  none — {report['reason']}", file=out)
        return 1
    route = report["route"]
    print(f"route:  {route['name']!r} — {report['why_route']}", file=out)
    if report["bucket"] is not None:
        print(f"bucket: {report['bucket']}", file=out)
    print(f"phase:  {report['phase']['name']!r} — {report['why_phase']}", file=out)
    _phase_lines("this key", report["phase"], out)
    if report["phases"]["rollout"] is not None:
        other = "rollout" if report["phase"]["name"] == route["live_phase"] else "live"
        _phase_lines(other, report["phases"][other], out)
    _backend_lines(report["backends"], out)
    return 0
