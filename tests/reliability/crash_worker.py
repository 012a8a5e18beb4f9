"""The child side of the crash tests: a process that writes through the Router and
reports over a pipe, so that the parent can SIGKILL it at a chosen moment.

Messages (each sent *before* the child goes on, so whatever the parent receives really
happened): ``("begin", i)`` before write ``i``, ``("ack", i)`` once write ``i`` was
acknowledged, ``("at", i, offset)`` when a streamed write has handed ``offset`` bytes to
the router (the chunk holding the chosen byte is next) and the child waits to be killed, ``("done",)`` at the end.

Contents are deterministic, so the parent can tell a complete version from a torn one.
"""

from __future__ import annotations

import hashlib
from multiprocessing.connection import Connection
from typing import Any

Write = tuple[str, int, int, bool]
"""(key, version, size, streamed)."""


def content(key: str, version: int, size: int) -> bytes:
    """The bytes of ``version`` of ``key``: ``size`` bytes, different for every version."""
    seed = hashlib.sha256(f"{key}|{version}".encode()).digest()
    header = f"{key}|v{version}|".encode()
    body = (seed * (size // len(seed) + 1))[: max(0, size - len(header))]
    return (header + body)[:size]


def versions_of(
    key: str, writes: list[Write], initial: dict[str, tuple[int, int]]
) -> dict[bytes, int]:
    """Every complete content ``key`` may legitimately hold → its version."""
    found: dict[bytes, int] = {}
    if key in initial:
        version, size = initial[key]
        found[content(key, version, size)] = version
    for k, version, size, _ in writes:
        if k == key:
            found[content(k, version, size)] = version
    return found


def run_child(
    policy: dict[str, Any],
    writes: list[Write],
    pause: tuple[int, int] | None,
    chunk: int,
    conn: Connection,
) -> None:
    """Write ``writes`` in order through a Router; pause (block forever) at ``pause``."""
    from router import Router

    fs = Router.from_dict(policy)
    for index, (key, version, size, streamed) in enumerate(writes):
        data = content(key, version, size)
        conn.send(("begin", index))
        if streamed:
            with fs.open(key, "wb") as out:
                for start in range(0, size, chunk):
                    if (
                        pause is not None
                        and pause[0] == index
                        and start <= pause[1] < start + chunk
                    ):
                        conn.send(("at", index, start))
                        conn.recv()  # never answered: the parent kills us here
                    out.write(data[start : start + chunk])
        else:
            fs.pipe_file(key, data)
        conn.send(("ack", index))
    conn.send(("done",))
    conn.recv()
