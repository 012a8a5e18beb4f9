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

With ``--against CURRENT``, each valid FILE is also checked as a flip from the CURRENT
policy (the one in force): if it would stop writing to, or reading from, a backend that
still holds unrepaired divergences in CURRENT's journal, that is a problem of FILE
(``FILE: routes.R: the new policy would stop writing to backend 'b', ...``) unless FILE
sets ``force: true`` on the route. This is the CI gate for policy changes.

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
from router.flips import flip_risks
from router.journal import journal_for
from router.plan import compile_policy
from router.policy.load import LoadedPolicy, load_policy

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
    parser.add_argument(
        "--against",
        metavar="CURRENT",
        help="also refuse FILEs that would unsafely flip away from the CURRENT policy",
    )


def _unreadable(name: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a policy file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def _flip_problems(name: str, new: LoadedPolicy, current: LoadedPolicy) -> list[dict[str, Any]]:
    journal = journal_for(current.policy.journal.url, current.source)
    risks = flip_risks(
        compile_policy(current.policy), compile_policy(new.policy), journal.pending_by_backend()
    )
    return [
        {
            "source": name,
            "line": None,
            "column": None,
            "path": f"routes.{risk.route}",
            "variable": None,
            "message": (
                f"the new policy would {risk.change} backend {risk.backend!r}, which has "
                f"{risk.pending} unrepaired divergence(s) in {journal.root}; run `router repair` "
                f"first, or set force: true on the route"
            ),
        }
        for risk in risks
        if not risk.forced
    ]


def validate_one(name: str, current: LoadedPolicy | None = None) -> dict[str, Any]:
    """The report row for one file: ``ok``, its ``problems`` or an ``error`` (unreadable)."""
    row: dict[str, Any] = {"file": name, "ok": False, "problems": [], "error": None}
    try:
        loaded = load_policy(name)
        if current is not None:
            flips = _flip_problems(name, loaded, current)
            if flips:
                row["problems"] = flips
                row["lines"] = [f"{name}: {p['path']}: {p['message']}" for p in flips]
                return row
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
    current: LoadedPolicy | None = None
    if args.against is not None:
        try:
            current = load_policy(args.against)
        except OSError as exc:
            print(f"error: --against {args.against}: {_unreadable(args.against, exc)}", file=err)
            return EXIT_USAGE
        except PolicyError as exc:
            print(f"error: --against {args.against} is not a valid policy:", file=err)
            for problem in exc.problems:
                print(f"  {problem}", file=err)
            return EXIT_USAGE
    rows = []
    for name in args.files:
        row = validate_one(os.fspath(name), current)
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
