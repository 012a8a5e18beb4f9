"""Helpers shared by CLI commands."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A mistake in how the command was called: exit code 2."""
