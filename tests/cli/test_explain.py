"""`router explain`: route, bucket, phase and legs per op, with secrets redacted."""

from __future__ import annotations

import io
import json
from pathlib import Path

from router.cli.main import main

POLICY = Path(__file__).resolve().parents[2] / "policies" / "certificates.yaml"


def run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI and capture its output."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_explain_shows_legs_in_live_and_rollout_phase() -> None:
    """For a key, explain prints its route, bucket, the phase it lands in and both phases' legs."""
    code, out, _ = run("explain", str(POLICY), "certificates/2025/Curaçao-東京-Δ.pdf")
    assert code == 0
    assert "route:  'certificates'" in out
    assert "bucket: 4587" in out
    assert "phase:  'dual-write'" in out
    assert "local (primary) + s3 (shadow) concurrently" in out
    assert "rollout: phase 's3-primary'" in out
    assert "s3 (primary) → local (shadow) on not_found, transient" in out


def test_explain_key_in_rollout_phase() -> None:
    """A key whose bucket is under 10% lands in the rollout target phase."""
    from router.plan import bucket

    key = next(
        f"certificates/{i}.pdf"
        for i in range(1000)
        if bucket("certificates", f"certificates/{i}.pdf") < 1000
    )
    code, out, _ = run("explain", str(POLICY), key, "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["phase"]["name"] == "s3-primary"
    assert report["bucket"] < 1000


def test_explain_redacts_secrets(tmp_path: Path) -> None:
    """Backend options that hold secrets are shown as ***."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nbackends:\n"
        "  s3: {url: 's3://b/p', options: {secret: CANARY-SECRET, key: CANARY-KEY}}\n"
        "routes:\n  default: {prefix: '', primary: s3}\n",
        encoding="utf-8",
    )
    code, out, _ = run("explain", str(policy), "a.txt")
    assert code == 0
    assert "CANARY" not in out
    assert "***" in out


def test_explain_refuses_escaping_key() -> None:
    """A key with `..` is refused with a message and exit 1, no traceback."""
    code, _, err = run("explain", str(POLICY), "certificates/../../etc/passwd")
    assert code == 1
    assert ".. is not allowed" in err
    assert "Traceback" not in err


def test_explain_missing_policy_is_usage_error() -> None:
    """A policy path that does not exist is a usage error (exit 2)."""
    code, _, err = run("explain", "no/such/policy.yaml")
    assert code == 2
    assert "does not exist" in err
