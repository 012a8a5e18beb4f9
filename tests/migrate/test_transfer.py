"""Copies to S3 through direct botocore clients: one request per small object, multipart
checked part by part and aborted on failure, s3fs's settings, retries and errors kept."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router.backends import BackendFS, build_backend
from router.migrate import VerifyFailed, copy_object, stat_object
from router.migrate.listing import ObjectInfo, list_objects
from router.migrate.s3direct import EXPECT_FROM, S3Direct, direct_for
from router.migrate.transfer import RANGE, part_size
from router.policy.model import Backend
from router.testing import FaultyFileSystem

BIG = 2 * RANGE + 123  # three parts


@pytest.fixture
def local(local_root: Path) -> BackendFS:
    """The local backend rooted at the temp media directory."""
    return build_backend("local", Backend(url=f"file://{local_root}"))


@pytest.fixture
def make_s3(moto_server: str, bucket: str) -> Callable[..., BackendFS]:
    """An S3 backend on the moto bucket (``prod/``), with extra s3fs options."""

    def make(**options: Any) -> BackendFS:
        return build_backend(
            "s3",
            Backend(url=f"s3://{bucket}/prod", options={"endpoint_url": moto_server, **options}),
        )

    return make


@pytest.fixture
def put_file(local_root: Path) -> Callable[[str, bytes], ObjectInfo]:
    """Write a local file; returns its ObjectInfo as a listing would."""

    def put(key: str, data: bytes) -> ObjectInfo:
        path = local_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return ObjectInfo(key=key, size=len(data))

    return put


class Sent:
    """The requests one thread's direct client sent: (operation, headers)."""

    def __init__(self, direct: S3Direct) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        direct.client().meta.events.register("before-send.s3", self.record)

    def record(self, request: Any, event_name: str, **_: Any) -> None:
        """Keep the operation name and the headers as text."""
        headers = {
            k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
        }
        self.requests.append((event_name.rsplit(".", 1)[-1], headers))

    @property
    def operations(self) -> list[str]:
        """Operation names in order."""
        return [op for op, _ in self.requests]


def _direct(backend: BackendFS) -> S3Direct:
    direct = direct_for(backend)
    assert direct is not None
    return direct


