"""Item 3: deletes are idempotent on both sides, a 5xx on one side is journaled, and a
deleted key is never resurrected by a read (or info/url) fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.migrate import repair
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from tests.reliability.rel_helpers import local_tree, s3_tree

pytestmark = pytest.mark.s3

KEY = "certificates/2025/gone.pdf"


def _put_both(local_root: Path, s3_client: Any, bucket: str, data: bytes = b"old") -> None:
    path = local_root / KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=data)


def _listed(fs: Router) -> list[str]:
    try:
        return list(fs.ls("certificates/2025", detail=False))
    except FileNotFoundError:
        return []


def _never_served(fs: Router) -> None:
    """Every read-like op says the key is gone; none returns the stale copy."""
    assert not fs.exists(KEY)
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    with pytest.raises(FileNotFoundError):
        fs.open(KEY, "rb")
    with pytest.raises(FileNotFoundError):
        fs.info(KEY)
    with pytest.raises(FileNotFoundError):
        fs.url(KEY)


@pytest.mark.parametrize("phase", ["dual-write", "s3-primary", "s3-read", "legacy", "s3-only"])
@pytest.mark.parametrize("where", ["both", "local", "s3", "neither"])
def test_delete_is_idempotent(
    phase: str,
    where: str,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """Deleting a key twice, or one held by one side or none, succeeds without a spurious divergence."""
    fs = routers(cert_policy(phase))
    (local_root / "certificates/2025").mkdir(parents=True)
    if where in ("both", "local"):
        (local_root / KEY).write_bytes(b"old")
    if where in ("both", "s3"):
        s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=b"old")
    fs.rm_file(KEY)
    fs.rm_file(KEY)
    fs.rm(KEY)
    writes = {"dual-write": "both", "s3-primary": "both", "s3-read": "s3"}.get(phase)
    writes = writes or ("local" if phase == "legacy" else "s3")
    if writes in ("both", "local"):
        assert KEY not in local_tree(local_root)
    if writes in ("both", "s3"):
        assert KEY not in s3_tree(s3_client, bucket)
    entries = list(fs.journal.entries())
    if phase == "s3-read" and where in ("both", "local"):
        # the read-only shadow still holds it: one tombstone per delete, never served
        assert {(e.op, e.truth, e.stale) for e in entries} == {("delete", "s3", "local")}
        _never_served(fs)
    else:
        assert entries == []
    if phase not in ("legacy", "s3-only"):
        _never_served(fs)
    assert repair(fs.journal, fs.backends).ok


@pytest.mark.parametrize(
    ("phase", "failing", "truth", "degraded"),
    [
        ("dual-write", "s3", "local", False),  # shadow 5xx: acked, truth = primary
        ("s3-primary", "s3", "local", True),  # primary 5xx: degraded, truth = shadow
        ("dual-write", "local", "s3", True),
        ("s3-primary", "local", "s3", False),
    ],
)
def test_delete_with_5xx_on_one_side_is_journaled_and_never_resurrected(
    phase: str,
    failing: str,
    truth: str,
    degraded: bool,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """A 5xx on one side leaves a journal entry; reads never bring the key back from the stale side; repair removes it."""
    fs = routers(cert_policy(phase))
    _put_both(local_root, s3_client, bucket)

    def error() -> BaseException:
        if failing == "s3":
            return s3_error("InternalError", 500)
        return OSError(121, "injected remote I/O error")  # EREMOTEIO: transient

    with capture_metrics() as seen, inject_faults(fs, failing, Fault("delete", error=error)):
        fs.rm_file(KEY)  # acknowledged: the other side deleted it
    stale = "local" if truth == "s3" else "s3"
    assert [(e.op, e.truth, e.stale) for e in fs.journal.entries()] == [("delete", truth, stale)]
    assert seen.counts["cert.divergence.delete"] == 1
    assert seen.counts["cert.delete.degraded"] == int(degraded)
    holds = local_tree(local_root) if stale == "local" else s3_tree(s3_client, bucket)
    assert holds == {KEY: b"old"}  # the stale side still has it...
    _never_served(fs)  # ...and it is never served
    fs.rm_file(KEY)  # idempotent, also while an entry is pending
    _never_served(fs)
    if stale != fs.plan.routes["certificates"].live.primary:
        assert KEY not in _listed(fs)  # the primary's listing is the truth here

    report = repair(fs.journal, fs.backends)
    assert report.ok
    assert report.deleted == 1
    assert local_tree(local_root) == {}
    assert s3_tree(s3_client, bucket) == {}
    _never_served(fs)


@pytest.mark.parametrize("mutation", ["delete", "write"])
def test_listing_agrees_with_exists_after_a_degraded_mutation(
    mutation: str,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """After a degraded delete or write (primary 5xx), ls() lists the key exactly when exists() is true."""
    fs = routers(cert_policy("s3-primary"))
    _put_both(local_root, s3_client, bucket)
    other = "certificates/2025/new.pdf"
    with inject_faults(fs, "s3", Fault("any", error=lambda: s3_error("InternalError", 500))):
        if mutation == "delete":
            fs.rm_file(KEY)
        else:
            fs.pipe_file(other, b"new")
    for key in (KEY, other):
        assert (key in _listed(fs)) == fs.exists(key)


def test_read_primary_delete_tombstones_the_shadow_copy(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """read-primary: deleting a key the read-only shadow holds journals it; no fallback serves it; repair deletes it."""
    fs = routers(cert_policy("s3-read"))
    _put_both(local_root, s3_client, bucket, b"legacy copy")
    assert fs.cat_file(KEY) == b"legacy copy"
    fs.rm_file(KEY)
    assert s3_tree(s3_client, bucket) == {}
    assert local_tree(local_root) == {KEY: b"legacy copy"}  # read-only: not touched
    assert [(e.op, e.truth, e.stale) for e in fs.journal.entries()] == [("delete", "s3", "local")]
    _never_served(fs)
    # a second router (another process) sees the same journal, and does not serve it either
    _never_served(routers(cert_policy("s3-read")))
    assert repair(fs.journal, fs.backends).ok
    assert local_tree(local_root) == {}
    _never_served(fs)


def test_read_primary_delete_when_the_shadow_check_fails_still_tombstones(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """read-primary: if the shadow cannot say whether it holds the key, the delete is journaled anyway."""
    fs = routers(cert_policy("s3-read"))
    _put_both(local_root, s3_client, bucket, b"legacy copy")
    with inject_faults(fs, "local", Fault("info", error=lambda: OSError(121, "injected"))):
        fs.rm_file(KEY)
    assert [(e.truth, e.stale) for e in fs.journal.entries()] == [("s3", "local")]
    _never_served(fs)


def test_read_primary_delete_of_a_key_the_shadow_lacks_journals_nothing(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    s3_client: Any,
    bucket: str,
) -> None:
    """read-primary: a key only S3 holds is deleted without a journal entry."""
    fs = routers(cert_policy("s3-read"))
    s3_client.put_object(Bucket=bucket, Key=f"prod/{KEY}", Body=b"new")
    fs.rm_file(KEY)
    assert list(fs.journal.entries()) == []
    _never_served(fs)


def test_recreated_key_is_served_after_a_journaled_delete(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    local_root: Path,
    s3_client: Any,
    bucket: str,
) -> None:
    """After a journaled delete, writing the key again serves the new content, and repair agrees."""
    fs = routers(cert_policy("dual-write"))
    _put_both(local_root, s3_client, bucket)
    with inject_faults(
        fs, "s3", Fault("delete", error=lambda: s3_error("ServiceUnavailable", 503))
    ):
        fs.rm_file(KEY)
    fs.pipe_file(KEY, b"reborn")
    assert fs.cat_file(KEY) == b"reborn"
    assert repair(fs.journal, fs.backends).ok
    assert local_tree(local_root) == s3_tree(s3_client, bucket) == {KEY: b"reborn"}
