"""``router backfill POLICY --route R``: copy what the target lacks, verified, resumable.

Direction (unless ``--from``/``--to`` name the backends): in a ``dual-write`` phase
from the primary (the truth) to the shadow, copying keys the shadow lacks or holds
differently; in a ``read-primary`` phase from the shadow (the legacy side) to the
primary, copying only keys the primary lacks (``--only-missing`` is implied: the
primary's own objects are never overwritten). Keys only on the target are left alone.

Each copy streams with constant memory (objects over 8 MiB go to S3 as a multipart
upload of 8 MiB parts, aborted on failure) and is verified: size, and the S3 ETag
against the MD5 sent (of the object up to 8 MiB; of each part, and of the parts'
MD5s, above); ``--checksum`` also compares sha256 of both sides (except where the
single-part ETag check already proved the content). S3 → S3 copies keep the content
type and user metadata.

Resumable: progress is recorded in a checkpoint file (default
``JOURNAL/.checkpoints/backfill-<route>-<from>-<to>-<hash>.jsonl``); an interrupted
run started again continues after the last handled key without re-listing or
re-copying what is done. A finished backfill run again copies nothing new.

``--dry-run`` decides what would be copied and touches nothing (not even the
checkpoint); ``--report FILE`` gets one JSON line per key copied / to copy / failed
(``key``, ``action``, ``reason``, ``size``, ``source``, ``target``) and a last line
``{"totals": {...}}``. A progress bar is shown on a terminal; otherwise one line
every 5 seconds.

Exit codes: 0 done (every copy succeeded, or a dry run); 1 some copies failed (run it
again: failed keys are retried) or a backend failed mid-run; 2 usage error.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from router.cli.cmd_verify import (
    add_scope_arguments,
    check_dask,
    check_of,
    command_parser,
    failure,
    load_router,
    make_scope,
    report_writer,
    run_on_dask,
    table,
)
from router.cli.common import UsageError

NAME = "backfill"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SHOWN = 20


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``backfill`` sub-command."""
    parser = command_parser(sub, NAME, "copy what the target side of a route lacks", __doc__)
    add_scope_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only say what would be copied (with --report FILE); touch nothing",
    )
    parser.add_argument(
        "--only-missing",
        action="store_true",
        help="copy only keys the target lacks; never overwrite a differing object",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="checkpoint file (default: under the journal directory)",
    )
    parser.add_argument(
        "--no-checkpoint", action="store_true", help="do not resume or record progress"
    )
    parser.add_argument(
        "--bwlimit",
        metavar="RATE",
        help="bandwidth limit in bytes/s over all copies: 10M, 512K, 1.5G (binary units)",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "bar", "plain", "none"),
        default="auto",
        help="progress display (default: auto = bar on a terminal, else plain lines)",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Backfill; 0 done, 1 some copies failed, 2 usage."""
    from router.migrate import CheckpointMismatch, ListingOrderError, backfill, parse_rate
    from router.migrate.progress import Display, PlainDisplay, human_bytes, open_display
    from router.migrate.scope import default_checkpoint

    check_dask(args)
    bwlimit = None
    if args.bwlimit is not None:
        try:
            bwlimit = parse_rate(args.bwlimit)
        except ValueError as exc:
            raise UsageError(f"--bwlimit: {exc}") from None
    if args.checkpoint is not None and args.no_checkpoint:
        raise UsageError("--checkpoint and --no-checkpoint contradict each other")
    with load_router(args.policy) as router:
        scope = make_scope(args, router, "backfill")
        check = check_of(args)
        checkpoint: str | None = None
        if not args.no_checkpoint and not args.dry_run:
            checkpoint = args.checkpoint or default_checkpoint(router.journal.root, scope)
        # on --dask the partitions write the report themselves
        with report_writer(args.report if args.dask is None else None) as write:
            display: Display
            if args.progress == "none" or args.dask is not None:
                display = Display()
            elif args.progress == "plain":
                display = PlainDisplay(out)
            else:
                display = open_display(out, tty=True if args.progress == "bar" else None)
            try:
                if args.dask is not None:
                    from router.migrate.dask import backfill_on_dask

                    report = run_on_dask(
                        backfill_on_dask,
                        args,
                        scope.route,
                        check,
                        only_missing=args.only_missing or None,
                        dry_run=args.dry_run,
                        checkpoint=checkpoint,
                        bwlimit=bwlimit,
                    )
                else:
                    report = backfill(
                        scope,
                        check=check,
                        concurrency=args.concurrency,
                        dry_run=args.dry_run,
                        limit=args.limit,
                        checkpoint=checkpoint,
                        bwlimit=bwlimit,
                        progress=display.update,
                        on_row=lambda row: write(row.as_dict()),
                    )
            except CheckpointMismatch as exc:
                raise UsageError(str(exc)) from None
            except (OSError, ListingOrderError) as exc:
                return failure(err, "backfill", exc)
            finally:
                display.close()
    if args.report is not None:
        totals = {
            "objects": report.would_copy if report.dry_run else report.copied,
            "bytes": report.would_copy_bytes if report.dry_run else report.bytes_copied,
            "failed": report.failed,
            "examined": report.examined,
            "equal": report.equal,
            "dry_run": report.dry_run,
        }
        with open(args.report, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"totals": totals}) + "\n")
    verb = "would copy" if report.dry_run else "copied"
    print(
        f"backfill route {report.route}: {report.source} -> {report.target}, "
        f"prefix {report.prefix!r}{' (dry run: nothing written)' if report.dry_run else ''}",
        file=out,
    )
    rows = [
        ("examined", str(report.examined)),
        ("already equal", str(report.equal)),
        (
            verb,
            f"{report.would_copy if report.dry_run else report.copied} "
            f"({human_bytes(report.would_copy_bytes if report.dry_run else report.bytes_copied)})",
        ),
        ("failed", str(report.failed)),
    ]
    if scope.only_missing:
        rows.append(("differing, left alone", str(report.kept)))
    if report.resumed_from is not None or report.skipped_done:
        rows.append(("resumed after", repr(report.resumed_from)))
        rows.append(("done by an earlier run", str(report.skipped_done)))
    if report.retried:
        rows.append(("earlier failures retried", str(report.retried)))
    if report.checkpoint:
        rows.append(("checkpoint", report.checkpoint))
    if report.elapsed > 0 and report.copied:
        rows.append(("rate", f"{human_bytes(report.bytes_copied / report.elapsed)}/s"))
    table(rows, out)
    for row in report.failures[:SHOWN]:
        print(f"  failed   {row.key}: {row.reason}", file=out)
    if not report.complete:
        print(f"stopped after --limit {args.limit} objects; run again to continue", file=out)
    if report.ok:
        print("result: DONE" if not report.dry_run else "result: DRY RUN", file=out)
        return EXIT_OK
    print(f"result: {report.failed} copies FAILED; run again to retry them", file=out)
    return EXIT_FAILED
