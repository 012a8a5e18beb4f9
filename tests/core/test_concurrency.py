"""Many threads, one Router in dual-write (local primary, S3 shadow with injected rate
faults): no errors reach the callers, and afterwards both backends agree on every key
except those with a journaled divergence."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from s3fs.utils import FileExpired

from router import Router
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from tests.core.core_helpers import local_files, no_temp_files

THREADS = 16
OPS_PER_THREAD = 40
DIRECTORY = "certificates/concurrent"
KEYS = [f"{DIRECTORY}/{i:02d}.pdf" for i in range(4)]

Objects = Callable[[], dict[str, bytes]]


def _pipe(fs: Router, key: str, tag: bytes) -> None:
    fs.pipe_file(key, tag * 50)


def _stream(fs: Router, key: str, tag: bytes) -> None:
    with fs.open(key, "wb") as f:
        f.write(tag * 30)
        f.write(tag * 20)


def _rm(fs: Router, key: str, tag: bytes) -> None:
    fs.rm_file(key)


def _cat(fs: Router, key: str, tag: bytes) -> None:
    fs.cat_file(key)


def _read(fs: Router, key: str, tag: bytes) -> None:
    with fs.open(key, "rb") as f:
        f.read()


def _info(fs: Router, key: str, tag: bytes) -> None:
    fs.info(key)


def _ls(fs: Router, key: str, tag: bytes) -> None:
    fs.ls(DIRECTORY)


MUTATIONS = (_pipe, _stream, _rm)
READS = (_cat, _read, _info, _ls)


def _worker(
    fs: Router, seed: int, start: threading.Barrier, errors: list[tuple[str, str, BaseException]]
) -> None:
    rng = random.Random(seed)
    start.wait()
    for i in range(OPS_PER_THREAD):
        key = rng.choice(KEYS)
        op = rng.choice(MUTATIONS + READS)
        tag = f"<{seed}:{i}>".encode()
        try:
            op(fs, key, tag)
        except FileNotFoundError as exc:
            if op in MUTATIONS:  # reads of a key another thread deleted are fine
                errors.append((op.__name__, key, exc))
        except FileExpired as exc:
            # a streaming read served by S3 whose object another thread replaced or
            # deleted mid-read: s3fs refuses to mix two versions, as it should
            if op is not _read:
                errors.append((op.__name__, key, exc))
        except Exception as exc:
            errors.append((op.__name__, key, exc))


def test_mixed_ops_from_many_threads_leave_backends_agreeing_but_for_journaled_keys(
    make_router: Callable[..., Router],
    local_root: Path,
    s3_objects: Objects,
    s3_client: Any,
    bucket: str,
) -> None:
    """16 threads of mixed ops, shadow faults: no caller errors; sides differ only on journaled keys."""
    fs = make_router("dual-write")
    write_faults = Fault("write", error=lambda: s3_error("SlowDown", 503), rate=0.25, seed=7)
    delete_faults = Fault("delete", error=lambda: s3_error("InternalError", 500), rate=0.25)
    errors: list[tuple[str, str, BaseException]] = []
    start = threading.Barrier(THREADS)
    with (
        capture_metrics() as seen,
        inject_faults(fs, "s3", write_faults, delete_faults),
        ThreadPoolExecutor(THREADS) as pool,
    ):
        for future in [pool.submit(_worker, fs, seed, start, errors) for seed in range(THREADS)]:
            future.result()
    assert errors == []
    assert write_faults.fired > 0
    assert delete_faults.fired > 0
    assert seen.counts["cert.s3.write.retry"] > 0

    local = {k: v for k, v in local_files(local_root).items() if k.startswith(DIRECTORY)}
    remote = s3_objects()
    differing = {k for k in local.keys() | remote.keys() if local.get(k) != remote.get(k)}
    journaled = {e.key for e in fs.journal.entries()}
    assert differing <= journaled
    for key in KEYS:  # the router serves the primary's truth for every key
        if key in local:
            assert fs.cat_file(key) == local[key]
        else:
            assert not fs.exists(key)
    assert no_temp_files(local_root)
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
