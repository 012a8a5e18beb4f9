"""Item 14: a canary-secret run. Canary credentials sit in a policy's backend options
(literal and ``${VAR}``-interpolated) and in the environment (``AWS_*``); a realistic
workload runs against moto — writes, streamed writes, reads, listings, presigned URLs,
injected 5xx, a backend whose endpoint is down, repair and every read-only CLI command —
with DEBUG logging captured on the root logger and structlog capturing events.
Afterwards no canary may appear in logs, events, metrics, exception messages, reprs,
CLI output, ``to_dict()``, pickles or the journal. (A presigned URL carries the *access
key id* by design — S3 needs it — so URLs are only checked for the secret keys.)
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import socket
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from structlog.testing import capture_logs

from router import Router
from router.cli.main import main as cli
from router.redact import LIBRARY_LOGGERS, protect_library_logs
from router.testing import Fault, capture_metrics, inject_faults, s3_error

pytestmark = pytest.mark.s3

_TAG = uuid.uuid4().hex[:10].upper()
POLICY_KEY_ID = f"AKIAPOLICYCANARY{_TAG}"
POLICY_SECRET = f"policy-secret-canary-{_TAG.lower()}-x9"  # via ${ROUTER_TEST_CANARY}
ENV_KEY_ID = f"AKIAENVCANARY{_TAG}"
ENV_SECRET = f"env-secret-canary-{_TAG.lower()}-y8"
KEY_IDS = (POLICY_KEY_ID, ENV_KEY_ID)
SECRETS = (POLICY_SECRET, ENV_SECRET)
CANARIES = KEY_IDS + SECRETS


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _policy(tmp: Path, endpoint: str, bucket: str) -> dict[str, Any]:
    fallbacks = {
        "read": {"on": ["not_found", "transient"]},
        "info": {"on": ["any"]},
        "url": {"on": ["any"]},
        "delete": {"on": ["transient"]},
        "write": {"on": ["transient"], "retries": 1, "backoff": "1ms"},
    }
    creds = {"key": POLICY_KEY_ID, "secret": "${ROUTER_TEST_CANARY}"}
    return {
        "version": 1,
        "backends": {
            "local": {"url": f"file://{tmp / 'media'}"},
            "s3": {"url": f"s3://{bucket}/prod", "options": {"endpoint_url": endpoint, **creds}},
            "s3env": {"url": f"s3://{bucket}/env", "options": {"endpoint_url": endpoint}},
            "dead": {
                "url": f"s3://{bucket}/dead",
                "options": {
                    "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
                    "config_kwargs": {"connect_timeout": 1, "read_timeout": 1},
                    **creds,
                },
            },
        },
        "journal": {"url": f"file://{tmp / 'journal'}"},
        "routes": {
            "certificates": {
                "prefix": "certificates/",
                "phase": "dual-write",
                "phases": {
                    "dual-write": {"primary": "local", "shadow": "s3", "mode": "dual-write"},
                    "s3-primary": {"primary": "s3", "shadow": "local", "mode": "dual-write"},
                },
                "fallbacks": fallbacks,
                "metrics": {"prefix": "cert"},
            },
            "avatars": {
                "prefix": "avatars/",
                "primary": "s3env",
                "shadow": "local",
                "mode": "dual-write",
                "fallbacks": fallbacks,
            },
            "outage": {
                "prefix": "outage/",
                "primary": "dead",
                "shadow": "local",
                "mode": "dual-write",
                "fallbacks": fallbacks,
            },
            "default": {"prefix": "", "primary": "local"},
        },
    }


@dataclass
class Run:
    """Everything the workload produced that a canary could leak into."""

    logs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reprs: list[str] = field(default_factory=list)
    cli: dict[str, str] = field(default_factory=dict)
    serialized: list[bytes] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    policy_file: Path = Path()
    router: Router | None = None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _exception_text(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc)]
    seen: BaseException | None = exc
    while seen is not None:
        parts.extend([str(seen), repr(seen), *getattr(seen, "__notes__", [])])
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _workload(fs: Router, run: Run) -> None:
    for i in range(3):
        fs.pipe_file(f"certificates/2025/{i}.pdf", b"pdf %d" % i)
        fs.pipe_file(f"avatars/{i}.png", b"png %d" % i)
    with fs.open("certificates/2025/streamed.pdf", "wb") as out:
        out.write(b"part one, ")
        out.write(b"part two")
    with fs.open("certificates/2025/streamed.pdf", "rb") as handle:
        assert handle.read() == b"part one, part two"
    assert fs.cat_file("avatars/1.png") == b"png 1"
    fs.ls("certificates/2025")
    fs.ls("avatars")
    fs.exists("certificates/2025/missing.pdf")
    fs.info("avatars/0.png")
    run.urls.append(fs.url("avatars/0.png", expiration=600))
    with inject_faults(fs, "s3", Fault("write", error=lambda: s3_error("InternalError", 500))):
        fs.pipe_file("certificates/2025/journaled.pdf", b"degraded shadow")  # journaled
    with inject_faults(fs, "s3env", Fault("any", error=lambda: s3_error("SlowDown", 503))):
        fs.pipe_file("avatars/degraded.png", b"degraded primary")
        fs.cat_file("avatars/degraded.png")
    with inject_faults(fs, "s3env", Fault("read", error=lambda: s3_error("AccessDenied", 403))):
        try:
            fs.cat_file("avatars/2.png")
        except PermissionError as exc:
            run.errors.append(_exception_text(exc))
    for attempt in (
        lambda: fs.cat_file("outage/a.bin"),
        lambda: fs.pipe_file("outage/a.bin", b"x"),
        lambda: fs.rm_file("outage/a.bin"),
        lambda: fs.url("outage/a.bin"),
    ):
        try:
            attempt()
        except Exception as exc:
            run.errors.append(_exception_text(exc))
    fs.rm_file("avatars/2.png")


@pytest.fixture(scope="module")
def canary_run(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run the workload once with canaries everywhere; yield what it produced."""
    import boto3

    tmp = tmp_path_factory.mktemp("canary")
    (tmp / "media").mkdir()
    bucket = f"canary-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(_policy(tmp, moto_server, bucket)))
    run = Run(policy_file=policy_file)
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    structlog.reset_defaults()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", ENV_KEY_ID)
        env.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
        env.setenv("ROUTER_TEST_CANARY", POLICY_SECRET)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            with capture_logs() as structured, capture_metrics() as seen:
                fs = Router.from_file(policy_file)
                run.router = fs
                _workload(fs, run)
                for argv in (
                    ["repair", str(policy_file), "--route", "certificates"],
                    ["explain", str(policy_file)],
                    ["explain", str(policy_file), "certificates/2025/0.pdf", "--format", "json"],
                    ["status", str(policy_file)],
                    ["status", str(policy_file), "--format", "json"],
                    ["validate", str(policy_file)],
                    ["verify", str(policy_file), "--route", "avatars"],
                    ["sweep", str(policy_file), "--dry-run"],
                ):
                    out, err = io.StringIO(), io.StringIO()
                    code = cli(argv, out, err)
                    run.cli[" ".join(argv[:1] + argv[2:])] = (
                        f"{code}\n{out.getvalue()}{err.getvalue()}"
                    )
                run.reprs.extend(
                    [repr(fs), str(fs), repr(fs.plan.routes), repr(fs.journal)]
                    + [repr(b) for b in fs.backends.values()]
                    + [json.dumps(b.describe()) for b in fs.backends.values()]
                    + [repr(fs.metrics), json.dumps(fs.metrics.snapshot(), default=str)]
                )
                run.serialized.extend(
                    [json.dumps(fs.to_dict()).encode(), fs.to_json().encode(), pickle.dumps(fs)]
                )
                fs.close()
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            structlog.reset_defaults()
    run.logs = handler.lines
    run.events = [repr(e) for e in structured] + [repr(e) for e in seen.events]
    run.events.append(repr(dict(seen.counts)))
    run.journal = [p.read_text() for p in (tmp / "journal").rglob("*") if p.is_file()]
    return run


