"""Shadow-read comparison: a sticky sample of reads checks the shadow in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router import Router
from router.shadowread import in_sample
from router.testing import capture_metrics


def policy(tmp_path: Path, sample: float, phase: str = "dual") -> dict[str, Any]:
    """A dual-write route over two local dirs, comparing `sample` of its reads."""
    return {
        "version": 1,
        "backends": {"a": {"url": f"file://{tmp_path}/a"}, "b": {"url": f"file://{tmp_path}/b"}},
        "journal": {"url": f"file://{tmp_path}/journal"},
        "routes": {
            "media": {
                "prefix": "media/",
                "phase": phase,
                "phases": {
                    "dual": {"primary": "a", "shadow": "b", "mode": "dual-write"},
                    "read": {"primary": "a", "shadow": "b", "mode": "read-primary"},
                },
                "compare": {"sample": sample},
                "metrics": {"prefix": "m"},
            }
        },
    }


def test_mismatch_is_counted_evented_and_journaled(tmp_path: Path) -> None:
    """A shadow copy that differs is found after a read, counted, and journaled for repair."""
    with Router.from_dict(policy(tmp_path, 1.0)) as fs:
        fs.pipe_file("media/x", b"right")
        (tmp_path / "b" / "media" / "x").write_bytes(b"wrong!")
        with capture_metrics() as seen:
            assert fs.cat_file("media/x") == b"right"
            fs.drain()
        assert seen.counts["m.compare.mismatch"] == 1
        (event,) = seen.named("router.compare.mismatch")
        assert (event["primary_size"], event["shadow_size"]) == (5, 6)
        (entry,) = fs.journal.entries("media")
        assert (entry.truth, entry.stale, entry.op) == ("a", "b", "read")


def test_match_is_counted(tmp_path: Path) -> None:
    """Agreeing copies count a match and journal nothing."""
    with Router.from_dict(policy(tmp_path, 1.0)) as fs:
        fs.pipe_file("media/x", b"same")
        with capture_metrics() as seen:
            fs.cat_file("media/x")
            fs.drain()
        assert seen.counts["m.compare.match"] == 1
        assert fs.journal.depth("media") == 0


def test_no_comparison_outside_the_sample_or_dual_write(tmp_path: Path) -> None:
    """sample 0 compares nothing; read-primary (shadow not written) compares nothing."""
    for sample, phase in ((0.0, "dual"), (1.0, "read")):
        with Router.from_dict(policy(tmp_path, sample, phase)) as fs:
            (tmp_path / "a" / "media").mkdir(parents=True, exist_ok=True)
            (tmp_path / "a" / "media" / "y").write_bytes(b"y")
            with capture_metrics() as seen:
                fs.cat_file("media/y")
                fs.drain()
            assert not [c for c in seen.counts if ".compare." in c]


def test_sample_is_sticky_and_proportional() -> None:
    """The same key is always in or out; about the configured share of keys is in."""
    keys = [f"media/{i}" for i in range(4000)]
    chosen = [k for k in keys if in_sample("media", k, 0.25)]
    assert chosen == [k for k in keys if in_sample("media", k, 0.25)]
    assert 800 < len(chosen) < 1200
    assert set(chosen) <= {k for k in keys if in_sample("media", k, 0.5)}


def test_shadow_error_is_counted_not_raised(tmp_path: Path) -> None:
    """A shadow that lacks the key is an error count, never a failure of the read."""
    with Router.from_dict(policy(tmp_path, 1.0)) as fs:
        (tmp_path / "a" / "media").mkdir(parents=True)
        (tmp_path / "a" / "media" / "only-a").write_bytes(b"a")
        with capture_metrics() as seen:
            assert fs.cat_file("media/only-a") == b"a"
            fs.drain()
        assert seen.counts["m.compare.error"] == 1
