"""The ``router`` command line: a thin edge over :func:`router.cli.main.main`."""

from __future__ import annotations

import sys

from router.cli.main import main

__all__ = ["main", "run"]


def run() -> None:
    """Console-script entry point: exit with what :func:`main` returns."""
    sys.exit(main(sys.argv[1:]))
