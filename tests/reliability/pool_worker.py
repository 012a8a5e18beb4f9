"""Functions run in other processes by test_process_pool.py (importable by spawn)."""

from __future__ import annotations

import hashlib
from multiprocessing.queues import Queue
from typing import Any


def write_and_read(fs: Any, key: str) -> str:
    """Write ``key`` through the (unpickled) Router, read it back; its sha256."""
    data = f"written in a worker: {key}".encode() * 50
    fs.pipe_file(key, data)
    with fs.open(key + ".streamed", "wb") as out:
        out.write(data)
    assert fs.cat_file(key + ".streamed") == data
    return hashlib.sha256(fs.cat_file(key)).hexdigest()


def in_forked_child(fs: Any, key: str, results: Queue[tuple[str, str]]) -> None:
    """Use an inherited Router in a forked child; report ``ok`` or the error."""
    try:
        fs.pipe_file(key, b"from the forked child")
        results.put(("ok", fs.cat_file(key).decode()))
    except Exception as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
