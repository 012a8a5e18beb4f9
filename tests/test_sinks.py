"""router.sinks: local all-or-nothing writes, their temp names and directories."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from router import sinks
from router.sinks import TEMP_MARKER, LocalSink, temp_path
from router.sweep import _TEMP_NAME


def test_write_into_missing_directories_creates_them_without_world_write(tmp_path: Path) -> None:
    """A write whose directories do not exist creates every level, none world-writable."""
    target = tmp_path / "a" / "b" / "c.bin"
    sink = LocalSink(str(target), fsync=False)
    sink.write(b"payload")
    sink.commit()
    assert target.read_bytes() == b"payload"
    for level in (tmp_path / "a", tmp_path / "a" / "b"):
        assert not stat.S_IMODE(level.stat().st_mode) & stat.S_IWOTH


def test_temp_names_are_what_sweep_recognises(tmp_path: Path) -> None:
    """Every temp name carries the marker and matches the pattern `router sweep` removes."""
    names = {temp_path(f"{tmp_path}/dir/key.txt").rpartition("/")[2] for _ in range(200)}
    assert len(names) == 200
    assert all(TEMP_MARKER in name and _TEMP_NAME.match(name) for name in names)


def test_a_temp_name_already_taken_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the drawn temp name exists, the sink draws another and leaves that file alone."""
    target = str(tmp_path / "key.bin")
    monkeypatch.setattr(sinks, "_names", random.Random(7))
    taken = temp_path(target)
    Path(taken).write_bytes(b"someone else's write in flight")
    monkeypatch.setattr(sinks, "_names", random.Random(7))  # the same first draw again
    sink = LocalSink(target, fsync=False)
    assert sink.tmp != taken
    sink.write(b"mine")
    sink.commit()
    assert Path(target).read_bytes() == b"mine"
    assert Path(taken).read_bytes() == b"someone else's write in flight"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_other_temp_names_than_its_parent(tmp_path: Path) -> None:
    """After fork, parent and child do not share a sequence of temp names."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next names and leave at once
        os.close(read_end)
        names = ",".join(temp_path("d/k") for _ in range(5))
        os.write(write_end, names.encode())
        os._exit(0)
    os.close(write_end)
    parent = [temp_path("d/k") for _ in range(5)]
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split(",")
    os.waitpid(pid, 0)
    assert len(child) == 5
    assert not set(child) & set(parent)
