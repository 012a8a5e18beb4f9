"""Item 16: files and directories the local backend creates get a sane mode — the
process umask is respected, and nothing is ever world-writable (not even with umask 0).

Covered: whole-object writes, streamed writes, ``mkdir``, the directories created for
them, and the copies ``repair`` makes; the journal's own files are checked for
world-writability.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from router import Router
from router.migrate import repair
from router.testing import Fault, inject_faults
from tests.reliability.rel_helpers import two_sided_policy


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after the test."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def _created(tmp: Path) -> list[Path]:
    """What the router created: everything under the two roots and the journal (not the roots)."""
    return [
        p
        for p in tmp.rglob("*")
        if p.relative_to(tmp).parts[0] in ("a", "b", "journal") and p not in (tmp / "a", tmp / "b")
    ]


def _workload(tmp: Path) -> None:
    policy = two_sided_policy(
        f"file://{tmp / 'a'}", f"file://{tmp / 'b'}", f"file://{tmp / 'journal'}"
    )
    with Router.from_dict(policy) as fs:
        fs.pipe_file("certificates/2025/whole.pdf", b"whole")
        with fs.open("avatars/new/dir/streamed.png", "wb") as out:
            out.write(b"streamed")
        fs.mkdir("made/by/mkdir")
        with inject_faults(fs, "b", Fault("write", error=lambda: TimeoutError("injected"))):
            fs.pipe_file("repaired/deep/later.pdf", b"copied by repair")  # journaled
        # the fault wrapper's own write path made b's directories; let repair make them
        shutil.rmtree(tmp / "b" / "repaired")
        assert repair(fs.journal, fs.backends).ok  # repair creates b's copy and its dirs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"),
    [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)],
    ids=["022", "027", "077", "002"],
)
def test_created_files_follow_the_umask(
    mask: int, file_mode: int, dir_mode: int, tmp_path: Path
) -> None:
    """With umask 022/027/077/002, files get 644/640/600/664 and directories 755/750/700/775."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.umask(mask)
    _workload(tmp_path)
    created = [p for p in _created(tmp_path) if p.relative_to(tmp_path).parts[0] != "journal"]
    files = [p for p in created if p.is_file()]
    dirs = [p for p in created if p.is_dir()]
    assert len(files) == 6
    assert len(dirs) >= 14
    assert {str(p): oct(_mode(p)) for p in files} == {str(p): oct(file_mode) for p in files}
    assert {str(p): oct(_mode(p)) for p in dirs} == {str(p): oct(dir_mode) for p in dirs}


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002], ids=["022", "077", "002"])
def test_journal_files_are_not_world_writable(mask: int, tmp_path: Path) -> None:
    """The journal's directories and entries are never world-writable."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.umask(mask)
    policy = two_sided_policy(
        f"file://{tmp_path / 'a'}", f"file://{tmp_path / 'b'}", f"file://{tmp_path / 'journal'}"
    )
    with Router.from_dict(policy) as fs, inject_faults(fs, "b", Fault("write")):
        fs.pipe_file("k", b"journaled")
    journal = list((tmp_path / "journal").rglob("*"))
    assert journal
    assert [str(p) for p in journal if _mode(p) & stat.S_IWOTH] == []


@pytest.mark.usefixtures("umask")
def test_nothing_is_world_writable_even_with_umask_zero(tmp_path: Path) -> None:
    """With umask 0, no file or directory the router creates is world-writable."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.umask(0)
    _workload(tmp_path)
    loose = [str(p) for p in _created(tmp_path) if _mode(p) & stat.S_IWOTH]
    assert loose == []
