"""``router verify POLICY --route R``: do both sides of a route hold the same objects?

Compares the route's live primary (source) with its shadow (target) — or the backends
named with ``--from``/``--to`` — over listings streamed and merge-joined in key order.
Differences: ``missing`` (on the target), ``extra`` (only on the target), ``size``,
``content`` (by S3 single-part ETag vs the local file's MD5, or two ETags; with
``--checksum`` by sha256 of both sides' content), ``error`` (could not be compared)
and ``skipped`` (a local name that is not valid UTF-8).

Prints a summary table and the first differences; ``--report FILE`` writes every
difference as a JSON line (``kind``, ``key``, ``source``, ``target``, sizes,
checksums, ``detail``).

Exit codes: 0 both sides agree; 1 they differ (or a backend failed mid-run); 2 usage
error (bad flags, unreadable or invalid policy, unknown route or backend).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from router.cli.common import UsageError
from router.errors import PolicyError

if TYPE_CHECKING:
    from router.filesystem import Router
    from router.migrate import Check, Scope

NAME = "verify"

_Report = TypeVar("_Report")

EXIT_OK, EXIT_DIFFER, EXIT_USAGE = 0, 1, 2
SHOWN = 20


# -- helpers shared by verify, backfill and repair --------------------------------------


def command_parser(
    sub: argparse._SubParsersAction[Any], name: str, summary: str, doc: str | None
) -> argparse.ArgumentParser:
    """The sub-command ``name``: ``summary`` in the command list, ``doc`` (the command
    module's docstring, kept as written) as its description."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def load_router(policy: str) -> Router:
    """The Router of ``policy`` (metrics off), or a :class:`UsageError`."""
    from router.filesystem import Router

    try:
        return Router.from_file(policy, metrics=False)
    except PolicyError as exc:
        raise UsageError(f"{policy}: invalid policy:\n{exc}") from None
    except IsADirectoryError:
        raise UsageError(f"{policy}: is a directory, not a policy file") from None
    except FileNotFoundError:
        raise UsageError(f"{policy}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{policy}: {exc.strerror or exc}") from None


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    """POLICY, --route, --from, --to, --prefix, --limit, --checksum/--size-only, ..."""
    parser.add_argument("policy", metavar="POLICY", help="the policy file")
    parser.add_argument("--route", metavar="R", help="the route to work on (required)")
    parser.add_argument(
        "--from",
        dest="source",
        metavar="BACKEND",
        help="source backend (default: from the route's live phase)",
    )
    parser.add_argument(
        "--to",
        dest="target",
        metavar="BACKEND",
        help="target backend (default: from the route's live phase)",
    )
    parser.add_argument(
        "--prefix",
        metavar="P",
        help="only keys starting with P (a key prefix inside the route, or relative to it)",
    )
    parser.add_argument(
        "--limit", type=positive, metavar="N", help="stop after N keys (a rehearsal)"
    )
    check = parser.add_mutually_exclusive_group()
    check.add_argument(
        "--checksum",
        action="store_true",
        help="compare content by sha256 of both sides (reads every object)",
    )
    check.add_argument(
        "--size-only", action="store_true", help="compare sizes only (no checksums at all)"
    )
    parser.add_argument(
        "--concurrency",
        type=positive,
        default=8,
        metavar="N",
        help="parallel object operations (default: 8)",
    )
    parser.add_argument("--report", metavar="FILE", help="write one JSON line per row to FILE")
    parser.add_argument(
        "--dask",
        metavar="SCHEDULER_ADDRESS",
        help="run on a Dask distributed cluster (optional extra: storage-router[dask])",
    )
    parser.add_argument(
        "--partitions",
        type=positive,
        metavar="N",
        help="with --dask: key-range partitions (default: 2 per worker thread)",
    )


def check_of(args: argparse.Namespace) -> Check:
    """The comparison level chosen by the flags."""
    if args.checksum:
        return "checksum"
    if args.size_only:
        return "size"
    return "etag"


def require_route(args: argparse.Namespace, router: Router, extra: tuple[str, ...] = ()) -> str:
    """``--route``, which must name a route of the policy (or ``extra``)."""
    names = sorted({*router.plan.routes, *extra})
    if not args.route:
        raise UsageError(f"--route is required; the policy's routes are: {', '.join(names)}")
    if args.route not in names:
        raise UsageError(
            f"unknown route {args.route!r}; the policy's routes are: {', '.join(names)}"
        )
    return str(args.route)


def make_scope(args: argparse.Namespace, router: Router, purpose: str) -> Scope:
    """The scope chosen by the flags, or a :class:`UsageError`."""
    from router.migrate import SidesUnknown, UnknownRoute, scope_for

    route = require_route(args, router)
    try:
        return scope_for(
            router,
            route,
            prefix=args.prefix,
            source=args.source,
            target=args.target,
            purpose="backfill" if purpose == "backfill" else "verify",
            only_missing=getattr(args, "only_missing", None) or None,
        )
    except (UnknownRoute, SidesUnknown) as exc:
        raise UsageError(str(exc)) from None


def check_dask(args: argparse.Namespace) -> None:
    """Refuse ``--dask`` combinations that make no sense, or without the extra."""
    if args.dask is None:
        if args.partitions is not None:
            raise UsageError("--partitions needs --dask")
        return
    if args.limit is not None:
        raise UsageError("--limit is for single-machine rehearsals; drop it or drop --dask")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(
            "--dask needs the optional extra: pip install 'storage-router[dask]'"
        ) from None


@contextmanager
def report_writer(path: str | None) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A JSON-lines writer for ``--report`` (a no-op without a path), closed on leaving.

    The file is opened on entering, so an unwritable path is a :class:`UsageError`
    before any work is done.
    """
    if path is None:
        yield lambda row: None
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"--report {path}: {exc.strerror or exc}") from None

    def write(row: dict[str, Any]) -> None:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    with handle:
        yield write


def run_on_dask(
    run_partitioned: Callable[..., _Report],
    args: argparse.Namespace,
    route: str,
    check: Check,
    **options: Any,
) -> _Report:
    """``verify_on_dask`` or ``backfill_on_dask`` on the ``--dask`` cluster, with the scope
    flags (and the command's own ``options``)."""
    return run_partitioned(
        args.dask,
        os.fspath(args.policy),
        route,
        prefix=args.prefix,
        source=args.source,
        target=args.target,
        check=check,
        concurrency=args.concurrency,
        partitions=args.partitions,
        report=args.report,
        **options,
    )


def failure(err: TextIO, what: str, exc: BaseException) -> int:
    """Report a backend failure that stopped a run; exit code 1."""
    from router.errors import classify

    print(f"error: {what} stopped: {classify(exc).value}: {type(exc).__name__}: {exc}", file=err)
    return 1


def table(rows: list[tuple[str, str]], out: TextIO) -> None:
    """Two aligned columns."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}", file=out)


# -- verify ---------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``verify`` sub-command."""
    add_scope_arguments(command_parser(sub, NAME, "compare both sides of a route", __doc__))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Verify; 0 agree, 1 differ, 2 usage."""
    from router.migrate import ListingOrderError, verify
    from router.migrate.progress import human_bytes

    check_dask(args)
    with load_router(args.policy) as router:
        scope = make_scope(args, router, "verify")
        check = check_of(args)
        try:
            if args.dask is not None:
                from router.migrate.dask import verify_on_dask

                report = run_on_dask(verify_on_dask, args, scope.route, check)
            else:
                with report_writer(args.report) as write:
                    report = verify(
                        scope,
                        check=check,
                        limit=args.limit,
                        concurrency=args.concurrency,
                        on_difference=lambda d: write(d.as_dict()),
                    )
        except (OSError, ListingOrderError) as exc:
            return failure(err, "verify", exc)
    src, dst = report.source, report.target
    print(
        f"verify route {report.route}: {src} (source) vs {dst} (target), "
        f"prefix {report.prefix!r}, check {report.check}",
        file=out,
    )
    table(
        [
            (f"{src} objects", f"{report.source_objects} ({human_bytes(report.source_bytes)})"),
            (f"{dst} objects", f"{report.target_objects} ({human_bytes(report.target_bytes)})"),
            ("agree", str(report.agree)),
            ("  of which by size only", str(report.unchecked)),
            (f"missing on {dst}", str(report.missing)),
            (f"extra on {dst}", str(report.extra)),
            ("size differs", str(report.size)),
            ("content differs", str(report.content)),
            ("could not compare", str(report.errors)),
            ("skipped names", str(report.skipped)),
        ],
        out,
    )
    for diff in report.differences[:SHOWN]:
        detail = f" ({diff.detail})" if diff.detail else ""
        print(f"  {diff.kind:<8} {diff.key}{detail}", file=out)
    if report.different > SHOWN:
        more = "; see --report" if args.report is None else f"; all in {args.report}"
        print(f"  ... and {report.different - SHOWN} more{more}", file=out)
    scope_note = "" if report.complete else f" (stopped after --limit {args.limit} keys)"
    if report.ok:
        print(f"result: AGREE{scope_note}", file=out)
        return EXIT_OK
    print(f"result: DIFFER, {report.different} difference(s){scope_note}", file=out)
    return EXIT_DIFFER
