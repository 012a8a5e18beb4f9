"""Helpers shared by the core tests: what a local backend really holds."""

from __future__ import annotations

from pathlib import Path

from router.sinks import TEMP_MARKER


def local_files(root: Path) -> dict[str, bytes]:
    """What a local backend root holds: key -> bytes (no temp files expected)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def no_temp_files(root: Path) -> bool:
    """Whether no all-or-nothing writer left a temp file under ``root``."""
    return not any(TEMP_MARKER in p.name for p in root.rglob("*"))
