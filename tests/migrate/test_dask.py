"""verify and backfill on a Dask LocalCluster (127.0.0.1) give the single-machine results."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.migrate import backfill, scope_for, verify
from router.migrate.dask import backfill_on_dask, verify_on_dask
from tests.migrate.conftest import run_cli, table_value

distributed = pytest.importorskip("distributed")

# dask warns when creating its scratch directory takes over 1 s (a loaded CI machine):
# a timing remark, not a behaviour of ours
pytestmark = pytest.mark.filterwarnings(
    "ignore:Creating scratch directories is taking a surprisingly long time"
)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small in-process Dask cluster on 127.0.0.1; yields the scheduler address."""
    with distributed.LocalCluster(
        local_directory=str(tmp_path_factory.mktemp("dask")),
        processes=False,
        n_workers=2,
        threads_per_worker=2,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def _populate(put_local: Any, put_s3: Any) -> None:
    for year in ("2023", "2024", "2025"):
        for i in range(8):
            put_local(f"certificates/{year}/{i}.pdf", os.urandom(64))
    put_local("certificates/top.pdf", b"top")
    put_local("certificates/2024/differs.pdf", b"AAAA")
    put_s3("certificates/2024/differs.pdf", b"BBBB")
    put_s3("certificates/2025/extra.pdf", b"x")
    put_s3("certificates/2023/0.pdf", b"wrong size")


def test_dask_verify_and_backfill_equal_the_local_run(
    scheduler: str,
    cert_policy: Any,
    policy_file: Any,
    put_local: Any,
    put_s3: Any,
    s3_keys: Any,
    tmp_path: Path,
) -> None:
    """Partitioned on Dask, verify finds the same differences and backfill copies the same
    objects as on one machine; the CLI --dask path agrees and is resumable per partition."""
    _populate(put_local, put_s3)
    policy = policy_file()
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        local_report = verify(scope_for(router, "certificates"), keep=10**6)
        dry = backfill(scope_for(router, "certificates", purpose="backfill"), dry_run=True)
    dask_report = verify_on_dask(scheduler, policy, "certificates", partitions=4)
    assert dask_report.differences == local_report.differences
    assert dask_report.to_dict() | {"elapsed": 0} == local_report.to_dict() | {"elapsed": 0}

    report_file = tmp_path / "dask.jsonl"
    code, out, _ = run_cli(
        "verify",
        str(policy),
        "--route",
        "certificates",
        "--dask",
        scheduler,
        "--report",
        str(report_file),
    )
    assert code == 1
    rows = [json.loads(line) for line in report_file.read_text().splitlines()]
    assert rows == [d.as_dict() for d in local_report.differences]

    checkpoint = tmp_path / "ck.jsonl"
    copied = backfill_on_dask(
        scheduler, policy, "certificates", checkpoint=checkpoint, partitions=3
    )
    assert (copied.copied, copied.failed) == (dry.would_copy, 0)
    assert copied.bytes_copied == dry.would_copy_bytes
    assert sorted(p.name for p in Path(f"{checkpoint}.parts").iterdir()) == [
        "part-0000.jsonl",
        "part-0001.jsonl",
        "part-0002.jsonl",
        "plan.json",
    ]
    code, out, _ = run_cli(
        "backfill",
        str(policy),
        "--route",
        "certificates",
        "--dask",
        scheduler,
        "--checkpoint",
        str(checkpoint),
    )
    assert code == 0
    assert table_value(out, "copied") == 0
    assert table_value(out, "already equal") == dry.examined
    assert run_cli("verify", str(policy), "--route", "certificates", "--checksum")[0] == 1
    with Router.from_dict(cert_policy("dual-write"), metrics=False) as router:
        after = verify(scope_for(router, "certificates"))
    assert [(d.kind, d.key) for d in after.differences] == [
        ("extra", "certificates/2025/extra.pdf")
    ]
