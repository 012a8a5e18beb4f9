"""``router sweep POLICY``: remove what crashed writes left behind.

Under each backend's root: local temp files of unpublished writes
(``.NAME.router-tmp-XXXXXXXXXXXX``) are removed, and S3 multipart uploads that were
never completed are aborted; stale temp files of the journal directory go too. Only
leftovers older than ``--older-than`` (default 1h) are touched, so a write still in
progress is never disturbed and the sweep can run while the application runs.
``--dry-run`` lists what would go, and touches nothing.

``--report FILE`` writes one JSON line per leftover: ``backend``, ``kind``
(``temp-file``, ``multipart-upload``, ``journal-temp``), ``path``, ``age``,
``action`` (``removed``, ``aborted``, ``would remove``, ``would abort``, ``failed``),
``upload_id``, ``reason``.

Exit codes: 0 nothing failed (including: nothing to sweep); 1 some leftover could not
be removed; 2 usage error (bad flags, unreadable or invalid policy, unknown backend).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.cli.cmd_verify import command_parser, load_router, report_writer, table
from router.cli.common import UsageError

NAME = "sweep"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SHOWN = 20


def duration(text: str) -> float:
    """argparse type: a duration such as ``1h``, ``30m``, ``0s``."""
    from router.policy.model import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``sweep`` sub-command."""
    parser = command_parser(
        sub, NAME, "remove temp files and abort multipart uploads left by crashed writes", __doc__
    )
    parser.add_argument("policy", metavar="POLICY", help="the policy file")
    parser.add_argument(
        "--older-than",
        type=duration,
        default=3600.0,
        metavar="DURATION",
        help="only leftovers at least this old (default: 1h; e.g. 30m, 2h, 0s)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be removed; change nothing"
    )
    parser.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help="sweep only this backend (repeatable; the journal is then left alone)",
    )
    parser.add_argument("--report", metavar="FILE", help="write one JSON line per leftover")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Sweep; 0 nothing failed, 1 something could not be removed, 2 usage."""
    from router.sweep import sweep

    with load_router(args.policy) as router:
        only = args.backend
        if only is not None:
            unknown = sorted(set(only) - set(router.backends))
            if unknown:
                known = ", ".join(sorted(router.backends))
                raise UsageError(f"unknown backend {unknown[0]!r} (known: {known})")
        with report_writer(args.report) as write:
            report = sweep(
                router.backends,
                journal=router.journal,
                older_than=args.older_than,
                dry_run=args.dry_run,
                only=only,
            )
            for item in report.items:
                write(item.as_dict())
    verb = "would remove" if args.dry_run else "removed"
    print(f"sweep {args.policy}: leftovers older than {args.older_than:g}s", file=out)
    table(
        [
            (f"temp files {verb}", str(report.removed)),
            (
                "multipart uploads " + ("would abort" if args.dry_run else "aborted"),
                str(report.aborted),
            ),
            ("younger, left alone", str(report.young)),
            ("failed", str(report.failed)),
            ("backends not swept", ", ".join(report.skipped_backends) or "none"),
        ],
        out,
    )
    for item in report.items[:SHOWN]:
        detail = f" ({item.reason})" if item.reason else ""
        print(f"  {item.action:<12} {item.backend}: {item.path}{detail}", file=out)
    if len(report.items) > SHOWN:
        print(f"  ... and {len(report.items) - SHOWN} more", file=out)
    if report.ok:
        print("result: OK" if not args.dry_run else "result: dry run, nothing changed", file=out)
        return EXIT_OK
    print(f"result: {report.failed} leftover(s) could not be removed", file=out)
    return EXIT_FAILED
