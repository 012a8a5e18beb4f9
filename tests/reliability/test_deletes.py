"""Item 3: deletes are idempotent on both sides, a 5xx on one side is journaled, and a
deleted key is never resurrected by a read (or info/url) fallback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router import Router
from router.migrate import repair
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from tests.reliability.rel_helpers import CertSides

pytestmark = pytest.mark.s3

KEY = "certificates/2025/gone.pdf"


def _listed(fs: Router) -> list[str]:
    try:
        return list(fs.ls("certificates/2025", detail=False))
    except FileNotFoundError:
        return []


def assert_never_served(fs: Router) -> None:
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
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """Deleting a key twice, or one held by one side or none, succeeds without a spurious divergence."""
    fs = cert_routers(phase)
    (sides.local_root / "certificates/2025").mkdir(parents=True)
    if where in ("both", "local"):
        sides.put_local(KEY, b"old")
    if where in ("both", "s3"):
        sides.put_s3(KEY, b"old")
    fs.rm_file(KEY)
    fs.rm_file(KEY)
    fs.rm(KEY)
    writes = {"dual-write": "both", "s3-primary": "both", "s3-read": "s3"}.get(phase)
    writes = writes or ("local" if phase == "legacy" else "s3")
    if writes in ("both", "local"):
        assert KEY not in sides.local()
    if writes in ("both", "s3"):
        assert KEY not in sides.s3()
    entries = list(fs.journal.entries())
    if phase == "s3-read" and where in ("both", "local"):
        # the read-only shadow still holds it: one tombstone per delete, never served
        assert {(e.op, e.truth, e.stale) for e in entries} == {("delete", "s3", "local")}
        assert_never_served(fs)
    else:
        assert entries == []
    if phase not in ("legacy", "s3-only"):
        assert_never_served(fs)
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
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """A 5xx on one side leaves a journal entry; reads never bring the key back from the stale side; repair removes it."""
    fs = cert_routers(phase)
    sides.put_both(KEY, b"old")

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
    holds = sides.local() if stale == "local" else sides.s3()
    assert holds == {KEY: b"old"}  # the stale side still has it...
    assert_never_served(fs)  # ...and it is never served
    fs.rm_file(KEY)  # idempotent, also while an entry is pending
    assert_never_served(fs)
    if stale != fs.plan.routes["certificates"].live.primary:
        assert KEY not in _listed(fs)  # the primary's listing is the truth here

    report = repair(fs.journal, fs.backends)
    assert report.ok
    assert report.deleted == 1
    assert sides.local() == {}
    assert sides.s3() == {}
    assert_never_served(fs)


@pytest.mark.parametrize("mutation", ["delete", "write"])
def test_listing_agrees_with_exists_after_a_degraded_mutation(
    mutation: str,
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """After a degraded delete or write (primary 5xx), ls() lists the key exactly when exists() is true."""
    fs = cert_routers("s3-primary")
    sides.put_both(KEY, b"old")
    other = "certificates/2025/new.pdf"
    with inject_faults(fs, "s3", Fault("any", error=lambda: s3_error("InternalError", 500))):
        if mutation == "delete":
            fs.rm_file(KEY)
        else:
            fs.pipe_file(other, b"new")
    for key in (KEY, other):
        assert (key in _listed(fs)) == fs.exists(key)


def test_read_primary_delete_tombstones_the_shadow_copy(
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """read-primary: deleting a key the read-only shadow holds journals it; no fallback serves it; repair deletes it."""
    fs = cert_routers("s3-read")
    sides.put_both(KEY, b"legacy copy")
    assert fs.cat_file(KEY) == b"legacy copy"
    fs.rm_file(KEY)
    assert sides.s3() == {}
    assert sides.local() == {KEY: b"legacy copy"}  # read-only: not touched
    assert [(e.op, e.truth, e.stale) for e in fs.journal.entries()] == [("delete", "s3", "local")]
    assert_never_served(fs)
    # a second router (another process) sees the same journal, and does not serve it either
    assert_never_served(cert_routers("s3-read"))
    assert repair(fs.journal, fs.backends).ok
    assert sides.local() == {}
    assert_never_served(fs)


def test_read_primary_delete_when_the_shadow_check_fails_still_tombstones(
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """read-primary: if the shadow cannot say whether it holds the key, the delete is journaled anyway."""
    fs = cert_routers("s3-read")
    sides.put_both(KEY, b"legacy copy")
    with inject_faults(fs, "local", Fault("info", error=lambda: OSError(121, "injected"))):
        fs.rm_file(KEY)
    assert [(e.truth, e.stale) for e in fs.journal.entries()] == [("s3", "local")]
    assert_never_served(fs)


def test_read_primary_delete_of_a_key_the_shadow_lacks_journals_nothing(
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """read-primary: a key only S3 holds is deleted without a journal entry."""
    fs = cert_routers("s3-read")
    sides.put_s3(KEY, b"new")
    fs.rm_file(KEY)
    assert list(fs.journal.entries()) == []
    assert_never_served(fs)


def test_recreated_key_is_served_after_a_journaled_delete(
    cert_routers: Callable[[str], Router],
    sides: CertSides,
) -> None:
    """After a journaled delete, writing the key again serves the new content, and repair agrees."""
    fs = cert_routers("dual-write")
    sides.put_both(KEY, b"old")
    with inject_faults(
        fs, "s3", Fault("delete", error=lambda: s3_error("ServiceUnavailable", 503))
    ):
        fs.rm_file(KEY)
    fs.pipe_file(KEY, b"reborn")
    assert fs.cat_file(KEY) == b"reborn"
    assert repair(fs.journal, fs.backends).ok
    assert sides.local() == sides.s3() == {KEY: b"reborn"}
