"""Migration tooling: prove and complete a migration between two backends.

- :func:`verify` compares a route's keys on two backends (missing, extra, size and
  content differences) over streamed, merge-joined listings;
- :func:`backfill` copies what the target lacks or holds differently, verified,
  concurrently, resumably (:class:`Checkpoint`);
- :func:`repair` drains the divergence journal;
- :mod:`router.migrate.dask` runs verify and backfill on a Dask cluster.

Each returns a report (plain dataclasses with ``to_dict()``); the CLI commands
``router verify``, ``router backfill`` and ``router repair`` only print them.

Typical use::

    from router import Router
    from router.migrate import scope_for, verify, backfill, repair

    with Router.from_file("policy.yaml", metrics=False) as router:
        scope = scope_for(router, "certificates", purpose="backfill")
        report = backfill(scope, concurrency=16, checkpoint="/tmp/cert.ckpt")
        assert verify(scope_for(router, "certificates")).ok
        repair(router.journal, router.backends)
"""

from __future__ import annotations

from router.migrate.backfill import BackfillProgress, BackfillReport, PlanRow, backfill
from router.migrate.checkpoint import Checkpoint, CheckpointMismatch, read_state
from router.migrate.compare import CHECKS, Check, Comparison, Difference, compare
from router.migrate.listing import (
    KeyRange,
    ListingOrderError,
    ObjectInfo,
    children,
    list_objects,
    merge_listings,
)
from router.migrate.repair import RepairOutcome, RepairReport, repair
from router.migrate.scope import Scope, SidesUnknown, UnknownRoute, default_checkpoint, scope_for
from router.migrate.transfer import (
    BandwidthLimiter,
    CopyResult,
    VerifyFailed,
    copy_object,
    delete_object,
    hash_object,
    parse_rate,
    stat_object,
)
from router.migrate.verify import VerifyReport, verify

__all__ = [
    "CHECKS",
    "BackfillProgress",
    "BackfillReport",
    "BandwidthLimiter",
    "Check",
    "Checkpoint",
    "CheckpointMismatch",
    "Comparison",
    "CopyResult",
    "Difference",
    "KeyRange",
    "ListingOrderError",
    "ObjectInfo",
    "PlanRow",
    "RepairOutcome",
    "RepairReport",
    "Scope",
    "SidesUnknown",
    "UnknownRoute",
    "VerifyFailed",
    "VerifyReport",
    "backfill",
    "children",
    "compare",
    "copy_object",
    "default_checkpoint",
    "delete_object",
    "hash_object",
    "list_objects",
    "merge_listings",
    "parse_rate",
    "read_state",
    "repair",
    "scope_for",
    "stat_object",
    "verify",
]
