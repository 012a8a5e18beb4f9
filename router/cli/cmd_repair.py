"""``router repair POLICY``: drain the journal until both sides agree.

For each key with pending journal entries (every route, or ``--route R``), both
sides are looked at now; the backend the newest entry names as the truth wins: the
key is copied to the stale side (verified; skipped when the stale side already holds
an equal object), or deleted from it when the truth no longer has the key. Entries
leave the journal only after their repair succeeded; an entry that could not be
repaired stays, with its ``reason`` and ``attempts`` updated. Safe to run again at
any time (idempotent), including while the application runs.

``--report FILE`` writes one JSON line per key: ``route``, ``key``, ``truth``,
``stale``, ``action`` (``copied``, ``deleted``, ``equal``, ``failed``), ``entries``,
``reason``.

Exit codes: 0 the journal is empty (for ``--route R``: that route's entries); 1
entries remain; 2 usage error (bad flags, unreadable or invalid policy, unknown
route).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.cli.cmd_verify import (
    command_parser,
    failure,
    load_router,
    positive,
    report_writer,
    require_route,
    table,
)

NAME = "repair"

EXIT_EMPTY, EXIT_REMAIN, EXIT_USAGE = 0, 1, 2
SHOWN = 20


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``repair`` sub-command."""
    parser = command_parser(sub, NAME, "drain the divergence journal", __doc__)
    parser.add_argument("policy", metavar="POLICY", help="the policy file")
    parser.add_argument("--route", metavar="R", help="only this route's entries")
    parser.add_argument(
        "--checksum",
        action="store_true",
        help="compare and verify by sha256 of both sides (reads the objects)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive,
        default=8,
        metavar="N",
        help="keys repaired in parallel (default: 8)",
    )
    parser.add_argument("--report", metavar="FILE", help="write one JSON line per key to FILE")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Repair; 0 journal empty, 1 entries remain, 2 usage."""
    from router.migrate import repair

    with load_router(args.policy) as router:
        journal = router.journal
        route = None
        if args.route is not None:
            journal_routes = tuple(r for r in journal.routes() if not r.startswith("."))
            route = require_route(args, router, journal_routes)
        with report_writer(args.report) as write:
            try:
                report = repair(
                    journal,
                    router.backends,
                    route=route,
                    check="checksum" if args.checksum else "etag",
                    concurrency=args.concurrency,
                    keep=10**9 if args.report else 1000,
                )
                for outcome in report.outcomes:
                    write(outcome.as_dict())
            except OSError as exc:
                return failure(err, "repair", exc)
    where = f"route {route}" if route is not None else "all routes"
    print(f"repair {where}: journal {journal.root}", file=out)
    table(
        [
            ("keys", f"{report.keys} ({report.entries} entries)"),
            ("copied", str(report.copied)),
            ("deleted", str(report.deleted)),
            ("already equal", str(report.equal)),
            ("failed, kept", str(report.failed)),
            ("entries remaining", str(report.remaining)),
        ],
        out,
    )
    for outcome in report.outcomes[:SHOWN]:
        if outcome.action == "failed":
            print(f"  failed   {outcome.route}/{outcome.key}: {outcome.reason}", file=out)
    if report.ok:
        print("result: journal EMPTY", file=out)
        return EXIT_EMPTY
    print(f"result: {report.remaining} entries REMAIN; run repair again", file=out)
    return EXIT_REMAIN
