"""Fault injection in dual-write: acknowledgement, degraded writes, journal sides, errors.

Phase ``dual-write`` has local as primary and S3 as shadow; ``s3-primary`` the reverse.
The certificates policy falls back on: write [transient] (3 retries), delete [transient],
read [not_found, transient], info/url [any].
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router import Router
from router.journal import Entry
from router.testing import Fault, capture_metrics, inject_faults, s3_error

KEY = "certificates/2025/b.pdf"
DATA = b"certificate-bytes" * 1000

Objects = Callable[[], dict[str, bytes]]


def _sides(entries: list[Entry]) -> list[tuple[str, str, str, str]]:
    return [(e.op, e.truth, e.stale, e.error_class) for e in entries]


def _denied() -> OSError:
    return s3_error("AccessDenied", 403)


def test_shadow_write_failure_is_acknowledged_and_journaled_truth_primary(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """A failing shadow never fails the write: it is journaled with truth=primary."""
    fs = make_router("dual-write")
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("write", error=_denied)):
        fs.pipe_file(KEY, DATA)
    assert local_objects() == {KEY: DATA}
    assert s3_objects() == {}
    assert _sides(list(fs.journal.entries())) == [("write", "local", "s3", "denied")]
    assert seen.counts["cert.s3.write.fail"] == 1
    assert seen.counts["cert.s3.write.retry"] == 0  # denied is not retried
    assert seen.counts["cert.write.degraded"] == 0


def test_shadow_transient_write_is_retried_and_nothing_is_journaled(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """The shadow's transient failures are retried like the primary's."""
    fs = make_router("dual-write")
    flaky = Fault("write", error=lambda: s3_error("SlowDown", 503), times=3)
    with capture_metrics() as seen, inject_faults(fs, "s3", flaky):
        fs.pipe_file(KEY, DATA)
    assert seen.counts["cert.s3.write.retry"] == 3
    assert seen.counts["cert.s3.write.success"] == 1
    assert s3_objects() == {KEY: DATA}
    assert list(fs.journal.entries()) == []


def test_primary_transient_write_failure_is_degraded_truth_shadow(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """Local primary times out on every retry, S3 takes the write: degraded, truth=s3."""
    fs = make_router("dual-write")
    with capture_metrics() as seen, inject_faults(fs, "local", Fault("write")):
        fs.pipe_file(KEY, DATA)
    assert seen.counts["cert.local.write.retry"] == 3
    assert seen.counts["cert.local.write.fallback"] == 1
    assert seen.counts["cert.write.degraded"] == 1
    assert _sides(list(fs.journal.entries())) == [("write", "s3", "local", "transient")]
    assert local_objects() == {}
    assert s3_objects() == {KEY: DATA}
    assert fs.cat_file(KEY) == DATA  # served by the side holding the truth


def test_primary_denied_does_not_fall_back_and_journals_what_shadow_holds(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """A denied primary write raises PermissionError; the shadow's extra copy is journaled."""
    fs = make_router("s3-primary")
    with inject_faults(fs, "s3", Fault("write", error=_denied)), pytest.raises(PermissionError):
        fs.pipe_file(KEY, DATA)
    assert s3_objects() == {}
    assert _sides(list(fs.journal.entries())) == [("write", "s3", "local", "denied")]
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)  # the shadow's copy of a failed write is never served


def test_denied_falls_back_when_the_policy_names_it(
    make_router: Callable[..., Router], local_objects: Objects
) -> None:
    """With write.on [transient, denied], a denied primary write is a degraded success."""
    fs = make_router("s3-primary", fallbacks={"write": {"on": ["transient", "denied"]}})
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("write", error=_denied)):
        fs.pipe_file(KEY, DATA)
    assert seen.counts["cert.write.degraded"] == 1
    assert _sides(list(fs.journal.entries())) == [("write", "local", "s3", "denied")]
    assert local_objects() == {KEY: DATA}


def test_both_sides_failing_raise_the_primarys_type_with_a_note_about_the_shadow(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """Both sides fail: the primary's exception type with a note on the shadow; nothing stored."""
    fs = make_router("s3-primary")
    with (
        inject_faults(fs, "s3", Fault("write", error=_denied)),
        inject_faults(fs, "local", Fault("write")),
        pytest.raises(PermissionError) as raised,
    ):
        fs.pipe_file(KEY, DATA)
    notes = getattr(raised.value, "__notes__", [])
    assert any("shadow backend 'local'" in n and "TimeoutError" in n for n in notes), notes
    assert s3_objects() == {}
    assert local_objects() == {}
    assert list(fs.journal.entries()) == []


def test_read_falls_back_on_transient_but_not_on_denied(
    make_router: Callable[..., Router],
) -> None:
    """A timed-out read falls back to the shadow; a denied read raises and never asks it."""
    fs = make_router("dual-write")
    fs.pipe_file(KEY, DATA)
    with capture_metrics() as seen, inject_faults(fs, "local", Fault("read")):
        assert fs.cat_file(KEY) == DATA
    assert seen.counts["cert.local.read.fallback"] == 1
    assert seen.counts["cert.s3.read.success"] == 1
    with (
        inject_faults(fs, "local", Fault("read", error=PermissionError)),
        inject_faults(fs, "s3") as shadow,
        pytest.raises(PermissionError),
    ):
        fs.cat_file(KEY)
    assert shadow.calls["read"] == 0


def test_shadow_delete_failure_journals_and_read_fallback_does_not_resurrect(
    make_router: Callable[..., Router], s3_objects: Objects
) -> None:
    """A failed shadow delete is journaled and no read path serves the key from the shadow."""
    fs = make_router("dual-write")
    fs.pipe_file(KEY, DATA)
    with inject_faults(fs, "s3", Fault("delete", error=_denied)):
        fs.rm_file(KEY)
    assert _sides(list(fs.journal.entries())) == [("delete", "local", "s3", "denied")]
    assert s3_objects() == {KEY: DATA}
    with capture_metrics() as seen:
        with pytest.raises(FileNotFoundError):
            fs.cat_file(KEY)
        with pytest.raises(FileNotFoundError):
            fs.open(KEY, "rb")
        with pytest.raises(FileNotFoundError):
            fs.info(KEY)
        with pytest.raises(FileNotFoundError):
            fs.url(KEY)
        assert not fs.exists(KEY)
    assert not [e for e in seen.ops(backend="s3")]


def test_primary_transient_delete_is_degraded_and_journaled_truth_shadow(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """delete.on [transient]: the primary's 5xx delete is acknowledged degraded."""
    fs = make_router("s3-primary")
    fs.pipe_file(KEY, DATA)
    with inject_faults(fs, "s3", Fault("delete", error=lambda: s3_error("InternalError", 500))):
        fs.rm_file(KEY)
    assert _sides(list(fs.journal.entries())) == [("delete", "local", "s3", "transient")]
    assert s3_objects() == {KEY: DATA}
    assert local_objects() == {}
    assert not fs.exists(KEY)


def test_deletes_are_idempotent(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """Deleting a key gone on one side, or on every side, succeeds and journals nothing."""
    fs = make_router("dual-write")
    fs.pipe_file(KEY, DATA)
    fs.backends["s3"].fs.rm_file(fs.backends["s3"].path(KEY))  # gone on the shadow only
    fs.rm_file(KEY)
    assert local_objects() == {}
    assert s3_objects() == {}
    fs.rm_file(KEY)
    fs.rm(KEY)
    assert list(fs.journal.entries()) == []
