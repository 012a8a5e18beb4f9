"""Item 1: a side failing a share of writes with 500/503/timeouts (and 403 on the primary).

The acknowledgement follows the policy, every failure is counted and journaled, and once
the faults stop, ``repair`` makes the sha256 of both sides equal to the model.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.migrate import repair
from router.testing import Fault, capture_metrics, inject_faults, s3_error
from tests.reliability.rel_helpers import CertSides, sha_local, sha_model, sha_s3

pytestmark = pytest.mark.s3

WRITES = 60
KEYS = [f"certificates/2025/{i:02d}-Δ.pdf" for i in range(20)]


def _transient_errors(seed: int) -> Callable[[], BaseException]:
    """500 InternalError, 503 SlowDown and timeouts, in a seeded order."""
    rng = random.Random(seed)
    makers: list[Callable[[], BaseException]] = [
        lambda: s3_error("InternalError", 500),
        lambda: s3_error("SlowDown", 503),
        lambda: TimeoutError("injected read timeout"),
    ]
    return lambda: rng.choice(makers)()


def _payload(rng: random.Random, i: int) -> bytes:
    return f"version {i}\n".encode() + rng.randbytes(rng.randrange(0, 3000))


def _write(fs: Router, key: str, data: bytes, streaming: bool) -> None:
    if streaming:
        with fs.open(key, "wb") as out:
            for start in range(0, len(data), 700):
                out.write(data[start : start + 700])
            if not data:
                out.write(b"")
    else:
        fs.pipe_file(key, data)


def _writes(seed: int) -> Iterator[tuple[str, bytes, bool]]:
    """WRITES seeded (key, data, streaming) over KEYS: every other write is streamed."""
    rng = random.Random(seed)
    for i in range(WRITES):
        key, data = rng.choice(KEYS), _payload(rng, i)
        yield key, data, i % 2 == 1


def assert_writes_acknowledged(fs: Router, seed: int) -> dict[str, bytes]:
    """The :func:`_writes` of ``seed``: each acknowledged, then read back as written (from
    the side holding the truth); the model of what was written."""
    model: dict[str, bytes] = {}
    for key, data, streaming in _writes(seed):
        _write(fs, key, data, streaming)
        model[key] = data
        assert fs.cat_file(key) == data
    return model


def assert_sides_hold(sides: CertSides, model: dict[str, bytes]) -> None:
    """Both sides hold exactly ``model`` (compared by sha256)."""
    assert sha_local(sides.local_root) == sha_s3(sides.s3_client, sides.bucket) == sha_model(model)


def assert_repair_converges(fs: Router, sides: CertSides, model: dict[str, bytes]) -> None:
    """``repair`` empties the journal without a failure, and both sides then hold ``model``."""
    report = repair(fs.journal, fs.backends)
    assert report.ok
    assert report.failed == 0
    assert_sides_hold(sides, model)


def _policy(cert_policy: Callable[..., dict[str, Any]], phase: str) -> dict[str, Any]:
    policy = cert_policy(phase)
    fallbacks = policy["routes"]["certificates"]["fallbacks"]
    fallbacks["write"] = {"on": ["transient"], "retries": 1, "backoff": "1ms"}
    return policy


def test_shadow_failing_a_share_of_writes(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    sides: CertSides,
) -> None:
    """S3 shadow fails 40% of write calls: all acked, each failure counted and journaled, repair converges."""
    fs = routers(_policy(cert_policy, "dual-write"))
    fault = Fault("write", error=_transient_errors(2), rate=0.4, seed=3)
    with capture_metrics() as seen, inject_faults(fs, "s3", fault):
        model = assert_writes_acknowledged(fs, seed=1)  # every write is acknowledged
    counts = seen.counts
    assert fault.fired > 0
    assert counts["cert.s3.write.fail"] > 0, "the fault rate should defeat some retries"
    # every injected failure is one counted call: retried, or a final failure
    assert counts["cert.s3.write.retry"] + counts["cert.s3.write.fail"] == fault.fired
    assert counts["cert.s3.write.success"] + counts["cert.s3.write.fail"] == WRITES
    assert counts["cert.local.write.success"] == WRITES
    # every final failure is journaled, truth = the primary
    entries = list(fs.journal.entries())
    assert len(entries) == counts["cert.s3.write.fail"] == counts["cert.divergence.write"]
    assert {(e.truth, e.stale, e.error_class) for e in entries} == {("local", "s3", "transient")}
    assert counts["cert.write.degraded"] == 0
    assert sha_local(sides.local_root) == sha_model(model)

    assert_repair_converges(fs, sides, model)


def test_primary_failing_a_share_of_writes(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    sides: CertSides,
) -> None:
    """S3 primary fails 40% of write calls transiently: degraded acks per policy, each journaled, repair converges."""
    fs = routers(_policy(cert_policy, "s3-primary"))
    fault = Fault("write", error=_transient_errors(12), rate=0.4, seed=13)
    with capture_metrics() as seen, inject_faults(fs, "s3", fault):
        model = assert_writes_acknowledged(fs, seed=11)  # transient: falls back, acked
    counts = seen.counts
    degraded = [e for e in seen.named("router.divergence") if e["degraded"]]
    assert degraded, "the fault rate should defeat some retries"
    assert (
        counts["cert.s3.write.retry"] + counts["cert.s3.write.fallback"] == fault.fired
    )  # every injected failure counted once
    assert counts["cert.s3.write.fail"] == 0
    assert counts["cert.write.degraded"] == len(degraded) == counts["cert.s3.write.fallback"]
    assert counts["cert.local.write.success"] == WRITES
    entries = list(fs.journal.entries())
    assert len(entries) == len(degraded) == counts["cert.divergence.write"]
    assert {(e.truth, e.stale, e.error_class) for e in entries} == {("local", "s3", "transient")}

    assert_repair_converges(fs, sides, model)


def test_primary_refusing_half_the_writes(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    sides: CertSides,
) -> None:
    """S3 primary answers 403 to some writes (never to a key local holds the truth of): those fail, are journaled, and repair converges."""
    fs = routers(_policy(cert_policy, "s3-primary"))
    model: dict[str, bytes] = {}
    refused = 0
    denied = Fault("write", error=lambda: s3_error("AccessDenied", 403), rate=0.5, seed=22)
    with capture_metrics() as seen, inject_faults(fs, "s3", denied):
        for key, data, streaming in _writes(seed=21):
            try:
                _write(fs, key, data, streaming)
            except PermissionError:
                refused += 1  # denied is not in fallbacks.write.on: the caller is told
            else:
                model[key] = data
            if key in model:
                assert fs.cat_file(key) == model[key]
            else:
                with pytest.raises(FileNotFoundError):
                    fs.cat_file(key)
    counts = seen.counts
    assert refused > 0
    assert counts["cert.s3.write.fail"] == refused == denied.fired
    assert counts["cert.s3.write.retry"] == 0  # denied is never retried
    entries = list(fs.journal.entries())
    assert len(entries) == refused == counts["cert.divergence.write"]
    assert {(e.truth, e.stale, e.error_class) for e in entries} == {("s3", "local", "denied")}

    assert_repair_converges(fs, sides, model)


@pytest.mark.parametrize("second", ["write", "delete"])
def test_refused_mutation_after_degraded_write_keeps_the_acknowledged_data(
    second: str,
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    sides: CertSides,
) -> None:
    """A degraded (acked) write survives a later mutation that the primary refuses."""
    fs = routers(_policy(cert_policy, "s3-primary"))
    key = "certificates/2025/degraded.pdf"
    with inject_faults(fs, "s3", Fault("write", error=lambda: s3_error("SlowDown", 503))):
        fs.pipe_file(key, b"v1 acknowledged, degraded")  # only local holds it: truth=local
    assert fs.cat_file(key) == b"v1 acknowledged, degraded"
    expected: bytes | None = b"v1 acknowledged, degraded"
    with inject_faults(fs, "s3", Fault("any", error=lambda: s3_error("AccessDenied", 403))):
        try:
            if second == "write":
                fs.pipe_file(key, b"v2")
            else:
                fs.rm_file(key)
        except PermissionError:
            pass  # the op failed: v1 is still the acknowledged content
        else:
            expected = b"v2" if second == "write" else None
    if expected is None:
        assert not fs.exists(key)
    else:
        assert fs.cat_file(key) == expected
    assert repair(fs.journal, fs.backends).ok
    assert_sides_hold(sides, {} if expected is None else {key: expected})


def test_repair_never_keeps_a_stale_copy_of_the_same_size_locally(
    two_roots: tuple[Path, Path, Path], local_pair: Callable[..., Router]
) -> None:
    """Local to local: a journaled shadow holding different bytes of the same size is repaired, not declared equal."""
    a, b, _ = two_roots
    fs = local_pair()
    fs.pipe_file("k", b"old!")
    with inject_faults(fs, "b", Fault("write")):
        fs.pipe_file("k", b"new!")  # same size; b is stale and journaled
    assert repair(fs.journal, fs.backends).ok
    assert (a / "k").read_bytes() == (b / "k").read_bytes() == b"new!"


def test_repair_never_keeps_a_stale_multipart_copy_of_the_same_size(
    cert_policy: Callable[..., dict[str, Any]],
    routers: Callable[..., Router],
    sides: CertSides,
) -> None:
    """Local to S3: a stale 9 MiB multipart object (ETag is no MD5) of the same size is repaired, not declared equal."""
    fs = routers(_policy(cert_policy, "dual-write"))
    key = "certificates/big.pdf"
    old, new = b"o" * (9 * 2**20), b"n" * (9 * 2**20)
    with fs.open(key, "wb") as out:
        out.write(old)
    head = sides.s3_client.head_object(Bucket=sides.bucket, Key=f"prod/{key}")
    assert "-" in head["ETag"]  # multipart
    failing = Fault("write", error=lambda: s3_error("InternalError", 500))
    with inject_faults(fs, "s3", failing), fs.open(key, "wb") as out:
        out.write(new)
    assert repair(fs.journal, fs.backends).ok
    assert_sides_hold(sides, {key: new})
