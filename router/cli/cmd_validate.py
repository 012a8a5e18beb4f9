"""``router validate FILE...``: ok per good file, one line per problem otherwise."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from router.errors import PolicyError
from router.policy.load import load_policy

NAME = "validate"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` sub-command."""
    parser = sub.add_parser(NAME, help="check policy files", description=__doc__)
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy files to check")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate each file; 0 when all are valid, 1 otherwise."""
    failed = False
    rows = []
    for name in args.files:
        try:
            load_policy(name)
        except PolicyError as exc:
            failed = True
            rows.append(
                {"file": name, "ok": False, "problems": [p.as_dict() for p in exc.problems]}
            )
            if args.format == "text":
                for problem in exc.problems:
                    print(problem, file=out)
        else:
            rows.append({"file": name, "ok": True, "problems": []})
            if args.format == "text":
                print(f"{name}: ok", file=out)
    if args.format == "json":
        print(json.dumps(rows, indent=2), file=out)
    return 1 if failed else 0