def _uploads(s3: Any, bucket: str) -> list[Any]:
    return list(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


@pytest.fixture
def s3(moto_server: str) -> Any:
    """A boto3 client on the moto server, to look at what landed."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


def test_a_small_copy_is_one_put_with_content_md5_unsigned_and_no_expect(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str
) -> None:
    """Up to 8 MiB: one PutObject with Content-MD5, UNSIGNED-PAYLOAD, no CRC32, no Expect."""
    target = make_s3()
    sent = Sent(_direct(target))
    data = os.urandom(4096)
    result = copy_object(local, target, put_file("certificates/a.pdf", data))
    assert result.verified == "etag"
    assert sent.operations == ["PutObject"]
    headers = {k.lower(): v for k, v in sent.requests[0][1].items()}
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "content-md5" in headers
    assert "expect" not in headers
    assert not [h for h in headers if h.startswith("x-amz-checksum-")]
    body = s3.get_object(Bucket=bucket, Key="prod/certificates/a.pdf")["Body"].read()
    assert body == data


def test_a_big_copy_is_multipart_each_part_checked_and_the_etag_too(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str
) -> None:
    """Over 8 MiB: create, 8 MiB parts with Content-MD5 (Expect kept), complete; no HEAD."""
    target = make_s3()
    sent = Sent(_direct(target))
    data = os.urandom(BIG)
    result = copy_object(local, target, put_file("certificates/big.bin", data))
    assert result.verified == "parts"
    assert sent.operations == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    parts = [h for op, h in sent.requests if op == "UploadPart"]
    assert all("Content-MD5" in h for h in parts)
    assert "Expect" in parts[0]  # 8 MiB bodies keep botocore's 100-continue
    assert int(parts[0]["Content-Length"]) == RANGE >= EXPECT_FROM
    head = s3.head_object(Bucket=bucket, Key="prod/certificates/big.bin")
    assert head["ContentLength"] == BIG
    assert head["ETag"].strip('"').endswith("-3")
    body = s3.get_object(Bucket=bucket, Key="prod/certificates/big.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert not _uploads(s3, bucket)


def test_checksum_still_hashes_a_multipart_copy(
    local: BackendFS, make_s3: Any, put_file: Any
) -> None:
    """--checksum reads a multipart copy back (sha256); a single-part ETag suffices."""
    target = make_s3()
    big = copy_object(
        local, target, put_file("certificates/big.bin", os.urandom(BIG)), checksum=True
    )
    small = copy_object(local, target, put_file("certificates/a.pdf", b"abc"), checksum=True)
    assert (big.verified, small.verified) == ("checksum", "etag")


def test_a_failed_part_aborts_the_upload_and_publishes_nothing(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str
) -> None:
    """A part that fails: the error propagates, the upload is aborted, no object exists."""
    target = make_s3()
    direct = _direct(target)
    parts: list[int] = []

    def fail_second(request: Any, **_: Any) -> None:
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionResetError("injected: connection reset during part 2")

    direct.client().meta.events.register("before-send.s3.UploadPart", fail_second)
    with pytest.raises(ConnectionResetError, match="injected"):
        copy_object(local, target, put_file("certificates/big.bin", os.urandom(BIG)))
    assert stat_object(target, "certificates/big.bin") is None
    assert not _uploads(s3, bucket)


@pytest.mark.parametrize("listed", [9 * 2**20, BIG + 5], ids=["grew", "shrank"])
def test_a_source_that_changed_size_publishes_nothing(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str, listed: int
) -> None:
    """A file bigger or smaller than listed fails verification before completing; aborted."""
    target = make_s3()
    info = put_file("certificates/big.bin", os.urandom(BIG))
    stale = ObjectInfo(key=info.key, size=listed)
    with pytest.raises(VerifyFailed, match="source changed"):
        copy_object(local, target, stale)
    assert stat_object(target, "certificates/big.bin") is None
    assert not _uploads(s3, bucket)


def test_a_small_source_that_grew_is_not_put(local: BackendFS, make_s3: Any, put_file: Any) -> None:
    """Bigger than listed: VerifyFailed, and no PutObject is sent."""
    target = make_s3()
    sent = Sent(_direct(target))
    info = put_file("certificates/a.pdf", b"0123456789")
    with pytest.raises(VerifyFailed, match="source changed"):
        copy_object(local, target, ObjectInfo(key=info.key, size=4))
    assert sent.operations == []


def test_additional_kwargs_go_to_the_calls_that_take_them(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str
) -> None:
    """s3_additional_kwargs reach PutObject and CreateMultipartUpload, not UploadPart."""
    target = make_s3(s3_additional_kwargs={"ServerSideEncryption": "AES256"})
    copy_object(local, target, put_file("certificates/a.pdf", b"abc"))
    copy_object(local, target, put_file("certificates/big.bin", os.urandom(BIG)))
    for key in ("a.pdf", "big.bin"):
        head = s3.head_object(Bucket=bucket, Key=f"prod/certificates/{key}")
        assert head["ServerSideEncryption"] == "AES256"


def test_listing_and_stat_go_through_the_direct_client(
    local: BackendFS, make_s3: Any, put_file: Any
) -> None:
    """ListObjectsV2 and HeadObject use the same client; results match the objects."""
    target = make_s3()
    sent = Sent(_direct(target))
    copy_object(local, target, put_file("certificates/a.pdf", b"abc"))
    listed = list(list_objects(target, "certificates/"))
    assert [(i.key, i.size, i.md5) for i in listed] == [
        ("certificates/a.pdf", 3, hashlib.md5(b"abc").hexdigest())
    ]
    assert stat_object(target, "certificates/a.pdf") is not None
    assert stat_object(target, "certificates/none.pdf") is None
    assert sent.operations == ["PutObject", "ListObjectsV2", "HeadObject", "HeadObject"]


def test_s3fs_retries_apply_to_direct_calls(local: BackendFS, make_s3: Any, put_file: Any) -> None:
    """With fs.retries = 2, a SlowDown is retried once, as s3fs would."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    target = make_s3()
    target.fs.retries = 2  # type: ignore[attr-defined]
    direct = direct_for(target)
    assert direct is not None
    sent = Sent(direct)
    calls: list[int] = []

    def slow_down_once(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(1)
        return AWSResponse(request.url, 503, {}, Raw()) if len(calls) == 1 else None

    direct.client().meta.events.register("before-send.s3.PutObject", slow_down_once)
    result = copy_object(local, target, put_file("certificates/a.pdf", b"abc"))
    assert result.verified == "etag"
    assert sent.operations == ["PutObject", "PutObject"]


def test_errors_are_translated_like_s3fs_and_keep_secrets_out(
    moto_server: str, local: BackendFS, put_file: Any
) -> None:
    """A missing bucket is FileNotFoundError; the secret is in no message or repr."""
    secret = "not-a-real-secret-0123456789"
    target = build_backend(
        "s3",
        Backend(
            url="s3://no-such-bucket-here/prod",
            options={"endpoint_url": moto_server, "key": "testing", "secret": secret},
        ),
    )
    direct = direct_for(target)
    assert direct is not None
    assert secret not in repr(direct)
    with pytest.raises(FileNotFoundError) as caught:
        copy_object(local, target, put_file("certificates/a.pdf", b"abc"))
    chain: list[BaseException] = []
    exc: BaseException | None = caught.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__
    assert all(secret not in str(e) and secret not in repr(e) for e in chain)


def test_an_s3_error_without_a_builtin_meaning_is_an_oserror_with_its_cause(
    make_s3: Any, s3: Any, bucket: str
) -> None:
    """InvalidRange from the direct client: OSError(EIO), the botocore error as its cause."""
    import errno

    from botocore.exceptions import ClientError

    target = make_s3()
    s3.put_object(Bucket=bucket, Key="prod/tiny", Body=b"abc")
    with pytest.raises(OSError) as caught:
        _direct(target).call("get_object", Bucket=bucket, Key="prod/tiny", Range="bytes=100-200")
    assert caught.value.errno == errno.EIO
    assert isinstance(caught.value.__cause__, ClientError)
    assert target.built_fs is None  # answered without building (or importing) s3fs


@pytest.mark.parametrize(
    "options",
    [{"anon": True}, {"cache_regions": True}, {"config_kwargs": {"no_such_option": 1}}],
    ids=["anon", "cache_regions", "unknown-config"],
)
def test_settings_a_client_cannot_mirror_keep_the_s3fs_path(
    make_s3: Any, options: dict[str, Any]
) -> None:
    """anon, cache_regions and options botocore does not know: no direct client."""
    assert direct_for(make_s3(**options)) is None


def test_wrappers_and_local_backends_get_no_direct_client(local: BackendFS, make_s3: Any) -> None:
    """A FaultyFileSystem in front of s3fs, and a local directory: None."""
    target = make_s3()
    wrapped = BackendFS("s3", FaultyFileSystem(target.fs), target.root, "s3", {})
    assert direct_for(wrapped) is None
    assert direct_for(local) is None
    assert isinstance(direct_for(target), S3Direct)


def test_without_a_direct_client_copies_go_through_s3fs_verified(
    local: BackendFS, make_s3: Any, put_file: Any, s3: Any, bucket: str, monkeypatch: Any
) -> None:
    """The s3fs path (no direct client): small ones ETag-checked, big ones size-checked."""
    import router.migrate.s3direct as s3direct

    monkeypatch.setattr(s3direct, "_build", lambda fs: None)
    target = make_s3()
    assert direct_for(target) is None
    data = os.urandom(BIG)
    small = copy_object(local, target, put_file("certificates/a.pdf", b"abc"))
    big = copy_object(local, target, put_file("certificates/big.bin", data))
    assert (small.verified, big.verified) == ("etag", "size")
    body = s3.get_object(Bucket=bucket, Key="prod/certificates/big.bin")["Body"].read()
    assert body == data


def test_part_size_keeps_uploads_within_10000_parts() -> None:
    """8 MiB parts up to 10,000 of them; beyond that, whole MiB parts that fit."""
    assert part_size(1) == RANGE
    assert part_size(10_000 * RANGE) == RANGE
    for size in (10_000 * RANGE + 1, 5 * 2**40):
        part = part_size(size)
        assert part % 2**20 == 0
        assert -(-size // part) <= 10_000


_MEASURE = """
import sys, tracemalloc
from router.backends import build_backend
from router.migrate import copy_object
from router.migrate.listing import ObjectInfo
from router.policy.model import Backend

root, endpoint, bucket, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
local = build_backend("local", Backend(url="file://" + root))
s3 = build_backend("s3", Backend(url=f"s3://{bucket}/prod", options={"endpoint_url": endpoint}))
copy_object(local, s3, ObjectInfo("certificates/warm.pdf", 1))  # client, models
tracemalloc.start()
result = copy_object(local, s3, ObjectInfo("certificates/big.bin", size))
print(result.verified, tracemalloc.get_traced_memory()[1])
"""


def test_a_multipart_copy_holds_one_part_in_memory(
    moto_server: str, bucket: str, local_root: Path, put_file: Any
) -> None:
    """Copying 40 MiB allocates about one 8 MiB part at a time (tracemalloc peak, in a
    process of its own: the test's moto server allocates in this one)."""
    import subprocess
    import sys

    put_file("certificates/warm.pdf", b"x")
    size = put_file("certificates/big.bin", os.urandom(5 * RANGE + 1)).size
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(local_root), moto_server, bucket, str(size)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    ).stdout.split()
    assert out[0] == "parts"
    peak = int(out[1])
    assert peak < RANGE + 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"
