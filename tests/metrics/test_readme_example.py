"""The capture_metrics example of docs/metrics.md (and README), run as written.

S3 is down for writes the whole time (a Fault in front of the real s3fs filesystem), so
no S3 server is needed: the router never reaches it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from router import Router
from router.testing import Fault, capture_metrics, inject_faults

ROOT = Path(__file__).resolve().parents[2]


def test_upload_falls_back_to_local_when_s3_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload while S3 is down is kept on local disk, once, and journaled."""
    monkeypatch.chdir(ROOT)
    fs = Router.from_file(
        "policies/certificates.yaml",
        environ={
            "MEDIA_ROOT": str(tmp_path / "media"),
            "ROUTER_JOURNAL__URL": f"file://{tmp_path / 'journal'}",
            "ROUTER_ROUTES__CERTIFICATES__ROLLOUT__PERCENT": "100",  # every key: s3-primary
        },
    )
    with capture_metrics() as seen, inject_faults(fs, "s3", Fault("write")):  # S3 times out
        fs.pipe_file("certificates/2025/a.pdf", b"%PDF-1.7 ...")  # acknowledged, degraded

    assert seen.counts["cert.s3.write.fallback"] == 1  # S3 gave up once (after 3 retries)...
    assert seen.counts["cert.local.write.success"] == 1  # ...and local took the upload
    assert seen.counts["cert.write.degraded"] == 1
    (divergence,) = seen.named("router.divergence")  # journaled for `router repair`
    assert (divergence["truth"], divergence["stale"]) == ("local", "s3")
    fs.close()


def test_docs_hold_the_example() -> None:
    """docs/metrics.md shows the same assertions this test runs."""
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    source = Path(__file__).read_text(encoding="utf-8")
    start = source.index("    with capture_metrics() as seen, inject_faults(")
    end = source.index("    fs.close()")
    assert source[start:end].strip() in text