def _leaks(texts: list[str] | list[bytes], canaries: tuple[str, ...] = CANARIES) -> list[str]:
    found = []
    for text in texts:
        for canary in canaries:
            probe: str | bytes = canary.encode() if isinstance(text, bytes) else canary
            if probe in text:  # type: ignore[operator]
                at = text.index(probe)  # type: ignore[arg-type]
                found.append(f"{canary[:12]}… in …{text[max(0, at - 80) : at + 40]!r}")
    return found


def test_the_workload_really_ran(canary_run: Run) -> None:
    """Sanity: the run logged at DEBUG, emitted events, failed where it should, and ran every CLI."""
    assert any(line.startswith("botocore") for line in canary_run.logs)
    assert any("router.op" in e for e in canary_run.events)
    assert any("router.divergence" in e for e in canary_run.events)
    assert len(canary_run.errors) >= 3  # 403, and the dead endpoint (the write degrades)
    assert canary_run.cli["repair --route certificates"].startswith("0\n")
    assert canary_run.urls
    assert "Signature=" in canary_run.urls[0]


def test_no_canary_in_logs(canary_run: Run) -> None:
    """DEBUG logs of the whole run (botocore, aiobotocore, urllib3, s3fs, router) hold no canary."""
    assert _leaks(canary_run.logs) == []


