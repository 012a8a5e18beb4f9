"""The published rollout test vectors (docs/rollout.md) hold, and the hash is stable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from router.plan import bucket

DOC = Path(__file__).resolve().parent.parent / "docs" / "rollout.md"


def vectors() -> list[tuple[str, str, int]]:
    """(route, key, bucket) rows of the doc's table."""
    rows = re.findall(r"^\| `([^`]*)` \| `([^`]*)`[^|]*\| (\d+) \|$", DOC.read_text("utf-8"), re.M)
    return [
        (route, key.encode("ascii", "backslashreplace").decode("unicode_escape"), int(b))
        if "\\u" in key
        else (route, key, int(b))
        for route, key, b in rows
    ]


def test_doc_has_vectors() -> None:
    """The doc publishes at least six vectors, NFD spelling included."""
    rows = vectors()
    assert len(rows) >= 6
    assert any("\u0327" in key for _, key, _ in rows)


@pytest.mark.parametrize(("route", "key", "expected"), vectors())
def test_vector_holds(route: str, key: str, expected: int) -> None:
    """bucket(route, key) equals the published value."""
    assert bucket(route, key) == expected


def test_formula_is_the_documented_one() -> None:
    """The bucket is computed exactly as the doc's formula says, for arbitrary keys."""
    for i in range(200):
        key = f"k/{i}/é"
        digest = hashlib.sha256(b"r\x00" + key.encode()).digest()
        assert bucket("r", key) == int.from_bytes(digest[:8], "big") % 10000
