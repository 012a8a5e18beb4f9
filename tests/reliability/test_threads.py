"""Item 10: 16 threads x 1,000 mixed ops in dual-write with faults on both sides.

No deadlock (every thread finishes; the join timeout is only a hang guard), the
counters add up to the ops issued, no thread is left behind, and after repair both
sides hold what each thread's model says. A stalled shadow costs disk, not memory. ``ROUTER_STRESS=1``: 5,000 ops per thread.
"""

from __future__ import annotations

import random
import threading
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from router import Router
from router.migrate import repair
from router.sweep import sweep
from router.testing import Fault, FaultyFileSystem, capture_metrics, inject_faults, s3_error
from tests.reliability.rel_helpers import local_tree, scaled, two_sided_policy

THREADS = 16
OPS = scaled(1000, 5000)
HANG_GUARD = 600.0  # seconds; only a guard against a deadlock, never a timing assertion


def _errors(seed: int) -> Any:
    rng = random.Random(seed)
    makers = (
        lambda: TimeoutError("injected"),
        lambda: s3_error("SlowDown", 503),
        lambda: ConnectionResetError("injected"),
    )
    return lambda: rng.choice(makers)()


def _worker(
    fs: Router, index: int, issued: Counter[str], model: dict[str, bytes], failures: list[str]
) -> None:
    rng = random.Random(index)
    own = [f"t{index:02d}/k{j}" for j in range(5)]
    shared = [f"shared/k{j}" for j in range(4)]
    for n in range(OPS):
        mine = rng.random() < 0.8
        key = rng.choice(own if mine else shared)
        roll = rng.random()
        try:
            if roll < 0.35:
                data = f"{index}:{n}:".encode() * rng.randrange(1, 40)
                issued["write"] += 1
                if rng.random() < 0.5:
                    with fs.open(key, "wb") as out:
                        out.write(data[: len(data) // 2])
                        out.write(data[len(data) // 2 :])
                else:
                    fs.pipe_file(key, data)
                if mine:
                    model[key] = data
            elif roll < 0.5:
                issued["delete"] += 1
                fs.rm_file(key)
                if mine:
                    model.pop(key, None)
            elif roll < 0.8:
                issued["read"] += 1
                got = fs.cat_file(key)
                if mine and got != model.get(key):
                    failures.append(f"{key}: read {got[:20]!r}, model {model.get(key, b'')[:20]!r}")
            else:
                issued["info"] += 1
                found = fs.exists(key)
                if mine and found != (key in model):
                    failures.append(f"{key}: exists {found}, model {key in model}")
        except FileNotFoundError:
            if mine and key in model:
                failures.append(f"{key}: not found, but acknowledged")
        except OSError:
            pass  # both sides failed this op: nothing was acknowledged
        except Exception as exc:  # anything else is a bug
            failures.append(f"{key}: {type(exc).__name__}: {exc}")


def test_sixteen_threads_of_mixed_ops_with_faults(two_roots: tuple[Path, Path, Path]) -> None:
    """16 threads x 1,000 ops with faults: no deadlock, counters add up, threads bounded, repair converges."""
    a, b, journal = two_roots
    policy = two_sided_policy(
        f"file://{a}",
        f"file://{b}",
        f"file://{journal}",
        a_options={"fsync": False},
        b_options={"fsync": False},
    )
    before = set(threading.enumerate())
    issued = [Counter[str]() for _ in range(THREADS)]
    models: list[dict[str, bytes]] = [{} for _ in range(THREADS)]
    failures: list[str] = []
    fs = Router.from_dict(policy)
    try:
        with (
            capture_metrics() as seen,
            inject_faults(fs, "a", Fault("any", error=_errors(1), rate=0.004, seed=2)) as fa,
            inject_faults(fs, "b", Fault("any", error=_errors(3), rate=0.008, seed=4)) as fb,
        ):
            threads = [
                threading.Thread(
                    target=_worker,
                    args=(fs, i, issued[i], models[i], failures),
                    name=f"load-{i}",
                )
                for i in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(HANG_GUARD)
            assert not any(t.is_alive() for t in threads), "deadlock: a worker never finished"
        assert fa.calls
        assert fb.calls
        assert failures == []
        total = sum(issued, Counter())
        assert sum(total.values()) == THREADS * OPS
        counts = seen.counts
        for op in ("write", "delete"):  # each mutation: one final outcome on each side
            for side in ("a", "b"):
                finals = sum(counts[f"m.{side}.{op}.{o}"] for o in ("success", "fail", "fallback"))
                assert finals == total[op], (op, side)
        for op in ("read", "info"):  # each read: exactly one success or final failure
            answered = sum(
                counts[f"m.{side}.{op}.{o}"] for side in "ab" for o in ("success", "fail")
            )
            assert answered == total[op], op
        # the Router's own (sharded, lock-light) registry lost no increment either
        own = fs.metrics.counts()
        assert {k: v for k, v in own.items() if k.startswith("m.")} == {
            k: v for k, v in counts.items() if k.startswith("m.")
        }
        assert counts["m.divergence.write"] + counts["m.divergence.delete"] == fs.journal.depth()
        # bounded: what this test left running is at most the Router's pool (16 workers)
        started = [t for t in threading.enumerate() if t not in before]
        assert len(started) <= 16, sorted(t.name for t in started)

        # by content: two local sides have no MD5 to compare (test_write_faults.py)
        assert repair(fs.journal, fs.backends, check="checksum").ok
        # an abort whose cleanup was itself failed by a fault leaves a temp file: swept
        sweep(fs.backends, journal=fs.journal, older_than=0)
        side_a, side_b = local_tree(a), local_tree(b)
        assert side_a == side_b
        for index, model in enumerate(models):
            own = {k: v for k, v in side_a.items() if k.startswith(f"t{index:02d}/")}
            assert own == model
    finally:
        fs.close()
    left = [t.name for t in threading.enumerate() if t not in before]
    assert left == []  # close() leaves nothing running


def test_a_stalled_shadow_costs_disk_not_memory(
    two_roots: tuple[Path, Path, Path], routers: Any
) -> None:
    """While the shadow stalls, 64 MiB streamed to the primary hold at most the spill queue's 16 MiB in memory; the write then completes on both sides."""
    a, b, journal = two_roots
    fs = routers(
        two_sided_policy(
            f"file://{a}", f"file://{b}", f"file://{journal}", b_options={"fsync": False}
        )
    )
    release = threading.Event()

    class Stalling(FaultyFileSystem):  # type: ignore[misc]
        def open(self, path: str, mode: str = "rb", **kw: Any) -> Any:
            handle = super().open(path, mode, **kw)
            if "w" in mode:
                inner_write = handle.write

                def write(data: Any) -> int:
                    release.wait(HANG_GUARD)
                    return int(inner_write(data))

                handle.write = write
            return handle

    fs.backends["b"].fs = Stalling(fs.backends["b"].fs)
    chunk = b"s" * 2**20
    tracemalloc.start()
    try:
        out = fs.open("big.bin", "wb")
        for _ in range(64):
            out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        release.set()
    out.close()
    assert peak < 24 * 2**20, f"{peak / 2**20:.1f} MiB held in memory"
    assert (a / "big.bin").stat().st_size == (b / "big.bin").stat().st_size == 64 * 2**20
