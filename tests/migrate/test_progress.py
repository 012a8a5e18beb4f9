"""Progress displays: plain periodic lines for logs, a rich bar on terminals."""

from __future__ import annotations

import io
from typing import Any

from router.migrate import BackfillProgress
from router.migrate.progress import PlainDisplay, RichDisplay, human_bytes, open_display
from tests.migrate.conftest import run_cli


def _progress(copied: int, done: bool = False) -> BackfillProgress:
    return BackfillProgress(
        examined=copied,
        copied=copied,
        bytes_copied=copied * 1024,
        failed=0,
        equal=0,
        to_copy=10,
        bytes_to_copy=10 * 1024,
        listing_done=done,
        elapsed=2.0,
    )


def test_plain_display_prints_one_line_per_period() -> None:
    """Without a terminal, a line is printed only once each period has passed (a fake clock)."""
    now = [0.0]
    out = io.StringIO()
    display = PlainDisplay(out, every=5.0, clock=lambda: now[0])
    display.update(_progress(1))
    assert out.getvalue() == ""
    now[0] = 5.0
    display.update(_progress(3, done=True))
    display.update(_progress(4, done=True))
    assert out.getvalue() == (
        "backfill: 3/10 copied (3.0 KiB, 1.5 KiB/s), 0 already equal, 0 failed, 3 examined\n"
    )


def test_terminal_gets_the_rich_bar_and_pipes_get_plain_lines() -> None:
    """open_display picks the bar for a terminal and plain lines otherwise."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = open_display(Tty())
    try:
        assert isinstance(bar, RichDisplay)
        bar.update(_progress(10, done=True))
    finally:
        bar.close()
    assert isinstance(open_display(io.StringIO()), PlainDisplay)
    assert human_bytes(1536) == "1.5 KiB"


def test_backfill_runs_with_every_progress_mode(policy_file: Any, put_local: Any) -> None:
    """--progress bar, plain and none all run to the end with the same result."""
    put_local("certificates/a.pdf", b"a")
    policy = str(policy_file())
    for mode in ("bar", "plain", "none"):
        code, out, _ = run_cli("backfill", policy, "--route", "certificates", "--progress", mode)
        assert code == 0
        assert "result: DONE" in out
