"""router verify: each kind of difference, exit codes, reports, rehearsal flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.migrate import scope_for, verify
from tests.migrate.conftest import run_cli

PART = 5 * 2**20


def _multipart(s3: Any, bucket: str, key: str, parts: list[bytes]) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=f"prod/{key}")
    done = []
    for number, data in enumerate(parts, start=1):
        part = s3.upload_part(
            Bucket=bucket,
            Key=f"prod/{key}",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
        )
        done.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=f"prod/{key}",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done},
    )


def test_verify_agrees_when_both_sides_hold_the_same_bytes(
    policy_file: Any, put_local: Any, put_s3: Any
) -> None:
    """Identical objects on both sides: exit 0, every key agreeing by ETag vs MD5."""
    for i in range(5):
        data = f"certificate {i}".encode()
        put_local(f"certificates/2025/{i}.pdf", data)
        put_s3(f"certificates/2025/{i}.pdf", data)
    put_local("certificates/empty.pdf", b"")
    put_s3("certificates/empty.pdf", b"")
    code, out, err = run_cli("verify", str(policy_file()), "--route", "certificates")
    assert (code, err) == (0, "")
    assert "result: AGREE" in out
    assert "of which by size only  0" in out


def test_verify_finds_each_kind_of_difference(
    policy_file: Any, put_local: Any, put_s3: Any, tmp_path: Path
) -> None:
    """Missing, extra, size and same-size content differences are all reported, exit 1."""
    put_local("certificates/same.pdf", b"same")
    put_s3("certificates/same.pdf", b"same")
    put_local("certificates/only-local.pdf", b"1")
    put_s3("certificates/only-s3.pdf", b"2")
    put_local("certificates/size.pdf", b"short")
    put_s3("certificates/size.pdf", b"longer!")
    put_local("certificates/Curaçao-東京-Δ.pdf", b"AAAA")
    put_s3("certificates/Curaçao-東京-Δ.pdf", b"BBBB")
    report = tmp_path / "diff.jsonl"
    code, out, _ = run_cli(
        "verify", str(policy_file()), "--route", "certificates", "--report", str(report)
    )
    assert code == 1
    assert "result: DIFFER, 4 difference(s)" in out
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert {(r["kind"], r["key"]) for r in rows} == {
        ("missing", "certificates/only-local.pdf"),
        ("extra", "certificates/only-s3.pdf"),
        ("size", "certificates/size.pdf"),
        ("content", "certificates/Curaçao-東京-Δ.pdf"),
    }
    assert [r["key"] for r in rows] == sorted(r["key"] for r in rows)
    assert all(r["source"] == "local" and r["target"] == "s3" for r in rows)


def test_checksum_finds_what_multipart_etags_cannot(
    policy_file: Any, put_local: Any, s3: Any, bucket: str
) -> None:
    """A multipart S3 object of equal size agrees by size; --checksum hashes and finds it differs."""
    local = b"a" * PART + b"tail"
    put_local("certificates/big.bin", local)
    _multipart(s3, bucket, "certificates/big.bin", [b"a" * PART, b"TAIL"])
    policy = str(policy_file())
    code, out, _ = run_cli("verify", policy, "--route", "certificates")
    assert code == 0
    assert "of which by size only  1" in out
    code, out, _ = run_cli("verify", policy, "--route", "certificates", "--checksum")
    assert code == 1
    assert "content  certificates/big.bin" in out
    code, out, _ = run_cli("verify", policy, "--route", "certificates", "--size-only")
    assert code == 0


def test_limit_and_prefix_narrow_a_rehearsal(policy_file: Any, put_local: Any) -> None:
    """--limit stops after N keys and --prefix (relative to the route) narrows the keys."""
    for year in ("2024", "2025"):
        for i in range(3):
            put_local(f"certificates/{year}/{i}.pdf", b"x")
    policy = str(policy_file())
    code, out, _ = run_cli("verify", policy, "--route", "certificates", "--limit", "2")
    assert code == 1
    assert "missing on s3            2" in out
    assert "stopped after --limit 2 keys" in out
    code, out, _ = run_cli("verify", policy, "--route", "certificates", "--prefix", "2025/")
    assert code == 1
    assert "prefix 'certificates/2025/'" in out
    assert "missing on s3            3" in out


def test_default_route_leaves_nested_routes_out(
    policy_file: Any, put_local: Any, cert_policy: Any
) -> None:
    """Verifying the catch-all route does not count keys that belong to certificates/."""
    put_local("certificates/a.pdf", b"x")
    put_local("avatars/a.png", b"y")
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        scope = scope_for(router, "default", source="local", target="s3")
        assert scope.exclude == ("certificates/",)
        report = verify(scope)
    assert [d.key for d in report.differences] == ["avatars/a.png"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--route", "nope"],
            "unknown route 'nope'; the policy's routes are: certificates, default",
        ),
        ([], "--route is required; the policy's routes are: certificates, default"),
        (["--route", "certificates", "--from", "gcs"], "unknown backend 'gcs'"),
        (["--route", "default"], "name both sides with --from and --to"),
        (["--route", "certificates", "--limit", "0"], "must be 1 or more"),
    ],
)
def test_usage_mistakes_exit_2_without_traceback(
    policy_file: Any, argv: list[str], message: str
) -> None:
    """Unknown routes/backends, a missing --route or one-sided phases are usage errors."""
    code, out, err = run_cli("verify", str(policy_file()), *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err


def test_missing_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    """A policy path that does not exist: exit 2 with the file named."""
    code, _, err = run_cli("verify", str(tmp_path / "nope.yaml"), "--route", "x")
    assert code == 2
    assert "nope.yaml: no such file" in err
