"""Hot reload: atomic plan swaps under load, invalid policies kept out, unsafe flips refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from router import FlipRefused, PolicyError, Router
from router.testing import Fault, capture_metrics, inject_faults

POLICY = """\
version: 1
backends:
  a: {{url: "file://{root}/a"}}
  b: {{url: "file://{root}/b"}}
journal: {{url: "file://{root}/journal"}}
routes:
  media:
    prefix: media/
    phase: {phase}
    force: {force}
    phases:
      a-only: {{primary: a}}
      dual:   {{primary: a, shadow: b, mode: dual-write}}
      b-only: {{primary: b}}
    fallbacks:
      write: {{on: [transient]}}
  default: {{prefix: "", primary: a}}
"""


def write_policy(path: Path, root: Path, phase: str, force: bool = False) -> None:
    """Write the test policy with the given live phase."""
    path.write_text(POLICY.format(root=root, phase=phase, force=str(force).lower()), "utf-8")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """A policy file whose live phase is a-only."""
    path = tmp_path / "policy.yaml"
    write_policy(path, tmp_path, "a-only")
    return path


def test_reload_switches_phase(policy_file: Path, tmp_path: Path) -> None:
    """After the file flips to dual-write and reload(), writes reach both backends."""
    with Router.from_file(policy_file) as fs:
        fs.pipe_file("media/before", b"1")
        write_policy(policy_file, tmp_path, "dual")
        assert fs.reload() is True
        fs.pipe_file("media/after", b"2")
    assert not (tmp_path / "b" / "media" / "before").exists()
    assert (tmp_path / "b" / "media" / "after").read_bytes() == b"2"


def test_reload_under_threaded_workload_loses_no_op(policy_file: Path, tmp_path: Path) -> None:
    """Threads writing and reading while the plan flips see no failed op, and no write is lost."""
    errors: list[BaseException] = []
    written: list[str] = []
    lock = threading.Lock()
    halfway = threading.Barrier(5)
    with Router.from_file(policy_file) as fs:

        def worker(n: int) -> None:
            try:
                for i in range(60):
                    if i == 30:
                        halfway.wait()
                    key = f"media/{n}/{i}"
                    fs.pipe_file(key, key.encode())
                    assert fs.cat_file(key) == key.encode()
                    with lock:
                        written.append(key)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        write_policy(policy_file, tmp_path, "dual")
        halfway.wait()
        assert fs.reload() is True
        for thread in threads:
            thread.join()
        assert fs.plan.routes["media"].live.name == "dual"
        assert not errors
        for key in written:
            assert fs.cat_file(key) == key.encode()
    assert len(written) == 240


def test_invalid_reload_keeps_old_plan(policy_file: Path, tmp_path: Path) -> None:
    """A broken policy file raises PolicyError on reload(), counts and emits, and the old plan stays."""
    with Router.from_file(policy_file) as fs, capture_metrics() as seen:
        old = fs.plan
        policy_file.write_text(
            policy_file.read_text("utf-8").replace("phase: a-only", "phase: a-onyl")
        )
        with pytest.raises(PolicyError, match="did you mean 'a-only'"):
            fs.reload()
        assert fs.plan is old
        fs.pipe_file("media/x", b"still works")
        assert fs.metrics.counts()["router.policy.reload_failed"] == 1
        assert [e["reason"] for e in seen.named("router.policy.reload_failed")] == [
            "invalid policy"
        ]


def test_flip_dropping_backend_with_divergences_is_refused(
    policy_file: Path, tmp_path: Path
) -> None:
    """With journal entries naming b, flipping dual → a-only is refused; force: true allows it."""
    write_policy(policy_file, tmp_path, "dual")
    with Router.from_file(policy_file) as fs:
        with inject_faults(fs, "b", Fault("write", times=1)):
            fs.pipe_file("media/diverged", b"x")
        assert fs.journal.depth("media") == 1
        write_policy(policy_file, tmp_path, "a-only")
        with pytest.raises(FlipRefused, match="stop writing to backend 'b'"):
            fs.reload()
        assert fs.plan.routes["media"].live.name == "dual"
        write_policy(policy_file, tmp_path, "a-only", force=True)
        assert fs.reload() is True
        assert fs.plan.routes["media"].live.name == "a-only"


def test_watcher_picks_up_file_change(policy_file: Path, tmp_path: Path) -> None:
    """A watching Router reloads on its own poll after the file changes (poll driven by check())."""
    with Router.from_file(policy_file, poll_interval=3600) as fs:
        write_policy(policy_file, tmp_path, "dual")
        assert fs._watcher.check() == "reloaded"
        assert fs.plan.routes["media"].live.name == "dual"
        assert fs._watcher.check() == "unchanged"


def test_close_stops_the_watcher_thread(policy_file: Path) -> None:
    """close() leaves no router thread running."""
    fs = Router.from_file(policy_file, poll_interval=0.01)
    fs.pipe_file("media/x", b"1")
    fs.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("router")]
    assert alive == []


def test_env_override_applies_on_explicit_reload(policy_file: Path, tmp_path: Path) -> None:
    """A phase set by environment variable takes effect on reload(), and says so in origins."""
    environ = {"ROUTER_ROUTES__MEDIA__PHASE": "a-only"}
    with Router.from_file(policy_file, environ=environ) as fs:
        environ["ROUTER_ROUTES__MEDIA__PHASE"] = "dual"
        assert fs.reload() is True
        assert fs.plan.routes["media"].live.name == "dual"
        origin = fs.policy.origin("routes.media.phase")
        assert origin is not None
        assert origin.kind == "env"
