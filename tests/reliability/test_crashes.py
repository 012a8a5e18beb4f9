"""Items 7 and 8: processes writing through the router are SIGKILLed, for real.

Each run starts a child process (multiprocessing ``forkserver``: the router and s3fs are
imported once in the server, so a run costs milliseconds) that writes a few small keys
through a dual-write Router over a real local directory and the moto S3 server, and is
killed with SIGKILL either at a random byte offset of a streamed write (it pauses there)
or at a random moment while it runs freely. The parent trusts only the ACK messages the
child sent before it died. After each kill:

- every key on each side holds a complete version (the old one or a new one), never a
  torn or empty file;
- ``router sweep --older-than 0s`` removes the temp files the kill left, and
  ``router repair`` empties the journal;
- then both sides agree, and each key holds its last acknowledged version or a later
  one — for every key whose last write was acknowledged. (A key whose write was in
  flight may differ between the sides when the kill fell between the two sides'
  publishes: see ``test_kill_between_the_two_publishes``, xfail.)

At least 50 runs in CI (``ROUTER_STRESS=1``: 500).
"""

from __future__ import annotations

import io
import multiprocessing
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
import yaml

from router import Router
from router.cli.main import main as cli
from router.sinks import TEMP_MARKER
from tests.reliability.crash_worker import Write, content, run_child, versions_of
from tests.reliability.rel_helpers import local_tree, s3_tree, scaled

pytestmark = pytest.mark.s3

RUNS = scaled(56, 500)
KEYS = ["certificates/a.pdf", "certificates/2025/b.pdf", "certificates/2025/Δ-c.pdf"]
HANG_GUARD = 120.0  # seconds: a guard against a wedged child, never a timing assertion


@pytest.fixture(scope="module")
def forkserver() -> Any:
    """A forkserver context with the router and s3fs preloaded."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["router.filesystem", "s3fs", "tests.reliability.crash_worker"])
    return ctx


@dataclass
class Outcome:
    """What the parent learned from a killed child."""

    begun: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    paused_at: tuple[int, int] | None = None
    finished: bool = False

    @property
    def in_flight(self) -> int | None:
        """The write the child had begun and not acknowledged when it died."""
        pending = [i for i in self.begun if i not in self.acked]
        return pending[-1] if pending else None


def _run_and_kill(
    ctx: Any,
    policy: dict[str, Any],
    writes: list[Write],
    *,
    pause: tuple[int, int] | None = None,
    kill_after: tuple[str, int] | None = None,
    chunk: int = 1024,
) -> Outcome:
    """Start the child, SIGKILL it at ``pause`` or after message ``kill_after``; return
    what it reported before dying."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=run_child, args=(policy, writes, pause, chunk, child), daemon=True)
    proc.start()
    child.close()
    outcome = Outcome()
    try:
        while True:
            if not parent.poll(HANG_GUARD):
                raise AssertionError("the child stopped reporting (hang guard)")
            try:
                message = parent.recv()
            except EOFError:
                proc.join(HANG_GUARD)
                raise AssertionError(
                    f"the child died on its own (exit code {proc.exitcode}); its traceback "
                    "is in the captured stderr"
                ) from None
            _note(outcome, message)
            if message[0] == "at" or message[0] == "done":
                break
            if kill_after is not None and message[:2] == kill_after:
                break
    finally:
        proc.kill()  # SIGKILL
        proc.join(HANG_GUARD)
    while parent.poll(0):  # what it sent before it died is still in the pipe
        try:
            _note(outcome, parent.recv())
        except EOFError:
            break
    parent.close()
    assert proc.exitcode is not None
    return outcome


def _note(outcome: Outcome, message: tuple[Any, ...]) -> None:
    kind = message[0]
    if kind == "begin":
        outcome.begun.append(message[1])
    elif kind == "ack":
        outcome.acked.append(message[1])
    elif kind == "at":
        outcome.paused_at = (message[1], message[2])
    elif kind == "done":
        outcome.finished = True


@dataclass
class Setup:
    """One run's backends: a local root, an S3 prefix, a journal, and the policy file."""

    tmp: Path
    bucket: str
    prefix: str
    policy: dict[str, Any]
    policy_file: Path

    @property
    def local(self) -> Path:
        return self.tmp / "media"