def test_no_secret_key_in_logs(canary_run: Run) -> None:
    """No secret access key is ever logged, even without the log filter."""
    assert _leaks(canary_run.logs, SECRETS) == []


def test_no_canary_in_events_or_metrics(canary_run: Run) -> None:
    """structlog events, captured router events and counter names hold no canary."""
    assert _leaks(canary_run.events) == []


def test_no_canary_in_exceptions(canary_run: Run) -> None:
    """Exceptions (messages, notes, causes, tracebacks) of failed ops hold no canary."""
    assert _leaks(canary_run.errors) == []


def test_no_canary_in_reprs(canary_run: Run) -> None:
    """repr/str of the Router, its plan, journal, backends, describe() and metrics hold no canary."""
    assert _leaks(canary_run.reprs) == []


def test_no_canary_in_cli_output(canary_run: Run) -> None:
    """repair, explain, status, validate, verify and sweep print no canary."""
    assert _leaks(list(canary_run.cli.values())) == []


def test_no_canary_in_to_dict_or_pickle(canary_run: Run) -> None:
    """to_dict(), to_json() and pickle.dumps() of a Router loaded from a file hold no canary."""
    assert _leaks(canary_run.serialized) == []


def test_no_canary_in_the_journal(canary_run: Run) -> None:
    """Journal entries hold no canary."""
    assert _leaks(canary_run.journal) == []


def test_presigned_url_carries_no_secret_key(canary_run: Run) -> None:
    """A presigned URL carries the access key id (S3 needs it) but never a secret key."""
    assert _leaks(canary_run.urls, SECRETS) == []


def test_no_canary_in_the_policy_repr(canary_run: Run) -> None:
    """repr(router.policy) — the loaded policy — holds no canary."""
    assert canary_run.router is not None
    assert _leaks([repr(canary_run.router.policy), str(canary_run.router.policy)]) == []


def test_no_canary_in_to_dict_of_a_router_from_a_dict_with_literal_secrets(
    tmp_path: Path, moto_server: str
) -> None:
    """to_dict() of a Router built from a dict with literal secrets holds no canary; pickling it holds none either, or is refused clearly."""
    policy = _policy(tmp_path, moto_server, "any-bucket")
    for name in ("s3", "dead"):
        policy["backends"][name]["options"]["secret"] = POLICY_SECRET
    with Router.from_dict(policy) as fs:
        assert _leaks([json.dumps(fs.to_dict())]) == []
        try:
            pickled = pickle.dumps(fs)
        except TypeError as refused:  # a clear refusal is fine; a leak is not
            pickled = str(refused).encode()
        assert _leaks([pickled]) == []
        assert b"secret" in pickled  # the refusal says why (or the pickle is the policy)


def test_secret_filter_scrubs_library_debug_logs(
    moto_server: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With router.redact's filter attached, botocore/aiobotocore DEBUG logs of real S3 calls hold no canary."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    policy = {
        "version": 1,
        "backends": {
            "s3": {
                "url": f"s3://{bucket}/prod",
                "options": {
                    "endpoint_url": moto_server,
                    "key": POLICY_KEY_ID,
                    "secret": POLICY_SECRET,
                },
            },
            "s3env": {"url": f"s3://{bucket}/env", "options": {"endpoint_url": moto_server}},
        },
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {
            "a": {"prefix": "a/", "primary": "s3"},
            "b": {"prefix": "", "primary": "s3env"},
        },
    }
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    with Router.from_dict(policy) as fs:
        secret_filter = protect_library_logs([POLICY_KEY_ID, POLICY_SECRET])
        try:
            for key in ("a/x.bin", "b/y.bin"):
                fs.pipe_file(key, b"data")
                fs.cat_file(key)
                fs.url(key)
                fs.ls(key.rpartition("/")[0])
                fs.rm_file(key)
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            for name in list(logging.Logger.manager.loggerDict):
                if name.split(".", 1)[0] in LIBRARY_LOGGERS:
                    logging.getLogger(name).removeFilter(secret_filter)
    assert any("Authorization" in line for line in handler.lines)  # it was logged...
    assert _leaks(handler.lines) == []  # ...scrubbed
