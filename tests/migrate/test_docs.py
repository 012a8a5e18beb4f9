"""docs/cli-migrate.md documents every flag of verify, backfill and repair."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from router.cli.main import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli-migrate.md"


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise AssertionError("no sub-commands")


@pytest.mark.parametrize("command", ["verify", "backfill", "repair"])
def test_every_flag_is_in_the_reference(command: str) -> None:
    """Each option string of the command appears in docs/cli-migrate.md, in backticks."""
    text = DOC.read_text(encoding="utf-8")
    assert f"`router {command} POLICY" in text
    for action in _subparser(command)._actions:
        for option in action.option_strings:
            if option in ("-h", "--help"):
                continue
            assert f"`{option}" in text, f"{command} {option} is not documented"