def _setup(tmp: Path, moto_server: str, bucket: str, phase: str) -> Setup:
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    (tmp / "media").mkdir(parents=True)
    policy = {
        "version": 1,
        "backends": {
            "local": {"url": f"file://{tmp / 'media'}"},
            "s3": {
                "url": f"s3://{bucket}/{prefix}",
                "options": {"endpoint_url": moto_server, "key": "testing", "secret": "testing"},
            },
        },
        "journal": {"url": f"file://{tmp / 'journal'}"},
        "routes": {
            "certificates": {
                "prefix": "certificates/",
                "phase": phase,
                "phases": {
                    "dual-write": {"primary": "local", "shadow": "s3", "mode": "dual-write"},
                    "s3-primary": {"primary": "s3", "shadow": "local", "mode": "dual-write"},
                    "s3-only": {"primary": "s3"},
                },
                "fallbacks": {
                    "read": {"on": ["not_found", "transient"]},
                    "write": {"on": ["transient"], "retries": 1, "backoff": "1ms"},
                    "delete": {"on": ["transient"]},
                },
            },
        },
    }
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy, allow_unicode=True))
    return Setup(tmp, bucket, prefix, policy, policy_file)


def _sides(setup: Setup, s3_client: Any) -> dict[str, dict[str, bytes]]:
    return {
        "local": local_tree(setup.local, temp_ok=True),
        "s3": s3_tree(s3_client, setup.bucket, f"{setup.prefix}/"),
    }


