"""Argument parsing and dispatch. Every command returns an exit code.

Exit codes, for every command: 0 success, 1 the command ran and found a problem
(an invalid policy, a difference, a non-empty journal), 2 usage error (bad flags,
a file that does not exist), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from router.cli import commands
from router.cli.common import UsageError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (also used by the CLI reference docs test)."""
    parser = _Parser(
        prog="router",
        description="Route file operations across storage backends by a YAML policy.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in commands.COMMANDS.values():
        command.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI with ``argv``; return the exit code, never raise for user mistakes."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        if args.version:
            from importlib.metadata import version

            print(version("storage-router"), file=out)
            return EXIT_OK
        if args.command is None:
            parser.print_help(out)
            return EXIT_USAGE
        return int(commands.COMMANDS[args.command].run(args, out, err))
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return EXIT_INTERRUPTED
