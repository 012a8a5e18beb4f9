"""The seed scenarios A-H of PRODUCT.md, on S3 (moto) and a temp dir, certificates policy."""

from __future__ import annotations

import io
import os
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
import yaml

from router import Router
from router.journal import Entry
from router.testing import Fault, capture_metrics, inject_faults, s3_error

KEY = "certificates/2025/a.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"

Objects = Callable[[], dict[str, bytes]]


def _summary(entries: list[Entry]) -> list[tuple[str, str, str, str, str, str]]:
    return [(e.route, e.key, e.op, e.truth, e.stale, e.error_class) for e in entries]


def _put_local(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_seed_a_write_retries_transient_then_succeeds(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """A: S3 answers SlowDown twice; the router retries and the third attempt lands."""
    fs = make_router("s3-primary")
    slow_down = Fault("write", error=lambda: s3_error("SlowDown", 503), times=2)
    with capture_metrics() as seen, inject_faults(fs, "s3", slow_down):
        fs.pipe_file(KEY, PDF)
    assert slow_down.fired == 2
    assert seen.counts["cert.s3.write.retry"] == 2
    assert seen.counts["cert.s3.write.success"] == 1
    assert seen.counts["cert.s3.write.fail"] == 0
    assert seen.counts["cert.local.write.success"] == 1
    assert s3_objects() == {KEY: PDF}
    assert local_objects() == {KEY: PDF}
    assert list(fs.journal.entries()) == []


def test_seed_b_read_missing_on_s3_falls_back_to_local(
    make_router: Callable[..., Router], local_root: Path, s3_objects: Objects
) -> None:
    """B: S3 answers a real NoSuchKey; the read falls back to the local copy."""
    fs = make_router("s3-read")
    _put_local(local_root, KEY, PDF)
    with capture_metrics() as seen:
        assert fs.cat_file(KEY) == PDF
        with fs.open(KEY, "rb") as f:
            assert f.read() == PDF
    assert s3_objects() == {}
    assert seen.counts["cert.s3.read.fallback"] == 2
    assert seen.counts["cert.local.read.success"] == 2
    fallbacks = [e for e in seen.named("router.op") if e["outcome"] == "fallback"]
    assert {e["error_class"] for e in fallbacks} == {"not_found"}
    assert list(fs.journal.entries()) == []


@pytest.mark.parametrize("phase", ["dual-write", "s3-primary"])
def test_seed_c_delete_5xx_on_s3_still_deletes_local_and_journals(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects, phase: str
) -> None:
    """C: S3 delete gets a 500; local is deleted, journaled, and S3's copy is never served."""
    fs = make_router(phase)
    fs.pipe_file(KEY, PDF)
    error = Fault("delete", error=lambda: s3_error("InternalError", 500))
    with inject_faults(fs, "s3", error):
        fs.rm_file(KEY)
    assert local_objects() == {}
    assert s3_objects() == {KEY: PDF}
    entries = list(fs.journal.entries())
    assert _summary(entries) == [("certificates", KEY, "delete", "local", "s3", "transient")]
    assert entries[0].phase == phase
    with pytest.raises(FileNotFoundError):
        fs.cat_file(KEY)
    assert not fs.exists(KEY)


def test_seed_d_url_fails_on_s3_returns_local_url(
    make_router: Callable[..., Router], local_root: Path
) -> None:
    """D: S3 cannot sign a URL; the router returns the local file's URL, which works."""
    fs = make_router("s3-primary")
    fs.pipe_file(KEY, PDF)
    assert urlsplit(fs.url(KEY)).scheme == "http"  # S3 signs when it can
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("url", error=PermissionError)):
        url = fs.url(KEY)
    assert url == (local_root / KEY).as_uri()
    assert Path(url2pathname(urlsplit(url).path)).read_bytes() == PDF
    assert seen.counts["cert.s3.url.fallback"] == 1
    assert seen.counts["cert.local.url.success"] == 1


def test_seed_e_s3_write_fails_local_succeeds_is_degraded_and_journaled(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """E: S3 write fails, local succeeds: degraded ack, counted, journaled, read from local."""
    fs = make_router("s3-primary")
    unavailable = Fault("write", error=lambda: s3_error("ServiceUnavailable", 503))
    with capture_metrics() as seen, inject_faults(fs, "s3", unavailable):
        fs.pipe_file(KEY, PDF)  # acknowledged: no exception
    assert seen.counts["cert.s3.write.retry"] == 3
    assert seen.counts["cert.s3.write.fallback"] == 1  # the local leg stands in
    assert seen.counts["cert.local.write.success"] == 1
    assert seen.counts["cert.write.degraded"] == 1
    assert seen.counts["cert.divergence.write"] == 1
    (divergence,) = seen.named("router.divergence")
    assert divergence["degraded"] is True
    entries = list(fs.journal.entries())
    assert _summary(entries) == [("certificates", KEY, "write", "local", "s3", "transient")]
    assert s3_objects() == {}
    assert local_objects() == {KEY: PDF}
    with capture_metrics() as reads:
        assert fs.cat_file(KEY) == PDF  # the journal sends the read to the truth
    assert reads.counts["cert.local.read.success"] == 1
    assert reads.counts["cert.s3.read.success"] == 0


def test_seed_e_router_repair_copies_degraded_write_to_s3(
    make_router: Callable[..., Router],
    cert_policy: Any,
    tmp_path: Path,
    s3_objects: Objects,
) -> None:
    """E (end): ``router repair`` copies the degraded write to S3 and empties the journal."""
    pytest.importorskip("router.migrate", reason="router repair lives in router.migrate")
    from router.cli.main import main

    fs = make_router("s3-primary")
    with inject_faults(fs, "s3", Fault("write", error=lambda: s3_error("SlowDown", 503))):
        fs.pipe_file(KEY, PDF)
    assert fs.journal.depth() == 1
    policy_file = tmp_path / "certificates.yaml"
    policy_file.write_text(yaml.safe_dump(cert_policy("s3-primary")), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["repair", str(policy_file)], out=out, err=err) == 0, err.getvalue()
    assert s3_objects() == {KEY: PDF}
    assert fs.journal.depth() == 0


def test_seed_f_read_primary_serves_from_s3_without_touching_local(
    make_router: Callable[..., Router], s3_objects: Objects, local_objects: Objects
) -> None:
    """F: in read-primary, S3 serves reads, info, listings and URLs; local sees no call."""
    fs = make_router("s3-read")
    with inject_faults(fs, "local") as local:
        fs.pipe_file(KEY, PDF)  # mutations go to the primary only
        assert fs.cat_file(KEY) == PDF
        with fs.open(KEY, "rb") as f:
            assert f.read() == PDF
        assert fs.info(KEY)["size"] == len(PDF)
        assert fs.size(KEY) == len(PDF)
        assert fs.exists(KEY)
        assert fs.ls("certificates/2025", detail=False) == [KEY]
        assert urlsplit(fs.url(KEY)).scheme == "http"
        assert local.calls == Counter()
    assert s3_objects() == {KEY: PDF}
    assert local_objects() == {}


@pytest.mark.parametrize("phase", ["s3-primary", "s3-read"])
def test_seed_g_info_fails_on_s3_local_answers(
    make_router: Callable[..., Router], local_root: Path, phase: str
) -> None:
    """G: S3's HEAD fails with a 500; size, info and modified are answered by local."""
    fs = make_router(phase)
    fs.pipe_file(KEY, PDF)
    _put_local(local_root, KEY, PDF)  # read-primary does not write the shadow
    failing = Fault("info", error=lambda: s3_error("InternalError", 500))
    with capture_metrics() as seen, inject_faults(fs, "s3", failing):
        assert fs.size(KEY) == len(PDF)
        info = fs.info(KEY)
        assert isinstance(fs.modified(KEY), datetime)
    assert info["name"] == KEY
    assert info["type"] == "file"
    assert info["size"] == len(PDF)
    assert seen.counts["cert.s3.info.fallback"] == 3
    assert seen.counts["cert.local.info.success"] == 3


UNICODE_KEYS = [
    "certificates/2025/Curaçao-東京-Δ.pdf",
    "certificates/Curaçao/東京/Δ.pdf",
    unicodedata.normalize("NFD", "certificates/2025/Curaçao-東京-Δ.pdf"),
]


def test_seed_h_unicode_keys_round_trip_byte_exact_on_every_backend(
    make_router: Callable[..., Router],
    local_root: Path,
    s3_objects: Objects,
    local_objects: Objects,
) -> None:
    """H: Curaçao/東京/Δ keys (NFC, NFD apart) round-trip byte-exact on S3, disk, all phases."""
    assert UNICODE_KEYS[0] != UNICODE_KEYS[2]
    bodies = {key: f"{i}:{key}".encode() for i, key in enumerate(UNICODE_KEYS)}
    fs = make_router("dual-write")
    for key, body in bodies.items():
        fs.pipe_file(key, body)
    assert s3_objects() == bodies
    assert local_objects() == bodies
    on_disk = set(os.listdir(os.fsencode(local_root / "certificates" / "2025")))
    assert on_disk == {k.rsplit("/", 1)[1].encode("utf-8") for k in bodies if "/2025/" in k}
    assert fs.find("certificates") == sorted(bodies)
    for key in bodies:
        assert fs.info(key)["name"] == key
    for phase in ("legacy", "dual-write", "s3-primary", "s3-read", "s3-only"):
        reader = make_router(phase)
        for key, body in bodies.items():
            assert reader.cat_file(key) == body, (phase, key)
