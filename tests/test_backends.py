"""router.backends: building backends from policy entries; S3 filesystems built on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from router.backends import build_backend
from router.policy.model import Backend


@pytest.mark.parametrize(
    "url",
    ["s3://bucket", "s3://bucket/", "s3://bucket/a/b", "s3://bucket/a/b/", "s3a://bucket/x"],
)
def test_an_s3_root_is_what_s3fs_would_strip_the_url_to(url: str) -> None:
    """The root of a not-yet-built S3 backend equals s3fs's own reading of the URL."""
    from s3fs import S3FileSystem

    backend = build_backend("s3", Backend(url=url))
    assert backend.built_fs is None
    assert backend.root == S3FileSystem._strip_protocol(url).rstrip("/")


def test_an_s3_filesystem_is_built_on_first_use_with_the_backends_options() -> None:
    """No S3FileSystem until .fs is used; then one, with the router's retries and options."""
    from s3fs import S3FileSystem

    backend = build_backend(
        "s3", Backend(url="s3://bucket/p", options={"endpoint_url": "http://127.0.0.1:9"})
    )
    assert backend.built_fs is None
    assert backend.is_s3fs
    fs = backend.fs
    assert type(fs) is S3FileSystem
    assert backend.fs is fs
    assert fs.retries == 1  # type: ignore[attr-defined]
    assert fs.endpoint_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]


def test_a_local_backend_is_built_at_once(tmp_path: Path) -> None:
    """Local directories are built eagerly (they cost nothing) and write atomically."""
    backend = build_backend("local", Backend(url=f"file://{tmp_path}"))
    assert isinstance(backend.built_fs, LocalFileSystem)
    assert backend.writes_atomically
    assert not backend.is_s3fs


def test_a_backfill_to_s3_never_imports_s3fs(tmp_path: Path, moto_server: str, bucket: str) -> None:
    """`router backfill` local → S3 talks to S3 through botocore alone: s3fs, aiobotocore and
    aiohttp are never imported (they cost a few hundred ms of start-up)."""
    (tmp_path / "src" / "docs").mkdir(parents=True)
    (tmp_path / "src" / "docs" / "a.txt").write_bytes(b"a")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            backends:
              local: {{url: "file://{tmp_path}/src"}}
              s3: {{url: "s3://{bucket}/dst", options: {{endpoint_url: "{moto_server}"}}}}
            journal: {{url: "file://{tmp_path}/journal"}}
            routes:
              docs:
                prefix: docs/
                phase: dual
                phases:
                  dual: {{primary: local, shadow: s3, mode: dual-write}}
            """
        )
    )
    script = textwrap.dedent(
        f"""\
        import sys
        from router.cli.main import main
        code = main(["backfill", {str(policy)!r}, "--route", "docs", "--progress", "none"])
        loaded = sorted(m for m in ("s3fs", "aiobotocore", "aiohttp") if m in sys.modules)
        print("EXIT", code, "LOADED", ",".join(loaded) or "-")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "EXIT 0 LOADED -", done.stdout + done.stderr
