"""The registry of CLI commands: one module per command, each with register() and run()."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, TextIO

from router.cli import (
    cmd_backfill,
    cmd_demo,
    cmd_explain,
    cmd_repair,
    cmd_schema,
    cmd_status,
    cmd_sweep,
    cmd_validate,
    cmd_verify,
)


class Command(Protocol):
    """What a command module provides."""

    NAME: str

    def register(self, sub: argparse._SubParsersAction[Any]) -> None: ...

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int: ...


COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        module.NAME: module
        for module in (
            cmd_validate,
            cmd_schema,
            cmd_explain,
            cmd_status,
            cmd_verify,
            cmd_backfill,
            cmd_repair,
            cmd_sweep,
            cmd_demo,
        )
    }
)
