"""Item 11: the Router in other processes. Under ``spawn`` (a ProcessPoolExecutor) it is
pickled — as its policy, never as live clients or threads — and works; under ``fork``
an inherited Router works or raises a clear error, and never hangs (the join timeout is
a hang guard, not a timing assertion)."""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from router import Router
from tests.reliability.pool_worker import in_forked_child, write_and_read
from tests.reliability.rel_helpers import CertSides

HANG_GUARD = 10.0  # seconds; the child's work takes milliseconds
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.mark.s3
@pytest.mark.parametrize("source", ["file", "dict"])
def test_router_works_in_a_spawned_process_pool(
    source: str,
    cert_policy: Callable[..., dict[str, Any]],
    sides: CertSides,
    tmp_path: Path,
) -> None:
    """A dual-write Router (local + S3) passed to spawned pool workers writes and reads there; both sides get every key."""
    policy = cert_policy("dual-write")
    if source == "file":
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(policy, allow_unicode=True))
        fs = Router.from_file(path)
    else:
        fs = Router.from_dict(policy)
    keys = [f"certificates/pool/{i}-Δ.pdf" for i in range(4)]
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            digests = list(pool.map(write_and_read, [fs] * len(keys), keys))
        for key, digest in zip(keys, digests, strict=True):
            assert hashlib.sha256(fs.cat_file(key)).hexdigest() == digest
    finally:
        fs.close()
    expected = {k for key in keys for k in (key, key + ".streamed")}
    assert set(sides.local()) == expected == set(sides.s3())


def _fork_and_use(fs: Router, key: str = "forked/k") -> tuple[str, str]:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=in_forked_child, args=(fs, key, results))
    child.start()
    child.join(HANG_GUARD)
    if child.is_alive():
        child.kill()
        child.join(HANG_GUARD)
        raise AssertionError("the forked child hung using the inherited Router")
    return results.get(timeout=HANG_GUARD)


@pytest.mark.filterwarnings(FORK_WARNING)
def test_forked_child_with_a_single_local_backend_works(
    local_pair: Callable[..., Router],
) -> None:
    """An inherited primary-only local Router works in a forked child."""
    fs = local_pair("a-only")
    fs.pipe_file("parent/k", b"used before the fork")
    assert _fork_and_use(fs) == ("ok", "from the forked child")


@pytest.mark.filterwarnings(FORK_WARNING)
def test_forked_child_with_dual_write_works_or_fails_clearly(
    local_pair: Callable[..., Router],
) -> None:
    """An inherited dual-write Router, used before the fork, works in a forked child or raises a clear error — never hangs."""
    fs = local_pair("dual-write")
    for i in range(20):  # the pool's threads exist (idle) at the fork
        fs.pipe_file(f"parent/{i}", b"used before the fork")
    status, detail = _fork_and_use(fs)
    assert status == "ok" or "fork" in detail.lower(), detail


@pytest.mark.s3
@pytest.mark.filterwarnings(FORK_WARNING)
def test_forked_child_with_s3_fails_clearly(
    cert_policy: Callable[..., dict[str, Any]], routers: Callable[..., Router]
) -> None:
    """An inherited S3 Router in a forked child raises an error that says fork — it never hangs."""
    fs = routers(cert_policy("s3-only"))
    fs.pipe_file("certificates/parent.pdf", b"used before the fork")
    status, detail = _fork_and_use(fs, "certificates/forked.pdf")
    assert status == "ok" or "fork" in detail.lower(), detail
