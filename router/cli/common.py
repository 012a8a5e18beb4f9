"""Helpers shared by CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from router.errors import PolicyError
from router.policy.load import LoadedPolicy, load_policy

__all__ = ["UsageError", "load_or_report"]


class UsageError(Exception):
    """A mistake in how the command was called: exit code 2."""


def load_or_report(path: str, err: TextIO) -> LoadedPolicy | None:
    """Load a policy, or print its problems to ``err`` and return None.

    A file that does not exist is a usage error (exit 2), not an invalid policy.
    """
    if not Path(path).is_file():
        raise UsageError(f"policy file {path!r} does not exist")
    try:
        return load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return None
