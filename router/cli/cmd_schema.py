"""``router schema``: print the policy's JSON Schema.

The same text ships as ``router/policy/schema.json``; point an editor at it with a
first line ``# yaml-language-server: $schema=PATH/TO/schema.json`` in a policy file
to get completion and checking while typing. ``router schema > FILE`` writes it.
Exit code 0.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.policy.schema import schema_text

NAME = "schema"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``schema`` sub-command."""
    sub.add_parser(
        NAME,
        help="print the policy JSON Schema",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the schema."""
    out.write(schema_text())
    return 0
