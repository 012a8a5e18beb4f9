"""verify and backfill on a Dask distributed cluster (the optional ``dask`` extra).

Work is partitioned by key range: the first level below the scope's prefix (its
"directories" and objects, from one delimiter listing per side) is cut into
``partitions`` contiguous groups, and partition *i* covers the keys from the first
name of group *i* up to (not including) the first name of group *i + 1* — together
every key of the scope, each in exactly one partition. Each partition is one task that
builds its own backends from the policy file (workers must see the same policy path,
credentials in their environment, and — for checkpoints and reports — the same file
system) and runs the ordinary single-machine :func:`~router.migrate.verify.verify` or
:func:`~router.migrate.backfill.backfill` over its range.

Resumable per partition: a backfill with a checkpoint ``C`` keeps the partition plan
in ``C.parts/plan.json`` and partition *i*'s checkpoint in ``C.parts/part-NNNN.jsonl``;
a rerun reuses the plan until every partition has completed. Reports (``--report``)
are written per partition (``REPORT.part-NNNN``) and concatenated in key order.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from router.migrate.backfill import BackfillReport, PlanRow, backfill
from router.migrate.checkpoint import read_state
from router.migrate.compare import Check, Difference
from router.migrate.listing import KeyRange, children
from router.migrate.scope import Scope, scope_for
from router.migrate.verify import VerifyReport, verify

__all__ = [
    "backfill_on_dask",
    "plan_partitions",
    "verify_on_dask",
]

_Report = TypeVar("_Report", VerifyReport, BackfillReport)


def plan_partitions(scope: Scope, partitions: int) -> list[KeyRange]:
    """Cut the scope's keys into at most ``partitions`` contiguous key ranges."""
    names = sorted(
        set(children(scope.source, scope.prefix, scope.exclude))
        | set(children(scope.target, scope.prefix, scope.exclude))
    )
    count = max(1, min(partitions, len(names)))
    if count == 1:
        return [KeyRange()]
    bounds = [names[(i * len(names)) // count] for i in range(1, count)]
    starts: list[str | None] = [None, *bounds]
    ends: list[str | None] = [*bounds, None]
    return [KeyRange(s, e) for s, e in zip(starts, ends, strict=True)]


def _scope(policy: str, spec: Mapping[str, Any]) -> tuple[Any, Scope]:
    from router.filesystem import Router

    router = Router.from_file(policy, metrics=False)
    try:
        scope = scope_for(
            router,
            spec["route"],
            prefix=spec.get("prefix"),
            source=spec.get("source"),
            target=spec.get("target"),
            purpose=spec["purpose"],
            only_missing=spec.get("only_missing"),
        )
    except BaseException:
        router.close()
        raise
    return router, scope


def _run_partition(
    spec: Mapping[str, Any],
    run: Callable[
        [Scope, KeyRange, Callable[[Difference | PlanRow], None]], VerifyReport | BackfillReport
    ],
) -> dict[str, Any]:
    """Build the scope of ``spec``, run ``run(scope, key_range, write)`` over its range with
    ``write`` appending each row to ``spec["report"]`` (if any); the report as a dict."""
    router, scope = _scope(spec["policy"], spec)
    report_path = spec.get("report")
    handle = open(report_path, "w", encoding="utf-8") if report_path else None  # noqa: SIM115
    try:

        def write(row: Difference | PlanRow) -> None:
            if handle is not None:
                handle.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")

        result = run(scope, KeyRange(*spec["range"]), write)
    finally:
        if handle is not None:
            handle.close()
        router.close()
    return result.to_dict()


def verify_partition(spec: dict[str, Any]) -> dict[str, Any]:
    """One verify task: the partition ``spec["range"]``; returns a report as a dict."""
    return _run_partition(
        spec,
        lambda scope, key_range, write: verify(
            scope,
            check=spec["check"],
            concurrency=spec["concurrency"],
            key_range=key_range,
            on_difference=write,
            keep=spec["keep"],
        ),
    )


def backfill_partition(spec: dict[str, Any]) -> dict[str, Any]:
    """One backfill task: the partition ``spec["range"]``; returns a report as a dict."""
    return _run_partition(
        spec,
        lambda scope, key_range, write: backfill(
            scope,
            check=spec["check"],
            concurrency=spec["concurrency"],
            dry_run=spec["dry_run"],
            checkpoint=spec.get("checkpoint"),
            bwlimit=spec.get("bwlimit"),
            key_range=key_range,
            on_row=write,
            keep=spec["keep"],
        ),
    )


def _concat(report: str | None, parts: list[str]) -> None:
    if report is None:
        return
    with open(report, "wb") as out:
        for part in parts:
            try:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out)
            except FileNotFoundError:
                continue
            os.unlink(part)


def _client(address: str) -> Any:
    from distributed import Client

    return Client(address)  # type: ignore[no-untyped-call]


def _run(address: str, task: Any, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with _client(address) as client:
        futures = client.map(task, specs, pure=False)
        results: list[dict[str, Any]] = client.gather(futures)
    return results


def _default_partitions(address: str) -> int:
    with _client(address) as client:
        threads = int(sum(client.nthreads().values()))
    return max(1, 2 * threads)


def _run_partitions(
    address: str,
    task: Callable[[dict[str, Any]], dict[str, Any]],
    base: Mapping[str, Any],
    ranges: list[KeyRange],
    report: str | None,
    checkpoints: list[str | None] | None = None,
) -> list[dict[str, Any]]:
    """One ``task`` per range on the cluster, each writing ``REPORT.part-NNNN`` (then
    concatenated into ``report``) and, given ``checkpoints``, its own checkpoint."""
    parts = [f"{report}.part-{i:04d}" for i in range(len(ranges))] if report else []
    specs = [
        {
            **base,
            "range": rng.as_list(),
            "report": parts[i] if parts else None,
            **({"checkpoint": checkpoints[i]} if checkpoints is not None else {}),
        }
        for i, rng in enumerate(ranges)
    ]
    results = _run(address, task, specs)
    _concat(report, parts)
    return results


def _merged(total: _Report, results: list[dict[str, Any]], keep: int) -> _Report:
    """``total`` with every partition's report merged in (elapsed: the slowest partition)."""
    for data in results:
        one = type(total).from_dict(data)
        total.merge(one, keep)
        total.elapsed = max(total.elapsed, one.elapsed)
    return total


def verify_on_dask(
    address: str,
    policy: str | os.PathLike[str],
    route: str,
    *,
    prefix: str | None = None,
    source: str | None = None,
    target: str | None = None,
    check: Check = "etag",
    concurrency: int = 8,
    partitions: int | None = None,
    report: str | None = None,
    keep: int = 1000,
) -> VerifyReport:
    """:func:`~router.migrate.verify.verify` over partitions on the cluster at ``address``."""
    from router.filesystem import Router

    policy = os.fspath(Path(policy).resolve())
    with Router.from_file(policy, metrics=False) as router:
        scope = scope_for(router, route, prefix=prefix, source=source, target=target)
        ranges = plan_partitions(scope, partitions or _default_partitions(address))
    base = {
        "policy": policy,
        "route": route,
        "prefix": prefix,
        "source": source,
        "target": target,
        "purpose": "verify",
        "check": check,
        "concurrency": concurrency,
        "keep": keep,
    }
    results = _run_partitions(address, verify_partition, base, ranges, report)
    total = VerifyReport(
        route=scope.route,
        source=scope.source.name,
        target=scope.target.name,
        prefix=scope.prefix,
        check=check,
    )
    return _merged(total, results, keep)


def _load_plan(directory: Path, identity: dict[str, Any]) -> list[KeyRange] | None:
    try:
        data = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if data.get("identity") != identity:
        return None
    ranges = [KeyRange(*r) for r in data["ranges"]]
    states = [read_state(directory / f"part-{i:04d}.jsonl") for i in range(len(ranges))]
    if all(s is not None and s.complete for s in states):
        return None  # everything finished: plan afresh
    return ranges


def backfill_on_dask(
    address: str,
    policy: str | os.PathLike[str],
    route: str,
    *,
    prefix: str | None = None,
    source: str | None = None,
    target: str | None = None,
    only_missing: bool | None = None,
    check: Check = "etag",
    concurrency: int = 8,
    dry_run: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    bwlimit: float | None = None,
    partitions: int | None = None,
    report: str | None = None,
    keep: int = 1000,
) -> BackfillReport:
    """:func:`~router.migrate.backfill.backfill` over partitions on the cluster at
    ``address``, each partition with its own checkpoint (see the module docstring)."""
    from router.filesystem import Router

    policy = os.fspath(Path(policy).resolve())
    with Router.from_file(policy, metrics=False) as router:
        scope = scope_for(
            router,
            route,
            prefix=prefix,
            source=source,
            target=target,
            purpose="backfill",
            only_missing=only_missing,
        )
        identity = {
            "route": scope.route,
            "source": scope.source.name,
            "target": scope.target.name,
            "prefix": scope.prefix,
        }
        directory = Path(f"{os.fspath(checkpoint)}.parts") if checkpoint is not None else None
        ranges = _load_plan(directory, identity) if directory is not None and not dry_run else None
        if ranges is None:
            ranges = plan_partitions(scope, partitions or _default_partitions(address))
            if directory is not None and not dry_run:
                if directory.exists():
                    shutil.rmtree(directory)
                directory.mkdir(parents=True)
                (directory / "plan.json").write_text(
                    json.dumps({"identity": identity, "ranges": [r.as_list() for r in ranges]}),
                    encoding="utf-8",
                )
    base = {
        "policy": policy,
        "route": route,
        "prefix": prefix,
        "source": source,
        "target": target,
        "only_missing": only_missing,
        "purpose": "backfill",
        "check": check,
        "concurrency": concurrency,
        "dry_run": dry_run,
        "bwlimit": bwlimit / len(ranges) if bwlimit else None,
        "keep": keep,
    }
    checkpoints = [
        os.fspath(directory / f"part-{i:04d}.jsonl")
        if directory is not None and not dry_run
        else None
        for i in range(len(ranges))
    ]
    results = _run_partitions(address, backfill_partition, base, ranges, report, checkpoints)
    total = BackfillReport(
        route=scope.route,
        source=scope.source.name,
        target=scope.target.name,
        prefix=scope.prefix,
        dry_run=dry_run,
        checkpoint=os.fspath(directory) if directory is not None else None,
    )
    return _merged(total, results, keep)
