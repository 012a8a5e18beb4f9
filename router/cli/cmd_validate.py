"""``router validate FILE...``: check policy files without touching any backend.

Each file is loaded exactly as the router would load it, environment overrides
(``ROUTER_ROUTES__…``) and ``${VAR}`` interpolation included, so a file that passes
here is one the router accepts in this environment.

Output (``--format text``, the default), one line per file or problem, in order::

    policies/certificates.yaml: ok
    policies/broken.yaml:7:12: routes.certificates.phase: unknown phase 's3-primari'; ...
    policies/broken.yaml: $ROUTER_ROUTES__CERTIFICATES__PHASE: routes.certificates.phase: ...

``--format json`` prints one object: ``{"ok": bool, "files": [{"file", "ok",
"problems": [{"source", "line", "column", "path", "variable", "message"}], "error"}]}``
where ``error`` is set (and ``problems`` empty) for a file that could not be read.

Exit codes: 0 every file is a valid policy; 1 at least one is invalid (whatever its
content: not YAML, binary, too large, wrong shape, incoherent); 2 a usage error:
bad arguments, or a FILE that cannot be read at all (missing, a directory, no
permission) — reported on stderr as ``error: FILE: reason``, after the other files
have been checked. A usage error wins over an invalid file. Never a traceback: an
unexpected failure while loading a file is reported as a problem of that file.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, TextIO

from router.errors import PolicyError
from router.policy.load import load_policy

NAME = "validate"

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``validate`` sub-command."""
    parser = sub.add_parser(
        NAME,
        help="check policy files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy files to check")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )


def _unreadable(name: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a policy file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def validate_one(name: str) -> dict[str, Any]:
    """The report row for one file: ``ok``, its ``problems`` or an ``error`` (unreadable)."""
    row: dict[str, Any] = {"file": name, "ok": False, "problems": [], "error": None}
    try:
        load_policy(name)
    except PolicyError as exc:
        row["problems"] = [problem.as_dict() for problem in exc.problems]
        row["lines"] = [str(problem) for problem in exc.problems]
    except OSError as exc:
        row["error"] = _unreadable(name, exc)
    except Exception as exc:  # a bug of ours must not become a traceback for a user file
        message = f"internal error while loading ({type(exc).__name__}: {exc}); please report it"
        row["problems"] = [
            {
                "source": name,
                "line": None,
                "column": None,
                "path": "",
                "variable": None,
                "message": message,
            }
        ]
        row["lines"] = [f"{name}: {message}"]
    else:
        row["ok"] = True
    return row


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate each file; 0 all valid, 1 any invalid, 2 any unreadable."""
    rows = []
    for name in args.files:
        row = validate_one(os.fspath(name))
        rows.append(row)
        if args.format != "text":
            continue
        if row["error"] is not None:
            print(f"error: {name}: {row['error']}", file=err)
        elif row["ok"]:
            print(f"{name}: ok", file=out)
        else:
            for line in row["lines"]:
                print(line, file=out)
    for row in rows:
        row.pop("lines", None)
    if args.format == "json":
        report = {"ok": all(row["ok"] for row in rows), "files": rows}
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    if any(row["error"] is not None for row in rows):
        return EXIT_USAGE
    return EXIT_OK if all(row["ok"] for row in rows) else EXIT_INVALID
