"""Embedding the router in a plain Python script: load a policy, write, read, list.

Run it from anywhere (no network, no services; everything lives in a temp directory
that is removed at the end)::

    python examples/embed.py

It writes a policy whose ``certificates/`` route is in dual-write: a local directory
is the primary and an in-memory backend (``memory://``) stands in for S3 as the
shadow. Every write lands on both; reads are served by the primary; the rest of the
keys live on the local directory only. Swap ``memory://`` for ``s3://bucket/prefix``
and nothing else changes.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import fsspec

from router import Router

KEY = "certificates/2025/Curaçao-東京-Δ.pdf"
PDF = b"%PDF-1.4\n" + "Curaçao / 東京 / Δ".encode() + b"\n%%EOF\n"


def write_policy(directory: Path) -> Path:
    """A dual-write policy: local primary, memory shadow, rooted in ``directory``."""
    policy = directory / "policy.yaml"
    policy.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            backends:
              local: {{url: "file://{directory}/media"}}
              shadow: {{url: "memory://embed-example"}}
            journal: {{url: "file://{directory}/journal"}}
            routes:
              certificates:
                prefix: certificates/
                phase: dual-write
                phases:
                  legacy:     {{primary: local}}
                  dual-write: {{primary: local, shadow: shadow, mode: dual-write}}
                fallbacks:
                  read: {{on: [not_found, transient]}}
              default:
                prefix: ""
                primary: local
            """
        ),
        encoding="utf-8",
    )
    return policy


def main() -> None:
    """Write, read and list through the router, then show where the bytes are."""
    with tempfile.TemporaryDirectory(prefix="router-embed-") as tmp:
        directory = Path(tmp)
        with Router.from_file(write_policy(directory)) as fs:
            # Streaming write: each side gets the chunks as they come.
            with fs.open(KEY, "wb") as out:
                out.write(PDF[:10])
                out.write(PDF[10:])
            fs.pipe_file("certificates/2025/receipt.txt", "paid ✓\n".encode())
            fs.pipe_file("avatars/ada.png", b"\x89PNG\r\n")  # default route: local only

            with fs.open(KEY, "rb") as source:
                assert source.read() == PDF
            print(f"read back {KEY}: {len(PDF)} bytes, identical")
            print("size:", fs.size(KEY))
            print("listing certificates/2025:", fs.ls("certificates/2025", detail=False))
            print("listing top level:", fs.ls("", detail=False))
            print("url:", fs.url(KEY).removeprefix(f"file://{directory}"))

            media = directory / "media"
            local = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
            memory = fsspec.filesystem("memory")
            shadow = sorted(
                p.removeprefix("/embed-example/")
                for p in memory.find("/embed-example")  # the shadow's root
            )
            print("on local:", local)
            print("on shadow:", shadow)
            assert memory.cat_file(f"/embed-example/{KEY}") == PDF

            fs.rm_file(KEY)
            print("after delete, exists:", fs.exists(KEY))
            memory.rm("/embed-example", recursive=True)
    print("ok")


if __name__ == "__main__":
    main()
