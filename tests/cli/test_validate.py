"""`router validate`: output, exit codes and JSON, in-process and through the console script."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import cmd_validate
from router.cli.main import main

REPO = Path(__file__).resolve().parents[2]
POLICIES = sorted((REPO / "policies").glob("*.yaml"))
BROKEN = sorted((REPO / "tests" / "policy" / "broken").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run without ROUTER_ overrides or MEDIA_ROOT from the calling shell."""
    for name in list(os.environ):
        if name.upper().startswith("ROUTER_") or name == "MEDIA_ROOT":
            monkeypatch.delenv(name, raising=False)


def run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def broken(name: str, tmp_path: Path, text: str) -> Path:
    """Write a policy file into tmp_path."""
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_policies_are_ok() -> None:
    """`router validate policies/*.yaml` prints `FILE: ok` for each and exits 0."""
    code, out, err = run("validate", *map(str, POLICIES))
    assert code == 0
    assert out.splitlines() == [f"{path}: ok" for path in POLICIES]
    assert err == ""


def test_invalid_file_prints_located_problem_and_exits_1(tmp_path: Path) -> None:
    """A bad file prints one `file:line:col: path: message` line per problem; exit 1."""
    path = broken("p.yaml", tmp_path, "version: 2\nbackends: {}\nroutes: {}\n")
    code, out, _ = run("validate", str(path))
    assert code == 1
    assert out == f"{path}:1:10: version: unsupported version 2; only version 1 exists\n"


def test_good_and_bad_files_are_all_reported_in_order(tmp_path: Path) -> None:
    """Each file gets its own lines, in argument order; one bad file makes exit 1."""
    bad = broken("bad.yaml", tmp_path, "- 1\n")
    code, out, _ = run("validate", str(POLICIES[0]), str(bad), str(POLICIES[1]))
    assert code == 1
    assert out.splitlines() == [
        f"{POLICIES[0]}: ok",
        f"{bad}:1:1: a policy is a mapping with version, backends and routes, not a list",
        f"{POLICIES[1]}: ok",
    ]


def test_missing_file_is_a_usage_error_after_checking_the_others(tmp_path: Path) -> None:
    """A file that does not exist: message on stderr, the others still checked, exit 2."""
    missing = tmp_path / "nope.yaml"
    code, out, err = run("validate", str(missing), str(POLICIES[0]))
    assert code == 2
    assert err == f"error: {missing}: no such file\n"
    assert out == f"{POLICIES[0]}: ok\n"


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    """A directory given as FILE is a usage error (exit 2)."""
    code, _, err = run("validate", str(tmp_path))
    assert code == 2
    assert "is a directory" in err


def test_usage_error_wins_over_invalid_file(tmp_path: Path) -> None:
    """With both an unreadable and an invalid file, the exit code is 2."""
    bad = broken("bad.yaml", tmp_path, "- 1\n")
    code, _, _ = run("validate", str(bad), str(tmp_path / "nope.yaml"))
    assert code == 2


def test_no_files_is_a_usage_error() -> None:
    """`router validate` without FILE exits 2 with a message."""
    code, _, err = run("validate")
    assert code == 2
    assert "FILE" in err


def test_bad_format_is_a_usage_error() -> None:
    """An unknown --format exits 2."""
    code, _, _ = run("validate", "--format", "xml", str(POLICIES[0]))
    assert code == 2


def test_json_format_reports_each_file(tmp_path: Path) -> None:
    """`--format json` prints one object with each file's problems and locations."""
    bad = broken("bad.yaml", tmp_path, "version: 1\nbackends: {}\nroutes: {}\nextra: 1\n")
    missing = tmp_path / "nope.yaml"
    code, out, err = run("validate", "--format", "json", str(POLICIES[0]), str(bad), str(missing))
    assert code == 2
    assert err == ""
    report = json.loads(out)
    assert report["ok"] is False
    good, invalid, unreadable = report["files"]
    assert good == {"file": str(POLICIES[0]), "ok": True, "problems": [], "error": None}
    assert invalid["ok"] is False
    assert invalid["error"] is None
    problems = {(p["line"], p["column"], p["path"]) for p in invalid["problems"]}
    assert (4, 1, "extra") in problems
    assert unreadable == {
        "file": str(missing),
        "ok": False,
        "problems": [],
        "error": "no such file",
    }


def test_json_format_all_good_exits_0() -> None:
    """`--format json` on valid files exits 0 with ok: true."""
    code, out, _ = run("validate", "--format", "json", *map(str, POLICIES))
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_environment_override_problem_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate applies ROUTER_ overrides; a bad one is printed with `$VARIABLE`."""
    monkeypatch.setenv("ROUTER_ROUTES__CERTIFICATES__PHASE", "s3-primari")
    certificates = REPO / "policies" / "certificates.yaml"
    code, out, _ = run("validate", str(certificates))
    assert code == 1
    assert out.startswith(
        f"{certificates}: $ROUTER_ROUTES__CERTIFICATES__PHASE: routes.certificates.phase: "
        "unknown phase 's3-primari'; did you mean 's3-primary'?"
    )


def test_unexpected_error_is_a_problem_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An unexpected exception while loading becomes a problem line and exit 1."""

    def explode(path: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cmd_validate, "load_policy", explode)
    path = broken("p.yaml", tmp_path, "version: 1\n")
    code, out, err = run("validate", str(path))
    assert code == 1
    assert out == f"{path}: internal error while loading (RuntimeError: boom); please report it\n"
    assert "Traceback" not in out + err


def router_script() -> str:
    """The installed `router` console script next to this Python, or on PATH."""
    beside = Path(sys.executable).with_name("router")
    found = str(beside) if beside.exists() else shutil.which("router")
    assert found, "the router console script is not installed"
    return found


def test_console_script_validates_policies_and_the_broken_corpus() -> None:
    """The real `router` script: policies/ exit 0; the broken corpus exit 1, no traceback."""
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("ROUTER_")}
    environ.pop("MEDIA_ROOT", None)
    good = subprocess.run(
        [router_script(), "validate", *map(str, POLICIES)],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=120,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines() == [f"{path}: ok" for path in POLICIES]
    bad = subprocess.run(
        [router_script(), "validate", *map(str, BROKEN)],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    for path in BROKEN:
        expected = path.read_bytes().split(b"\n", 1)[0].decode().removeprefix("# expect: ")
        assert f"{path}:{expected}" in bad.stdout.splitlines()
