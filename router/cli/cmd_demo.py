"""``router demo``: a whole migration on an embedded S3 server and a temp dir.

Exit codes: 0 the migration ended with verify clean and every object on S3; 1 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

NAME = "demo"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` sub-command."""
    parser = sub.add_parser(
        NAME, help="run a whole local → S3 migration on an embedded S3", description=__doc__
    )
    parser.add_argument(
        "--files", type=int, default=300, help="legacy files to start with (default 300)"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the demo."""
    from router.demo import run_demo

    try:
        import moto.server  # noqa: F401 - only checking that the extra is installed
    except ImportError:
        print(
            "error: router demo embeds an S3 server (moto); install it with\n"
            "  python -m pip install 'storage-router[demo]'",
            file=err,
        )
        return 2
    if args.files < 1:
        print("error: --files must be at least 1", file=err)
        return 2
    return run_demo(out, files=args.files)
