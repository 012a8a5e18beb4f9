"""router backfill: copies verified and resumable, dry runs, directions, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from router import Router
from router.migrate import backfill, parse_rate, read_state, scope_for
from router.testing import Fault, inject_faults, s3_error
from tests.migrate.conftest import run_cli, table_value

BIG = 9 * 2**20 + 123  # over one 8 MiB part: a multipart upload


def test_backfill_copies_verified_then_a_second_run_copies_nothing(
    policy_file: Any, put_local: Any, s3_keys: Any, local_root: Path
) -> None:
    """Everything the shadow lacks is copied byte for byte (big ones multipart); rerun copies 0."""
    expected = {f"certificates/{i:03d}.pdf": os.urandom(4096) for i in range(40)}
    expected["certificates/2025/Curaçao-東京-Δ.pdf"] = b"unicode"
    expected["certificates/empty.pdf"] = b""
    expected["certificates/big.bin"] = os.urandom(BIG)
    for key, data in expected.items():
        put_local(key, data)
    put_local("avatars/not-this-route.png", b"x")
    policy = str(policy_file())
    code, out, err = run_cli("backfill", policy, "--route", "certificates", "--concurrency", "4")
    assert (code, err) == (0, ""), out
    assert table_value(out, "copied") == len(expected)
    assert s3_keys() == expected
    assert run_cli("verify", policy, "--route", "certificates", "--checksum")[0] == 0
    code, out, _ = run_cli("backfill", policy, "--route", "certificates", "--checksum")
    assert code == 0
    assert table_value(out, "copied") == 0
    assert table_value(out, "already equal") == len(expected)


def test_dry_run_touches_nothing_and_reports_what_it_would_copy(
    policy_file: Any, put_local: Any, put_s3: Any, s3_keys: Any, tmp_path: Path
) -> None:
    """--dry-run writes the rehearsal report (rows and totals) and no object or checkpoint."""
    for i in range(5):
        put_local(f"certificates/{i}.pdf", b"x" * (i + 1))
    put_s3("certificates/0.pdf", b"x")  # equal: not in the plan
    put_s3("certificates/1.pdf", b"yy")  # same size, other bytes: in the plan
    before = s3_keys()
    report = tmp_path / "plan.jsonl"
    code, out, _ = run_cli(
        "backfill",
        str(policy_file()),
        "--route",
        "certificates",
        "--dry-run",
        "--limit",
        "100",
        "--report",
        str(report),
    )
    assert code == 0
    assert "dry run: nothing written" in out
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["key"], r["reason"], r["size"]) for r in rows[:-1]] == [
        ("certificates/1.pdf", "content", 2),
        ("certificates/2.pdf", "missing", 3),
        ("certificates/3.pdf", "missing", 4),
        ("certificates/4.pdf", "missing", 5),
    ]
    assert rows[-1]["totals"]["objects"] == 4
    assert rows[-1]["totals"]["bytes"] == 14
    assert s3_keys() == before
    assert not (tmp_path / "journal" / ".checkpoints").exists()


def test_s3_to_s3_keeps_content_type_and_metadata(
    moto_server: str, bucket: str, s3: Any, tmp_path: Path, put_s3: Any
) -> None:
    """Between two S3 backends the content type and user metadata come along."""
    s3_opts = {"endpoint_url": moto_server}
    policy = tmp_path / "s3s3.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "backends": {
                    "old": {"url": f"s3://{bucket}/prod", "options": s3_opts},
                    "new": {"url": f"s3://{bucket}/next", "options": s3_opts},
                },
                "journal": {"url": f"file://{tmp_path / 'journal'}"},
                "routes": {
                    "all": {"prefix": "", "primary": "old", "shadow": "new", "mode": "dual-write"}
                },
            }
        )
    )
    put_s3("a.pdf", b"%PDF", ContentType="application/pdf", Metadata={"owner": "ada"})
    code, out, _ = run_cli("backfill", str(policy), "--route", "all")
    assert code == 0, out
    head = s3.head_object(Bucket=bucket, Key="next/a.pdf")
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"] == {"owner": "ada"}
    assert s3.get_object(Bucket=bucket, Key="next/a.pdf")["Body"].read() == b"%PDF"


def test_read_primary_fills_the_primary_without_overwriting_it(
    policy_file: Any, put_local: Any, put_s3: Any, s3_keys: Any, local_root: Path
) -> None:
    """In read-primary (s3 primary, local legacy) backfill copies local → s3 only what s3 lacks."""
    put_local("certificates/old.pdf", b"legacy")
    put_local("certificates/both.pdf", b"legacy")
    put_s3("certificates/both.pdf", b"newer!")
    put_s3("certificates/new.pdf", b"new")
    code, out, _ = run_cli("backfill", str(policy_file("s3-read")), "--route", "certificates")
    assert code == 0
    assert "local -> s3" in out
    assert table_value(out, "differing, left alone") == 1
    assert s3_keys() == {
        "certificates/old.pdf": b"legacy",
        "certificates/both.pdf": b"newer!",
        "certificates/new.pdf": b"new",
    }
    assert (local_root / "certificates/both.pdf").read_bytes() == b"legacy"


def test_failed_copies_exit_1_and_are_retried_by_the_next_run(
    cert_policy: Any, policy_file: Any, put_local: Any, s3_keys: Any, tmp_path: Path
) -> None:
    """A copy that fails is counted and reported; the next run copies it and exits 0."""
    for i in range(4):
        put_local(f"certificates/{i}.pdf", b"data")
    checkpoint = tmp_path / "ck.jsonl"
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        scope = scope_for(router, "certificates", purpose="backfill")
        fault = Fault("write", lambda: s3_error("SlowDown", 503), match="2.pdf")
        with inject_faults(router, "s3", fault):
            report = backfill(scope, checkpoint=checkpoint)
    assert (report.copied, report.failed) == (3, 1)
    assert report.failures[0].key == "certificates/2.pdf"
    assert report.failures[0].reason.startswith("transient")
    state = read_state(checkpoint)
    assert state is not None
    assert state.complete
    code, out, _ = run_cli(
        "backfill", str(policy_file()), "--route", "certificates", "--checkpoint", str(checkpoint)
    )
    assert code == 0
    assert table_value(out, "copied") == 1
    assert len(s3_keys()) == 4


def test_a_limited_run_is_continued_from_its_checkpoint(
    cert_policy: Any, put_local: Any, s3_keys: Any, tmp_path: Path
) -> None:
    """A run stopped by --limit records its watermark; the next run lists only after it."""
    for i in range(10):
        put_local(f"certificates/{i}.pdf", b"data")
    checkpoint = tmp_path / "ck.jsonl"
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        scope = scope_for(router, "certificates", purpose="backfill")
        first = backfill(scope, checkpoint=checkpoint, limit=4)
        assert (first.copied, first.complete) == (4, False)
        state = read_state(checkpoint)
        assert state is not None
        assert state.position == "certificates/3.pdf"
        second = backfill(scope, checkpoint=checkpoint)
    assert second.resumed_from == "certificates/3.pdf"
    assert (second.examined, second.copied, second.equal) == (6, 6, 0)
    assert len(s3_keys()) == 10


def test_bad_flags_are_usage_errors(policy_file: Any, tmp_path: Path) -> None:
    """A malformed --bwlimit or a checkpoint of another backfill: exit 2, no traceback."""
    policy = str(policy_file())
    code, _, err = run_cli("backfill", policy, "--route", "certificates", "--bwlimit", "fast")
    assert code == 2
    assert "--bwlimit" in err
    checkpoint = tmp_path / "other.jsonl"
    checkpoint.write_text(
        json.dumps(
            {
                "checkpoint": 1,
                "kind": "backfill",
                "route": "certificates",
                "source": "s3",
                "target": "local",
                "prefix": "certificates/",
                "range": [None, None],
            }
        )
        + "\n"
    )
    code, _, err = run_cli(
        "backfill", policy, "--route", "certificates", "--checkpoint", str(checkpoint)
    )
    assert code == 2
    assert "belongs to another backfill" in err
    assert "Traceback" not in err


def test_parse_rate_understands_binary_units() -> None:
    """--bwlimit values: plain bytes, K/M/G (binary), optional B/iB and /s."""
    assert parse_rate("2000") == 2000
    assert parse_rate("10M") == 10 * 2**20
    assert parse_rate("512KiB/s") == 512 * 1024
    assert parse_rate("1.5g") == 1.5 * 2**30
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("10 parsecs")


def test_killed_backfill_resumes_without_copying_twice(
    policy_file: Any, put_local: Any, s3: Any, bucket: str, s3_keys: Any, tmp_path: Path
) -> None:
    """SIGKILLed mid-run (real `router` script), restarted: verify clean, no key PUT twice
    beyond those in flight (counted as S3 object versions)."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    total, concurrency = 120, 4
    for i in range(total):
        put_local(f"certificates/{i:04d}.pdf", os.urandom(4096))
    policy = str(policy_file())
    checkpoint = tmp_path / "ck.jsonl"
    script = Path(sys.executable).parent / "router"
    proc = subprocess.Popen(
        [
            str(script),
            "backfill",
            policy,
            "--route",
            "certificates",
            "--checkpoint",
            str(checkpoint),
            "--concurrency",
            str(concurrency),
            "--bwlimit",
            "64K",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a measurement
        state = None
        while state is None or state.position is None or state.totals["copied"] < 25:
            assert proc.poll() is None, "the backfill finished before it could be killed"
            assert time.monotonic() < deadline, "the checkpoint never showed progress"
            time.sleep(0.02)
            state = read_state(checkpoint) if checkpoint.exists() else None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = read_state(checkpoint)
    assert state is not None
    assert not state.complete
    code, out, _ = run_cli(
        "backfill", policy, "--route", "certificates", "--checkpoint", str(checkpoint)
    )
    assert code == 0, out
    assert "resumed after" in out
    assert table_value(out, "examined") < total  # the done part was not listed again
    assert run_cli("verify", policy, "--route", "certificates", "--checksum")[0] == 0
    versions: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="prod/"):
        for version in page.get("Versions", []):
            versions[version["Key"]] = versions.get(version["Key"], 0) + 1
    assert len(versions) == total
    twice = [key for key, count in versions.items() if count > 1]
    assert len(twice) <= concurrency, twice
    assert max(versions.values()) <= 2


def test_s3_to_local_streams_big_objects_in_ranges(
    policy_file: Any, put_s3: Any, local_root: Path
) -> None:
    """--from s3 --to local copies objects byte for byte, big ones read in 8 MiB ranges."""
    big = os.urandom(BIG)
    put_s3("certificates/big.bin", big)
    put_s3("certificates/small.pdf", b"small")
    code, out, _ = run_cli(
        "backfill",
        str(policy_file()),
        "--route",
        "certificates",
        "--from",
        "s3",
        "--to",
        "local",
        "--checksum",
    )
    assert code == 0, out
    assert table_value(out, "copied") == 2
    assert (local_root / "certificates/big.bin").read_bytes() == big
    assert (local_root / "certificates/small.pdf").read_bytes() == b"small"
    assert not [p for p in local_root.rglob("*") if ".router-tmp-" in p.name]
