"""pandas reading and writing ``router://`` URLs.

Run it (no network; everything lives in a temp directory removed at the end)::

    python examples/pandas_router.py

The router registers the ``router`` protocol with fsspec (an entry point of the
package), so every fsspec user, pandas included, opens ``router://KEY`` with the
policy passed as a storage option: ``storage_options={"policy": "policy.yaml"}``.
Here ``reports/`` is dual-written to a local directory and an in-memory backend;
compression is inferred from the key as usual (``.csv.gz``).
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import fsspec
import pandas as pd


def write_policy(directory: Path) -> Path:
    """reports/ in dual-write (local primary, memory shadow); the rest local."""
    policy = directory / "policy.yaml"
    policy.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            backends:
              local: {{url: "file://{directory}/data"}}
              shadow: {{url: "memory://pandas-example"}}
            journal: {{url: "file://{directory}/journal"}}
            routes:
              reports:
                prefix: reports/
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
    """Write a frame as CSV and gzipped CSV through the router and read it back."""
    frame = pd.DataFrame(
        {"city": ["Curaçao", "東京", "Δelta"], "certificates": [12, 7, 3]},
    )
    with tempfile.TemporaryDirectory(prefix="router-pandas-") as tmp:
        options = {"policy": str(write_policy(Path(tmp)))}
        for url in ("router://reports/2025/cities.csv", "router://reports/2025/cities.csv.gz"):
            frame.to_csv(url, index=False, storage_options=options)
            back = pd.read_csv(url, storage_options=options)
            assert back.equals(frame), back
            print(f"{url}: wrote and read {len(back)} rows, identical")
        print(pd.read_csv("router://reports/2025/cities.csv", storage_options=options))

        fs = fsspec.filesystem("router", **options)
        print("listing reports/2025:", fs.ls("reports/2025", detail=False))
        memory = fsspec.filesystem("memory")
        print(
            "on the shadow:", sorted(p.rsplit("/", 1)[-1] for p in memory.find("/pandas-example"))
        )
        memory.rm("/pandas-example", recursive=True)
        fs.close()
    print("ok")


if __name__ == "__main__":
    main()
