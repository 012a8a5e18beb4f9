"""router repair: drains a journal built by injected faults; failures stay with a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router import Router
from router.journal import Entry
from router.migrate import repair
from router.testing import Fault, inject_faults, s3_error
from tests.migrate.conftest import run_cli


def _slow_down() -> OSError:
    return s3_error("SlowDown", 503)


def _internal() -> OSError:
    return s3_error("InternalError", 500)


def test_repair_empties_a_journal_built_by_faults_and_verify_is_then_clean(
    cert_policy: Any, policy_file: Any, local_root: Path, s3_keys: Any
) -> None:
    """Failed shadow writes, a failed shadow delete and a degraded s3-primary write are all
    repaired by `router repair` (exit 0, journal empty), after which verify agrees."""
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        router.pipe_file("certificates/kept.pdf", b"kept")
        router.pipe_file("certificates/gone.pdf", b"bye")
        faults = (
            Fault("write", _slow_down, match="lost"),
            Fault("write", _slow_down, match="kept"),
            Fault("delete", _internal, match="gone"),
        )
        with inject_faults(router, "s3", *faults):
            router.pipe_file("certificates/lost-1.pdf", b"one")
            router.pipe_file("certificates/2025/lost-Curaçao-東京-Δ.pdf", b"two")
            router.pipe_file("certificates/kept.pdf", b"kept, version 2 (lost on s3)")
            router.rm_file("certificates/gone.pdf")
        journal = router.journal
    with (
        Router.from_dict(cert_policy("s3-primary"), metrics=False) as router,
        inject_faults(router, "s3", Fault("write", _slow_down, match="degraded")),
    ):
        router.pipe_file("certificates/degraded.pdf", b"only local has me")
    assert journal.depth("certificates") == 5
    assert "certificates/gone.pdf" in s3_keys()
    policy = str(policy_file())
    assert run_cli("verify", policy, "--route", "certificates")[0] == 1
    code, out, err = run_cli("repair", policy)
    assert (code, err) == (0, ""), out
    assert "result: journal EMPTY" in out
    assert journal.depth() == 0
    assert run_cli("verify", policy, "--route", "certificates", "--checksum")[0] == 0
    assert s3_keys() == {
        "certificates/kept.pdf": b"kept, version 2 (lost on s3)",
        "certificates/lost-1.pdf": b"one",
        "certificates/2025/lost-Curaçao-東京-Δ.pdf": b"two",
        "certificates/degraded.pdf": b"only local has me",
    }
    code, out, _ = run_cli("repair", policy, "--route", "certificates")
    assert code == 0  # idempotent: nothing left to do


def test_entries_that_cannot_be_repaired_stay_with_their_reason(cert_policy: Any) -> None:
    """A repair that fails keeps the entry (reason, attempts + 1); a later run drains it."""
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        with inject_faults(router, "s3", Fault("write", _slow_down)):
            router.pipe_file("certificates/a.pdf", b"a")
            report = repair(router.journal, router.backends)
        assert (report.failed, report.remaining, report.ok) == (1, 1, False)
        [entry] = list(router.journal.entries("certificates"))
        assert entry.attempts == 1
        assert entry.reason is not None
        assert entry.reason.startswith("transient")
        with inject_faults(router, "s3", Fault("write", _slow_down)):
            repair(router.journal, router.backends)
        [entry] = list(router.journal.entries("certificates"))
        assert entry.attempts == 2
        report = repair(router.journal, router.backends)
        assert (report.copied, report.removed, report.ok) == (1, 1, True)
        s3 = router.backends["s3"]
        assert s3.fs.cat_file(s3.path("certificates/a.pdf")) == b"a"


def test_repair_exit_codes(cert_policy: Any, policy_file: Any) -> None:
    """Entries remaining: exit 1; an unknown route: exit 2 naming the routes; empty: exit 0."""
    policy = str(policy_file())
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        with inject_faults(router, "s3", Fault("write", _slow_down)):
            router.pipe_file("certificates/a.pdf", b"a")
        router.journal.record(
            Entry(
                route="certificates",
                key="certificates/b.pdf",
                op="write",
                truth="local",
                stale="gcs",
                error_class="transient",
                phase="dual-write",
            )
        )
    code, out, _ = run_cli("repair", policy)
    assert code == 1
    assert "backend 'gcs' is not in the policy" in out
    code, _, err = run_cli("repair", policy, "--route", "nope")
    assert code == 2
    assert "unknown route 'nope'; the policy's routes are: certificates, default" in err
