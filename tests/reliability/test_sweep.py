"""``router sweep`` and :func:`router.sweep.sweep`: crash leftovers older than a threshold
are removed (local temp files, journal temp files) or aborted (S3 multipart uploads),
under each backend's root only; everything else is left alone."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from router import Router
from router.cli.main import main as cli
from router.sweep import is_temp_name, sweep

OLD = time.time() - 7200  # two hours ago


def _policy(tmp_path: Path, s3: dict[str, Any] | None = None) -> dict[str, Any]:
    backends: dict[str, Any] = {
        "local": {"url": f"file://{tmp_path / 'media'}"},
        "mem": {"url": f"memory://{tmp_path / 'mem'}"},
    }
    if s3 is not None:
        backends["s3"] = s3
    return {
        "version": 1,
        "backends": backends,
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {"default": {"prefix": "", "primary": "local"}},
    }


def _touch(path: Path, *, old: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"partial")
    if old:
        os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def debris(tmp_path: Path) -> dict[str, Path]:
    """A local root and journal holding old and young leftovers, and look-alikes."""
    media, journal = tmp_path / "media", tmp_path / "journal"
    outside = tmp_path / "outside"
    found = {
        "old": _touch(media / "certificates" / ".a.pdf.router-tmp-0123456789ab", old=True),
        "old-top": _touch(media / ".b.router-tmp-abcdefabcdef", old=True),
        "young": _touch(media / "certificates" / ".c.pdf.router-tmp-00ff00ff00ff", old=False),
        "published": _touch(media / "certificates" / "a.pdf", old=True),
        "look-alike": _touch(media / ".d.router-tmp-not-hex-at-all", old=True),
        "user-file": _touch(media / "notes.router-tmp-0123456789ab", old=True),  # no leading dot
        "outside": _touch(outside / ".e.router-tmp-0123456789ab", old=True),
        "journal-temp": _touch(journal / "default" / ".0a1b-1-ff.json.0123abcd.tmp", old=True),
        "journal-entry": _touch(journal / "default" / "0a1b-1-ff.json", old=True),
    }
    os.symlink(outside, media / "link")  # a symlinked directory is never followed
    return found


def test_temp_names() -> None:
    """Only the router's own temp names count: hidden, marker, 12 hex digits."""
    assert is_temp_name(".a.pdf.router-tmp-0123456789ab")
    assert is_temp_name(".Δ 東.router-tmp-abcdefabcdef")
    assert not is_temp_name("a.pdf.router-tmp-0123456789ab")
    assert not is_temp_name(".a.router-tmp-0123456789abc")
    assert not is_temp_name(".a.router-tmp-0123456789aB")
    assert not is_temp_name(".a.pdf")


def test_sweep_removes_only_old_temp_files_inside_the_roots(
    debris: dict[str, Path], tmp_path: Path, routers: Callable[..., Router]
) -> None:
    """Old temp files (backend and journal) go; young ones, published files, look-alikes and anything behind a symlink stay."""
    fs = routers(_policy(tmp_path))
    report = sweep(fs.backends, journal=fs.journal)
    removed = {item.path for item in report.items if item.action == "removed"}
    assert removed == {str(debris[k]) for k in ("old", "old-top", "journal-temp")}
    assert report.young == 1
    assert report.ok
    assert report.skipped_backends == ["mem"]
    for name, path in debris.items():
        assert path.exists() == (name not in ("old", "old-top", "journal-temp")), name


def test_dry_run_changes_nothing(
    debris: dict[str, Path], tmp_path: Path, routers: Callable[..., Router]
) -> None:
    """--dry-run reports what would go and removes nothing."""
    fs = routers(_policy(tmp_path))
    report = sweep(fs.backends, journal=fs.journal, dry_run=True, older_than=0)
    assert report.removed == 4
    assert {i.action for i in report.items} == {"would remove"}
    assert all(path.exists() for path in debris.values())


def test_threshold_zero_takes_young_leftovers_too(
    debris: dict[str, Path], tmp_path: Path, routers: Callable[..., Router]
) -> None:
    """older_than=0 (after a crash, with the writer known dead) removes every temp file."""
    fs = routers(_policy(tmp_path))
    assert sweep(fs.backends, journal=fs.journal, older_than=0).removed == 4
    assert not debris["young"].exists()
    with pytest.raises(ValueError, match="older_than"):
        sweep(fs.backends, older_than=-1)


@pytest.mark.s3
def test_sweep_aborts_multipart_uploads_under_the_root_only(
    tmp_path: Path,
    s3_backend: dict[str, Any],
    s3_client: Any,
    bucket: str,
    routers: Callable[..., Router],
) -> None:
    """Uploads under the backend's prefix are aborted; others in the same bucket are not."""
    mine = s3_client.create_multipart_upload(Bucket=bucket, Key="prod/certificates/a.pdf")
    s3_client.create_multipart_upload(Bucket=bucket, Key="production/other.pdf")
    s3_client.create_multipart_upload(Bucket=bucket, Key="elsewhere/b.pdf")
    (tmp_path / "media").mkdir()
    fs = routers(_policy(tmp_path, s3_backend))

    def keys() -> set[str]:
        return {
            u["Key"] for u in s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        }

    # moto reports every upload as initiated in 2010: a 100-year threshold keeps it
    kept = sweep(fs.backends, older_than=100 * 365 * 86400, only=["s3"])
    assert kept.aborted == 0
    assert kept.young == 1
    dry = sweep(fs.backends, dry_run=True, only=["s3"])
    assert [(i.action, i.upload_id) for i in dry.items] == [("would abort", mine["UploadId"])]
    assert len(keys()) == 3
    report = sweep(fs.backends, only=["s3"])
    assert [(i.kind, i.action) for i in report.items] == [("multipart-upload", "aborted")]
    assert keys() == {"production/other.pdf", "elsewhere/b.pdf"}


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli(list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def test_cli_sweep(debris: dict[str, Path], tmp_path: Path) -> None:
    """`router sweep`: dry run, real run with a JSON-lines report, exit 0; usage errors exit 2."""
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_policy(tmp_path)))
    code, text = _cli("sweep", str(path), "--dry-run")
    assert (code, "would remove" in text, debris["old"].exists()) == (0, True, True), text
    report = tmp_path / "sweep.jsonl"
    code, text = _cli("sweep", str(path), "--older-than", "30m", "--report", str(report))
    assert (code, "result: OK" in text) == (0, True), text
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert {(r["kind"], r["action"]) for r in rows} == {
        ("temp-file", "removed"),
        ("journal-temp", "removed"),
    }
    assert not debris["old"].exists()
    assert debris["young"].exists()
    code, text = _cli("sweep", str(path), "--backend", "local", "--older-than", "0s")
    assert (code, debris["young"].exists()) == (0, False), text
    assert _cli("sweep", str(path), "--backend", "nope")[0] == 2
    assert _cli("sweep", str(path), "--older-than", "soon")[0] == 2
    assert _cli("sweep", str(tmp_path / "missing.yaml"))[0] == 2


@pytest.mark.s3
def test_cli_sweep_reports_a_failure_with_exit_1(tmp_path: Path, moto_server: str) -> None:
    """A backend the sweep cannot list (a bucket that does not exist) is reported, exit 1."""
    (tmp_path / "media").mkdir()
    s3 = {"url": "s3://no-such-bucket-for-sweep/prod", "options": {"endpoint_url": moto_server}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_policy(tmp_path, s3)))
    code, text = _cli("sweep", str(path), "--backend", "s3")
    assert (code, "failed" in text) == (1, True), text
