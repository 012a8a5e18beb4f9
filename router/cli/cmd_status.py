"""``router status POLICY``: phases and rollouts at a glance, with journal depth per route.

Exit codes: 0 shown; 1 the policy is invalid; 2 usage.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from router.cli.common import load_or_report
from router.journal import journal_for
from router.plan import compile_policy
from router.status import status_rows

NAME = "status"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``status`` sub-command."""
    parser = sub.add_parser(
        NAME, help="show phases, rollouts and journal depth", description=__doc__
    )
    parser.add_argument("policy", metavar="POLICY", help="policy file")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def render(rows: list[dict[str, Any]], out: TextIO) -> None:
    """Print the status table."""
    table = Table(show_lines=False, pad_edge=False)
    for column in (
        "route",
        "prefix",
        "phase",
        "rollout",
        "primary",
        "shadow",
        "mode",
        "journal",
        "from",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        rollout = f"{row['rollout_percent']:g}% → {row['rollout_to']}" if row["rollout_to"] else "—"
        origins = f"phase: {row['phase_from']}"
        if row["rollout_from"]:
            origins += f"; rollout: {row['rollout_from']}"
        table.add_row(
            row["route"],
            repr(row["prefix"]),
            row["phase"],
            rollout,
            row["primary"],
            row["shadow"] or "—",
            row["mode"],
            str(row["journal_depth"]),
            origins,
        )
    Console(file=out, width=160, highlight=False, soft_wrap=False).print(table)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the status of every route."""
    loaded = load_or_report(args.policy, err)
    if loaded is None:
        return 1
    journal = journal_for(loaded.policy.journal.url, loaded.source)
    depths = {route: journal.depth(route) for route in loaded.policy.routes}
    rows = status_rows(loaded, compile_policy(loaded.policy), depths)
    if args.format == "json":
        print(
            json.dumps(
                {"source": loaded.source, "journal": str(journal.root), "routes": rows},
                indent=2,
                ensure_ascii=False,
            ),
            file=out,
        )
    else:
        render(rows, out)
    return 0
