"""The migration playbook's commands run as written against the `router demo` setup."""

from __future__ import annotations

import io
import re
import shlex
import uuid
from pathlib import Path

import pytest

from router.cli.main import main
from router.demo import demo_setup, seed_legacy_files, write_policy

PLAYBOOK = Path(__file__).resolve().parent.parent / "docs" / "migration-playbook.md"


def playbook_commands() -> list[str]:
    """Every `router ...` line of the playbook's shell blocks, in order."""
    blocks = re.findall(r"```sh\n(.*?)```", PLAYBOOK.read_text("utf-8"), re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.startswith("router ")
    ]


def test_playbook_has_the_checks() -> None:
    """The playbook gates, rehearses, backfills, verifies and repairs."""
    text = " ".join(playbook_commands())
    for needle in (
        "validate --against",
        "backfill",
        "--dry-run",
        "verify",
        "repair",
        "status",
        "explain",
    ):
        assert needle in text


@pytest.mark.s3
def test_playbook_commands_run_against_the_demo_setup(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each playbook command exits 0 on the demo setup in dual-write, in the order given."""
    monkeypatch.chdir(tmp_path)
    bucket = f"playbook-{uuid.uuid4().hex[:12]}"
    with demo_setup(root=tmp_path / "demo", endpoint=moto_server, bucket=bucket) as setup:
        seed_legacy_files(setup, 30)
        write_policy(setup, "dual-write")
        nxt = tmp_path / "next.yaml"
        nxt.write_text(
            setup.policy.read_text("utf-8").replace("phase: dual-write", "phase: s3-primary"),
            encoding="utf-8",
        )
        env = {"POLICY": str(setup.policy), "NEXT": str(nxt)}
        for line in playbook_commands():
            argv = [
                env.get(a.strip("$"), a) if a.startswith("$") else a for a in shlex.split(line)[1:]
            ]
            out = io.StringIO()
            code = main(argv, out=out, err=out)
            assert code == 0, f"{line!r} exited {code}:\n{out.getvalue()}"
