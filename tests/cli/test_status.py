"""`router status`: one row per route, matching the policy, its overrides and the journal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from router import Router
from router.cli.main import main
from router.testing import Fault, inject_faults

POLICY = Path(__file__).resolve().parents[2] / "policies" / "certificates.yaml"


def run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI and capture its output."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_status_matches_policy() -> None:
    """The JSON rows carry each route's phase, rollout, sides and the file line they came from."""
    code, out, _ = run("status", str(POLICY), "--format", "json")
    rows = {r["route"]: r for r in json.loads(out)["routes"]}
    assert code == 0
    cert = rows["certificates"]
    assert (cert["phase"], cert["rollout_to"], cert["rollout_percent"]) == (
        "dual-write",
        "s3-primary",
        10,
    )
    assert (cert["primary"], cert["shadow"], cert["mode"]) == ("local", "s3", "dual-write")
    assert cert["phase_from"].endswith("certificates.yaml:13")
    assert rows["default"]["mode"] == "primary-only"


def test_status_shows_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides show their values and name the variable they came from."""
    monkeypatch.setenv("ROUTER_ROUTES__CERTIFICATES__PHASE", "s3-read")
    monkeypatch.setenv("ROUTER_ROUTES__CERTIFICATES__ROLLOUT__PERCENT", "25")
    code, out, _ = run("status", str(POLICY), "--format", "json")
    cert = next(r for r in json.loads(out)["routes"] if r["route"] == "certificates")
    assert code == 0
    assert (cert["phase"], cert["mode"], cert["rollout_percent"]) == ("s3-read", "read-primary", 25)
    assert cert["phase_from"] == "env ROUTER_ROUTES__CERTIFICATES__PHASE"
    assert cert["rollout_from"] == "env ROUTER_ROUTES__CERTIFICATES__ROLLOUT__PERCENT"


def test_status_counts_journal_depth(tmp_path: Path) -> None:
    """Journal depth per route counts the divergences a Router recorded."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\n"
        "backends:\n"
        f"  a: {{url: 'file://{tmp_path}/a'}}\n"
        f"  b: {{url: 'file://{tmp_path}/b'}}\n"
        "journal: {url: 'file://journal'}\n"
        "routes:\n"
        "  media: {prefix: media/, primary: a, shadow: b, mode: dual-write}\n",
        encoding="utf-8",
    )
    with Router.from_file(policy) as fs, inject_faults(fs, "b", Fault("write", times=2)):
        fs.pipe_file("media/1", b"1")
        fs.pipe_file("media/2", b"2")
    code, out, _ = run("status", str(policy), "--format", "json")
    assert code == 0
    assert json.loads(out)["routes"][0]["journal_depth"] == 2
    code, text, _ = run("status", str(policy))
    assert "media" in text
    assert "dual-write" in text


def test_status_of_invalid_policy_exits_1(tmp_path: Path) -> None:
    """An invalid policy prints its problems and exits 1, without a traceback."""
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 2\n", encoding="utf-8")
    code, _, err = run("status", str(policy))
    assert code == 1
    assert "bad.yaml:1:" in err
    assert "Traceback" not in err


def test_validate_against_gates_unsafe_flip(tmp_path: Path) -> None:
    """validate --against refuses a flip that drops a backend with divergences, and allows it forced."""
    current = tmp_path / "current.yaml"
    body = (
        "version: 1\n"
        "backends:\n"
        f"  a: {{url: 'file://{tmp_path}/a'}}\n"
        f"  b: {{url: 'file://{tmp_path}/b'}}\n"
        "journal: {url: 'file://journal'}\n"
        "routes:\n"
        "  media: {prefix: media/, primary: a, shadow: b, mode: dual-write%s}\n"
    )
    current.write_text(body % "", encoding="utf-8")
    with Router.from_file(current) as fs, inject_faults(fs, "b", Fault("write", times=1)):
        fs.pipe_file("media/1", b"1")
    nxt = tmp_path / "next.yaml"
    nxt.write_text(body.replace(", shadow: b, mode: dual-write%s", "%s") % "", encoding="utf-8")
    code, out, _ = run("validate", "--against", str(current), str(nxt))
    assert code == 1
    assert "would stop writing to backend 'b', which has 1 unrepaired divergence(s)" in out
    nxt.write_text(
        body.replace(", shadow: b, mode: dual-write%s", "%s") % ", force: true", encoding="utf-8"
    )
    code, out, _ = run("validate", "--against", str(current), str(nxt))
    assert (code, out.strip()) == (0, f"{nxt}: ok")
