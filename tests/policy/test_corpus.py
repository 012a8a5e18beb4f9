"""The broken-policy corpus: each file's first line states the exact line `router validate` prints.

Format of that first line: ``# expect: LINE:COL: PATH: MESSAGE`` (or ``LINE:COL: MESSAGE``
when the problem has no path); the output line is the file name, ``:``, then that text.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from router.cli.main import main

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(BROKEN.glob("*.yaml"))


def expectation(path: Path) -> str:
    """The text after ``# expect: `` on the file's first line."""
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# expect: "), f"{path.name} has no '# expect: ' first line"
    return first.removeprefix("# expect: ")


def test_corpus_has_at_least_25_distinct_cases() -> None:
    """The corpus holds at least 25 files, each expecting a different message."""
    messages = {expectation(path).split(": ", 1)[1] for path in CASES}
    assert len(CASES) >= 25
    assert len(messages) == len(CASES)


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_broken_policy_prints_its_one_expected_line(path: Path) -> None:
    """`router validate` exits 1 and prints exactly the expected file:line:col line."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", str(path)], out=out, err=err)
    assert code == 1
    assert out.getvalue() == f"{path}:{expectation(path)}\n"
    assert err.getvalue() == ""
    assert "Traceback" not in out.getvalue()


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_broken_policy_json_has_the_same_location(path: Path) -> None:
    """`--format json` gives the same line, column and message as the text output."""
    out = io.StringIO()
    code = main(["validate", "--format", "json", str(path)], out=out, err=io.StringIO())
    assert code == 1
    report = json.loads(out.getvalue())
    (problem,) = report["files"][0]["problems"]
    line, column, rest = expectation(path).split(":", 2)
    assert (problem["line"], problem["column"]) == (int(line), int(column))
    assert rest.strip().endswith(problem["message"])
