"""Progress displays for a backfill: a rich progress bar on a terminal, plain lines otherwise.

The bar shows objects copied of those found to need a copy, bytes, rate and ETA. The
total grows while the listing is still running (the listing streams ahead of the
copies); the ETA is exact once the listing is done. Without a terminal, one line is
printed every ``every`` seconds (and nothing else), for logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from router.migrate.backfill import BackfillProgress

__all__ = ["Display", "human_bytes", "open_display"]


def human_bytes(n: float) -> str:
    """``1.5 MiB`` style."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


class Display:
    """A progress sink: ``update(progress)`` often, ``close()`` once."""

    def update(self, progress: BackfillProgress) -> None:
        """Show ``progress``."""

    def close(self) -> None:
        """Finish the display."""


class PlainDisplay(Display):
    """One line every ``every`` seconds."""

    def __init__(
        self, out: TextIO, every: float = 5.0, clock: Callable[[], float] = time.monotonic
    ):
        self.out = out
        self.every = every
        self.clock = clock
        self.next = clock() + every

    def update(self, progress: BackfillProgress) -> None:
        """Print a line when ``every`` seconds have passed since the last one."""
        now = self.clock()
        if now < self.next:
            return
        self.next = now + self.every
        rate = progress.bytes_copied / progress.elapsed if progress.elapsed > 0 else 0.0
        total = f"/{progress.to_copy}" if progress.listing_done else ""
        print(
            f"backfill: {progress.copied}{total} copied ({human_bytes(progress.bytes_copied)}, "
            f"{human_bytes(rate)}/s), {progress.equal} already equal, "
            f"{progress.failed} failed, {progress.examined} examined",
            file=self.out,
            flush=True,
        )


class RichDisplay(Display):
    """A rich progress bar (terminals)."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]backfill[/] {task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=out),
            transient=False,
        )
        self.task: Any = self.progress.add_task("0 objects", total=None)
        self.progress.start()

    def update(self, progress: BackfillProgress) -> None:
        """Move the bar: bytes copied of bytes to copy; objects in the description."""
        total = f"/{progress.to_copy}" if progress.listing_done else ""
        self.progress.update(
            self.task,
            completed=progress.bytes_copied,
            total=progress.bytes_to_copy if progress.listing_done else None,
            description=f"{progress.copied}{total} objects, {progress.failed} failed",
        )

    def close(self) -> None:
        """Stop the bar (leaves its last state on screen)."""
        self.progress.stop()


def open_display(out: TextIO, *, tty: bool | None = None) -> Display:
    """A :class:`RichDisplay` when ``out`` is a terminal, else a :class:`PlainDisplay`."""
    if tty is None:
        isatty = getattr(out, "isatty", None)
        tty = bool(isatty()) if callable(isatty) else False
    return RichDisplay(out) if tty else PlainDisplay(out)
