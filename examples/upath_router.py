"""``universal_pathlib.UPath("router://...")``: pathlib-style access through the router.

Run it (no network; everything lives in a temp directory removed at the end)::

    python examples/upath_router.py

storage-router registers ``router.contrib.upath.RouterPath`` with universal_pathlib
(an entry point), so ``UPath("router://...")`` just works once it is installed. The
policy is passed as a keyword argument, like any fsspec storage option.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import fsspec
from upath import UPath


def write_policy(directory: Path) -> Path:
    """certificates/ in dual-write (local primary, memory shadow); the rest local."""
    policy = directory / "policy.yaml"
    policy.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            backends:
              local: {{url: "file://{directory}/media"}}
              shadow: {{url: "memory://upath-example"}}
            journal: {{url: "file://{directory}/journal"}}
            routes:
              certificates:
                prefix: certificates/
                phase: dual-write
                phases:
                  dual-write: {{primary: local, shadow: shadow, mode: dual-write}}
              default: {{prefix: "", primary: local}}
            """
        ),
        encoding="utf-8",
    )
    return policy


def main() -> None:
    """Create, read, list, glob and delete files as UPath objects."""
    with tempfile.TemporaryDirectory(prefix="router-upath-") as tmp:
        policy = str(write_policy(Path(tmp)))
        root = UPath("router://certificates", policy=policy)
        print("type:", type(root).__name__)

        pdf = root / "2025" / "Curaçao-東京-Δ.pdf"
        pdf.write_bytes(b"%PDF-1.4 certificate\n")
        note = pdf.with_name("note.txt")
        note.write_text("Curaçao / 東京 / Δ\n", encoding="utf-8")

        print("path:", pdf.path, "| name:", pdf.name, "| suffix:", pdf.suffix)
        print("exists:", pdf.exists(), "| size:", pdf.stat().st_size)
        print("read:", note.read_text(encoding="utf-8").strip())
        print("iterdir:", sorted(p.name for p in pdf.parent.iterdir()))
        print("glob **/*.pdf:", [str(p) for p in root.glob("**/*.pdf")])
        print("str:", str(pdf))

        note.unlink()
        print("after unlink:", note.exists())
        memory = fsspec.filesystem("memory")
        print("on the shadow:", [p.rsplit("/", 1)[-1] for p in memory.find("/upath-example")])
        memory.rm("/upath-example", recursive=True)
    print("ok")


if __name__ == "__main__":
    main()
