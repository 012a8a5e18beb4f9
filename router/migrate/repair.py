"""Drain the journal: make each entry's stale backend match its truth, then drop the entry.

Entries are grouped by (route, key); the newest entry of a key says which backend holds
the truth (the same rule the executor uses to avoid serving a stale side). For each key,
both sides are looked at *now*:

- the truth has the key → copy it to the stale side (skipped when the stale side
  already holds an equal object), verified;
- the truth lacks the key → delete it from the stale side (already absent is fine);

then the truth is looked at again: if it changed while the key was repaired, the entries
stay for the next run. Every entry of the key read at the start is removed only after
its repair succeeded; an entry that could not be repaired stays, with ``reason`` and
``attempts`` updated. Running it again is harmless (idempotent): an already-repaired key
is found equal and its entries removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from router.backends import BackendFS
from router.errors import classify
from router.journal import Entry, Journal
from router.migrate.compare import Check, compare
from router.migrate.listing import ObjectInfo
from router.migrate.transfer import copy_object, delete_object, stat_object

__all__ = ["RepairOutcome", "RepairReport", "repair"]


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    """What repairing one key did."""

    route: str
    key: str
    truth: str
    stale: str
    action: str
    """``copied``, ``deleted``, ``equal`` (already agreed) or ``failed``."""
    entries: int
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


@dataclass
class RepairReport:
    """Counts of one repair run."""

    keys: int = 0
    entries: int = 0
    """Entries looked at."""
    removed: int = 0
    """Entries repaired and removed."""
    copied: int = 0
    deleted: int = 0
    equal: int = 0
    failed: int = 0
    """Keys whose entries stay."""
    remaining: int = 0
    """Entries in the journal after the run (for the routes repaired)."""
    elapsed: float = 0.0
    outcomes: list[RepairOutcome] = field(default_factory=list)
    """The first outcomes (failures first)."""

    @property
    def ok(self) -> bool:
        """Whether the journal (for the routes repaired) is empty."""
        return self.remaining == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        data = asdict(self)
        data["outcomes"] = [o.as_dict() for o in self.outcomes]
        data["ok"] = self.ok
        return data


def _same(a: ObjectInfo, b: ObjectInfo) -> bool:
    return (a.size, a.etag, a.mtime) == (b.size, b.etag, b.mtime)


def _repair_key(
    backends: Mapping[str, BackendFS], entries: list[Entry], check: Check
) -> RepairOutcome:
    newest = entries[-1]
    route, key, truth_name, stale_name = newest.route, newest.key, newest.truth, newest.stale
    for name in (truth_name, stale_name):
        if name not in backends:
            return RepairOutcome(
                route,
                key,
                truth_name,
                stale_name,
                "failed",
                len(entries),
                f"backend {name!r} is not in the policy; put it back to repair this entry",
            )
    truth, stale = backends[truth_name], backends[stale_name]
    try:
        before = stat_object(truth, key)
        if before is None:
            delete_object(stale, key)
            if stat_object(stale, key) is not None:
                raise OSError(f"{key} is still on {stale_name} after the delete")
            action = "deleted"
        else:
            held = stat_object(stale, key)
            verdict = compare(truth, before, stale, held, check) if held is not None else None
            if verdict is not None and verdict.equal and verdict.how == "size":
                # A journaled key is known to have diverged: "same size" proves nothing.
                verdict = compare(truth, before, stale, held, "checksum") if held else None
            if verdict is not None and verdict.equal:
                action = "equal"
            else:
                copy_object(truth, stale, before, checksum=check == "checksum")
                action = "copied"
        after = stat_object(truth, key)
        if (before is None) != (after is None) or (
            before is not None and after is not None and not _same(before, after)
        ):
            raise OSError(f"{key} changed on {truth_name} during the repair; run repair again")
    except Exception as exc:
        reason = f"{classify(exc).value}: {type(exc).__name__}: {exc}"
        return RepairOutcome(route, key, truth_name, stale_name, "failed", len(entries), reason)
    return RepairOutcome(route, key, truth_name, stale_name, action, len(entries))


def _groups(entries: Iterable[Entry]) -> list[list[Entry]]:
    grouped: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:  # oldest first within a route
        grouped.setdefault((entry.route, entry.key), []).append(entry)
    return list(grouped.values())


def repair(
    journal: Journal,
    backends: Mapping[str, BackendFS],
    *,
    route: str | None = None,
    check: Check = "etag",
    concurrency: int = 8,
    keep: int = 1000,
) -> RepairReport:
    """Repair every journal entry (of ``route``, or of all routes); see the module doc."""
    started = time.monotonic()
    report = RepairReport()
    routes = (
        [route] if route is not None else [r for r in journal.routes() if not r.startswith(".")]
    )
    groups = [g for name in routes for g in _groups(journal.entries(name))]
    report.keys = len(groups)
    report.entries = sum(len(g) for g in groups)
    failures: list[RepairOutcome] = []
    successes: list[RepairOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="repair") as pool:
        results = pool.map(lambda g: (g, _repair_key(backends, g, check)), groups)
        for group, outcome in results:
            if outcome.action == "failed":
                report.failed += 1
                for entry in group:
                    journal.update(
                        replace(entry, reason=outcome.reason, attempts=entry.attempts + 1)
                    )
                failures.append(outcome)
                continue
            for entry in group:
                journal.remove(entry)
            report.removed += len(group)
            if outcome.action == "copied":
                report.copied += 1
            elif outcome.action == "deleted":
                report.deleted += 1
            else:
                report.equal += 1
            successes.append(outcome)
    report.outcomes = (failures + successes)[:keep]
    report.remaining = sum(journal.depth(name) for name in routes)
    report.elapsed = time.monotonic() - started
    return report