def _temp_files(setup: Setup) -> list[Path]:
    return [p for p in setup.local.rglob("*") if TEMP_MARKER in p.name]


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli(list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def _plan(rng: random.Random, initial: dict[str, tuple[int, int]]) -> list[Write]:
    """A few writes of small, random sizes; versions increase per key."""
    next_version = {key: initial.get(key, (0, 0))[0] + 1 for key in KEYS}
    writes: list[Write] = []
    for _ in range(rng.randint(2, 5)):
        key = rng.choice(KEYS)
        writes.append((key, next_version[key], rng.randint(1, 6000), rng.random() < 0.6))
        next_version[key] += 1
    return writes


def _check_run(
    setup: Setup,
    s3_client: Any,
    writes: list[Write],
    initial: dict[str, tuple[int, int]],
    outcome: Outcome,
    written: tuple[str, ...],
) -> dict[str, bool]:
    """The crash invariants on the sides the phase writes (``written``); returns, per
    key, whether those sides agree after repair."""
    sides = {k: v for k, v in _sides(setup, s3_client).items() if k in written}
    for side, held in sides.items():  # complete old or complete new, never torn or empty
        for key, data in held.items():
            assert data in versions_of(key, writes, initial), (
                f"{side}:{key} holds {len(data)} bytes that are no complete version"
            )
    # writes this small never start a multipart upload (test_killed_multipart_upload_…
    # sweeps S3); sweeping local alone saves an S3 client per run
    code, text = _cli("sweep", str(setup.policy_file), "--older-than", "0s", "--backend", "local")
    assert code == 0, text
    assert _temp_files(setup) == []
    code, text = _cli("repair", str(setup.policy_file))
    assert code == 0, text
    sides = {k: v for k, v in _sides(setup, s3_client).items() if k in written}
    in_flight_key = writes[outcome.in_flight][0] if outcome.in_flight is not None else None
    agree: dict[str, bool] = {}
    for key in KEYS:
        acked = [writes[i][1] for i in outcome.acked if writes[i][0] == key]
        floor = max(acked) if acked else initial.get(key, (0, 0))[0]
        for side, held in sides.items():
            if key in held:
                version = versions_of(key, writes, initial)[held[key]]
                assert version >= floor, f"{side}:{key} went back to v{version} (acked v{floor})"
            else:
                assert floor == 0, f"{side}:{key} lost its acknowledged v{floor}"
        agree[key] = len({repr(held.get(key)) for held in sides.values()}) == 1
        if key != in_flight_key:
            assert agree[key], f"{key}: the sides disagree after repair"
    return agree


def _seed_initial(setup: Setup, rng: random.Random, s3_client: Any) -> dict[str, tuple[int, int]]:
    """Old versions of some keys, the same on both sides (put there directly)."""
    initial: dict[str, tuple[int, int]] = {}
    for key in KEYS:
        if rng.random() < 0.7:
            size = rng.randint(1, 4000)
            data = content(key, 0, size)
            path = setup.local / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            s3_client.put_object(Bucket=setup.bucket, Key=f"{setup.prefix}/{key}", Body=data)
            initial[key] = (0, size)
    return initial


@pytest.fixture(scope="module")
def crash_bucket(moto_server: str) -> str:
    """One bucket for every crash run (each run has its own prefix)."""
    import boto3

    name = f"crash-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def test_sigkill_at_random_points(
    forkserver: Any,
    moto_server: str,
    crash_bucket: str,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    """≥50 SIGKILLs at random byte offsets or moments: never a torn file; sweep + repair restore agreement for acked writes."""
    rng = random.Random(20261128)
    kinds = {"paused": 0, "free": 0, "finished": 0, "in_flight_diverged": 0}
    for run in range(RUNS):
        phase = ("dual-write", "s3-primary", "s3-only")[run % 3]
        setup = _setup(tmp_path / f"run{run:03d}", moto_server, crash_bucket, phase)
        initial = _seed_initial(setup, rng, s3_client)
        writes = _plan(rng, initial)
        streamed = [i for i, w in enumerate(writes) if w[3]]
        if streamed and rng.random() < 0.5:
            index = rng.choice(streamed)
            pause = (index, rng.randrange(0, writes[index][2]))
            outcome = _run_and_kill(
                forkserver,
                setup.policy,
                writes,
                pause=pause,
                chunk=rng.choice([1, 512, 1024, 4096]),
            )
            kinds["paused"] += 1
            assert outcome.paused_at is not None
            assert outcome.in_flight == index
        else:
            after = (
                ("begin", rng.randrange(len(writes)))
                if rng.random() < 0.5
                else ("ack", rng.randrange(len(writes)))
            )
            outcome = _run_and_kill(forkserver, setup.policy, writes, kill_after=after)
            kinds["free"] += 1
        kinds["finished"] += outcome.finished
        written = ("s3",) if phase == "s3-only" else ("local", "s3")
        agree = _check_run(setup, s3_client, writes, initial, outcome, written)
        kinds["in_flight_diverged"] += not all(agree.values())
    assert kinds["paused"] >= RUNS // 4, kinds
    assert kinds["free"] >= RUNS // 4, kinds


@pytest.mark.xfail(
    strict=True,
    reason=(
        "a dual-write that dies after one side published and before the other did leaves "
        "the sides different with no journal entry (divergences are journaled after the "
        "legs settle), so repair cannot see it; fix proposed in docs/reliability.md "
        "(journal an intent before publishing)"
    ),
)
@pytest.mark.parametrize("phase", ["dual-write", "s3-primary"])
def test_kill_between_the_two_publishes(
    phase: str,
    forkserver: Any,
    moto_server: str,
    crash_bucket: str,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    """Killed after the primary published and before the shadow did: repair still brings the sides into agreement."""
    setup = _setup(tmp_path, moto_server, crash_bucket, phase)
    key = KEYS[0]
    with Router.from_dict(setup.policy) as fs:
        fs.pipe_file(key, content(key, 0, 100))
    writes: list[Write] = [(key, 1, 100, True)]
    parent, child = forkserver.Pipe()
    proc = forkserver.Process(
        target=_pause_between_publishes, args=(setup.policy, key, child), daemon=True
    )
    proc.start()
    child.close()
    try:
        assert parent.poll(HANG_GUARD), "the child never reached the shadow's publish"
        assert parent.recv() == ("between",)
    finally:
        proc.kill()
        proc.join(HANG_GUARD)
    sides = _sides(setup, s3_client)
    primary = "local" if phase == "dual-write" else "s3"
    assert sides[primary][key] == content(key, 1, 100)  # the primary published...
    shadow = "s3" if primary == "local" else "local"
    assert sides[shadow][key] == content(key, 0, 100)  # ...the shadow did not
    assert _cli("sweep", str(setup.policy_file), "--older-than", "0s")[0] == 0
    assert _cli("repair", str(setup.policy_file))[0] == 0
    sides = _sides(setup, s3_client)
    assert sides["local"][key] == sides["s3"][key], "the sides disagree after repair"
    del writes


def _pause_between_publishes(policy: dict[str, Any], key: str, conn: Connection) -> None:
    """Child: a streamed write whose shadow publish (commit) blocks; tell the parent."""
    from router import Router
    from router.testing import FaultyFileSystem

    class Pausing(FaultyFileSystem):  # type: ignore[misc]
        def open(self, path: str, mode: str = "rb", **kw: Any) -> Any:
            handle = super().open(path, mode, **kw)
            if "w" in mode:
                inner_close = handle.close

                def close() -> None:
                    conn.send(("between",))
                    conn.recv()  # never answered: killed here
                    inner_close()

                handle.close = close
            return handle

        def mv(self, path1: str, path2: str, **kw: Any) -> Any:  # local shadow: publish = mv
            conn.send(("between",))
            conn.recv()
            return super().mv(path1, path2, **kw)

    fs = Router.from_dict(policy)
    shadow = fs.plan.routes["certificates"].live.shadow
    assert shadow is not None
    backend = fs.backends[shadow]
    backend.fs = Pausing(backend.fs)
    with fs.open(key, "wb") as out:
        out.write(content(key, 1, 100))


# -- item 8: an exception inside ``with open(wb)`` and killed multipart uploads ------------


@pytest.mark.parametrize("phase", ["dual-write", "s3-primary", "s3-only"])
@pytest.mark.parametrize("size", [10, 9 * 2**20], ids=["small", "multipart"])
def test_exception_inside_open_wb_publishes_nothing(
    phase: str, size: int, moto_server: str, crash_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """An exception inside `with router.open(p, "wb")` leaves the old content on every side, no temp file, no upload."""
    setup = _setup(tmp_path, moto_server, crash_bucket, phase)
    key, fresh = KEYS[1], KEYS[2]
    with Router.from_dict(setup.policy) as fs:
        fs.pipe_file(key, b"old content")
        before = _sides(setup, s3_client)
        for target in (key, fresh):
            with pytest.raises(RuntimeError, match="caller failed"):
                _fail_mid_write(fs, target, size)
        assert fs.cat_file(key) == b"old content"
        assert not fs.exists(fresh)
    assert _sides(setup, s3_client) == before
    assert _temp_files(setup) == []
    uploads = s3_client.list_multipart_uploads(Bucket=crash_bucket, Prefix=f"{setup.prefix}/")
    assert uploads.get("Uploads", []) == []
    assert list(Router.from_dict(setup.policy).journal.entries()) == []


def _fail_mid_write(fs: Router, key: str, size: int) -> None:
    with fs.open(key, "wb") as out:
        for start in range(0, size, 2**20):
            out.write(b"n" * min(2**20, size - start))
        raise RuntimeError("caller failed mid-write")


def test_killed_multipart_upload_is_invisible_and_swept(
    forkserver: Any, moto_server: str, crash_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """A child killed mid multipart upload leaves no visible object; `router sweep` aborts the upload (not before it is old enough)."""
    setup = _setup(tmp_path, moto_server, crash_bucket, "s3-only")
    key = KEYS[0]
    size = 9 * 2**20  # one 8 MiB part is uploaded before the pause
    outcome = _run_and_kill(
        forkserver, setup.policy, [(key, 1, size, True)], pause=(0, 9 * 2**20 - 2**20), chunk=2**20
    )
    assert outcome.paused_at is not None
    assert outcome.acked == []
    prefix = f"{setup.prefix}/"

    def uploads() -> list[dict[str, Any]]:
        return list(
            s3_client.list_multipart_uploads(Bucket=crash_bucket, Prefix=prefix).get("Uploads", [])
        )

    assert [u["Key"] for u in uploads()] == [f"{prefix}{key}"]  # the upload was under way
    assert _sides(setup, s3_client)["s3"] == {}  # and nothing is visible
    with Router.from_dict(setup.policy) as fs:
        assert not fs.exists(key)
    # (moto reports every upload as initiated in 2010, so "too young" cannot be shown
    # here; test_sweep.py covers the threshold)
    code, text = _cli("sweep", str(setup.policy_file), "--older-than", "0s", "--dry-run")
    assert (code, "would abort" in text, len(uploads())) == (0, True, 1), text
    code, text = _cli("sweep", str(setup.policy_file), "--older-than", "0s")
    assert (code, "aborted" in text) == (0, True), text
    assert uploads() == []
    assert _sides(setup, s3_client)["s3"] == {}


def test_killed_local_write_leaves_only_a_temp_file_that_is_swept(
    forkserver: Any, moto_server: str, crash_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    """A child killed mid streamed write leaves the old file intact and a temp file that sweep removes."""
    setup = _setup(tmp_path, moto_server, crash_bucket, "dual-write")
    key = KEYS[1]
    with Router.from_dict(setup.policy) as fs:
        fs.pipe_file(key, b"old")
    outcome = _run_and_kill(forkserver, setup.policy, [(key, 1, 5000, True)], pause=(0, 3000))
    assert outcome.paused_at == (0, 2048)
    temps = _temp_files(setup)
    assert len(temps) == 1
    assert temps[0].stat().st_size == 2048
    assert (setup.local / key).read_bytes() == b"old"
    code, text = _cli("sweep", str(setup.policy_file), "--older-than", "1h")
    assert (code, _temp_files(setup)) == (0, temps), text  # too young to be swept
    code, text = _cli("sweep", str(setup.policy_file), "--older-than", "0s")
    assert (code, _temp_files(setup)) == (0, []), text
    assert _sides(setup, s3_client) == {"local": {key: b"old"}, "s3": {key: b"old"}}


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    for child in multiprocessing.active_children():
        child.kill()
        child.join(HANG_GUARD)
