"""router.journal: durable divergence entries and the per-route index reads consult."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from router.journal import Entry, Journal


def _entry(key: str, truth: str = "local", stale: str = "s3") -> Entry:
    return Entry(
        route="certs",
        key=key,
        op="write",
        truth=truth,
        stale=stale,
        error_class="transient",
        phase="dual",
    )


def test_the_newest_entry_for_a_key_decides_which_side_is_stale(tmp_path: Path) -> None:
    """pending() gives (truth, stale) of the key's newest entry; other keys are unaffected."""
    journal = Journal(tmp_path)
    journal.record(_entry("a.pdf", truth="local", stale="s3"))
    journal.record(_entry("a.pdf", truth="s3", stale="local"))
    assert journal.pending("certs", "a.pdf") == ("s3", "local")
    assert journal.pending("certs", "b.pdf") is None
    assert journal.pending("other-route", "a.pdf") is None


def test_removing_an_entry_clears_it_and_reveals_the_older_one(tmp_path: Path) -> None:
    """After remove(), the key's previous entry (if any) decides again; with none, nothing."""
    journal = Journal(tmp_path)
    older = journal.record(_entry("a.pdf", truth="local", stale="s3"))
    newer = journal.record(_entry("a.pdf", truth="s3", stale="local"))
    journal.remove(newer)
    assert journal.pending("certs", "a.pdf") == ("local", "s3")
    journal.remove(older)
    assert journal.pending("certs", "a.pdf") is None


def test_another_process_sees_entries_at_once(tmp_path: Path) -> None:
    """A second Journal on the same directory sees a record and a removal immediately."""
    writer, reader = Journal(tmp_path), Journal(tmp_path)
    assert reader.pending("certs", "a.pdf") is None
    entry = writer.record(_entry("a.pdf"))
    assert reader.pending("certs", "a.pdf") == ("local", "s3")
    writer.remove(entry)
    assert reader.pending("certs", "a.pdf") is None


def test_a_refresh_reads_only_entries_it_has_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 50 entries indexed, one more divergence costs one entry read, not 51."""
    journal = Journal(tmp_path)
    for i in range(50):
        journal.record(_entry(f"k{i}"))
    assert journal.pending("certs", "k0") == ("local", "s3")
    reads: list[Path] = []
    read = Journal._read

    def counting(path: Path) -> Entry | None:
        reads.append(path)
        return read(path)

    monkeypatch.setattr(Journal, "_read", staticmethod(counting))
    new = journal.record(_entry("k50", truth="s3", stale="local"))
    assert journal.pending("certs", "k50") == ("s3", "local")
    assert [p.name for p in reads] == [f"{new.id}.json"]


def test_entries_are_listed_oldest_first_and_update_keeps_them(tmp_path: Path) -> None:
    """entries() is in recording order; update() rewrites the reason in place."""
    journal = Journal(tmp_path)
    first = journal.record(_entry("a"))
    journal.record(_entry("b"))
    journal.update(replace(first, reason="denied", attempts=1))
    listed = list(journal.entries("certs"))
    assert [e.key for e in listed] == ["a", "b"]
    assert (listed[0].reason, listed[0].attempts) == ("denied", 1)
    assert journal.depth() == 2
