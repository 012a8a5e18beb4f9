"""RouterStorage in a real Django project: a FileField through every phase of the
certificates migration, with S3 on the moto server and the local side in a temp dir."""

from __future__ import annotations

import datetime as dt
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from certs.models import ARCHIVE, Certificate
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.migrations.writer import MigrationWriter

from router.contrib.django import RouterStorage
from router.errors import FlipRefused

pytestmark = pytest.mark.s3

PHASES = ("legacy", "dual-write", "s3-primary", "s3-read", "s3-only")
NAME = "Curaçao-東京-Δ.pdf"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64 + "Curaçao 東京 Δ".encode() + b"\n%%EOF\n"

# Where each phase writes a new file, and which backend serves it.
WRITES = {
    "legacy": {"local"},
    "dual-write": {"local", "s3"},
    "s3-primary": {"local", "s3"},
    "s3-read": {"s3"},
    "s3-only": {"s3"},
}
SERVES = {
    "legacy": "local",
    "dual-write": "local",
    "s3-primary": "s3",
    "s3-read": "s3",
    "s3-only": "s3",
}


def local_files(root: Path) -> dict[str, bytes]:
    """Every file under the local backend root, by key."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def bucket_files(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object of the bucket under the backend root ``prod/``, by key."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            found[obj["Key"].removeprefix("prod/")] = body
    return found


def fetch(url: str) -> bytes:
    """GET a URL (file:// or the moto server's presigned http://)."""
    with urllib.request.urlopen(url) as response:
        return bytes(response.read())


def upload(content: bytes = PDF, name: str = NAME) -> SimpleUploadedFile:
    """An uploaded PDF as a view would receive it."""
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.mark.django_db
@pytest.mark.parametrize("phase", PHASES)
def test_filefield_lifecycle_in_each_phase(
    phase: str,
    use_phase: Callable[..., Any],
    local_root: Path,
    moto_server: str,
    bucket: str,
) -> None:
    """A UTF-8-named upload lands on exactly the phase's backends, reads, serves, deletes."""
    storage = use_phase(phase)
    cert = Certificate.objects.create(title=phase, pdf=upload())
    key = f"certificates/2025/{NAME}"
    assert cert.pdf.name == key  # get_valid_name keeps the UTF-8 name as it is

    assert local_files(local_root) == ({key: PDF} if "local" in WRITES[phase] else {})
    assert bucket_files(moto_server, bucket) == ({key: PDF} if "s3" in WRITES[phase] else {})

    fresh = Certificate.objects.get(pk=cert.pk)
    with fresh.pdf.open("rb") as handle:
        assert handle.read() == PDF
    assert fresh.pdf.size == len(PDF)
    assert storage.exists(key)

    url = fresh.pdf.url
    assert url.startswith("file://" if SERVES[phase] == "local" else f"{moto_server}/{bucket}/")
    assert fetch(url) == PDF

    fresh.pdf.delete(save=False)
    assert not storage.exists(key)
    assert local_files(local_root) == {}
    assert bucket_files(moto_server, bucket) == {}


@pytest.mark.django_db
def test_one_storage_walks_the_whole_migration(
    policy_file: Callable[..., Path],
    use_storage: Callable[..., Any],
    local_root: Path,
    moto_server: str,
    bucket: str,
) -> None:
    """Flipping the policy's phase moves new writes to S3 while old files stay served."""
    storage = use_storage(policy=str(policy_file("legacy")))

    def save(phase: str) -> str:
        return str(Certificate.objects.create(title=phase, pdf=upload(phase.encode())).pdf.name)

    def read(name: str) -> bytes:
        with Certificate.objects.get(pdf=name).pdf.open("rb") as handle:
            return bytes(handle.read())

    legacy = save("legacy")
    assert legacy == f"certificates/2025/{NAME}"

    assert storage.router.reload() is False  # same file: nothing changes
    policy_file("dual-write")
    assert storage.router.reload() is True
    dual = save("dual-write")
    assert dual != legacy  # the name is taken: Django picks a free one
    assert read(legacy) == b"legacy"

    policy_file("s3-primary")
    assert storage.router.reload() is True
    s3_primary = save("s3-primary")
    assert read(legacy) == b"legacy"  # not on S3 yet: the read falls back to local
    assert read(dual) == b"dual-write"

    policy_file("s3-read")
    assert storage.router.reload() is True
    s3_read = save("s3-read")
    assert read(legacy) == b"legacy"  # S3 lacks it; local is the read-only legacy side
    storage.delete(s3_primary)  # S3 only: local is read-only now; the journal says so
    assert not storage.exists(s3_primary)
    with pytest.raises(FileNotFoundError):
        read(s3_primary)

    policy_file("s3-only")
    with pytest.raises(FlipRefused):  # local still holds a deleted key: repair first
        storage.router.reload()
    assert read(legacy) == b"legacy"  # the refused flip left s3-read in force
    policy_file("s3-only", force=True)
    assert storage.router.reload() is True
    assert read(dual) == b"dual-write"
    assert read(s3_read) == b"s3-read"
    with pytest.raises(FileNotFoundError):
        read(legacy)  # never backfilled: gone once local is out of the policy

    assert local_files(local_root) == {
        legacy: b"legacy",
        dual: b"dual-write",
        s3_primary: b"s3-primary",  # deleted in s3-read, where local is read-only
    }
    assert bucket_files(moto_server, bucket) == {dual: b"dual-write", s3_read: b"s3-read"}


@pytest.mark.django_db
@pytest.mark.parametrize("phase", ["dual-write", "s3-read"])
def test_name_collision_gets_a_new_name(
    phase: str, use_phase: Callable[..., Any], local_root: Path, moto_server: str, bucket: str
) -> None:
    """A second save under a taken name gets a new name; both files keep their bytes."""
    use_phase(phase)
    first = Certificate.objects.create(title="first", pdf=upload(b"first"))
    second = Certificate.objects.create(title="second", pdf=upload(b"second"))
    assert first.pdf.name == f"certificates/2025/{NAME}"
    assert second.pdf.name != first.pdf.name
    assert second.pdf.name.startswith("certificates/2025/Curaçao-東京-Δ_")
    assert second.pdf.name.endswith(".pdf")
    stored = bucket_files(moto_server, bucket)
    assert stored[first.pdf.name] == b"first"
    assert stored[second.pdf.name] == b"second"
    if "local" in WRITES[phase]:
        assert local_files(local_root) == stored


@pytest.mark.django_db
@pytest.mark.parametrize("option", ["file_overwrite", "allow_overwrite"])
def test_overwrite_when_configured(
    option: str, use_phase: Callable[..., Any], local_root: Path, moto_server: str, bucket: str
) -> None:
    """With file_overwrite or allow_overwrite a save replaces the same name on both sides."""
    use_phase("dual-write", **{option: True})
    first = Certificate.objects.create(title="first", pdf=upload(b"first"))
    second = Certificate.objects.create(title="second", pdf=upload(b"second"))
    assert second.pdf.name == first.pdf.name
    assert local_files(local_root) == {first.pdf.name: b"second"}
    assert bucket_files(moto_server, bucket) == {first.pdf.name: b"second"}


@pytest.mark.django_db
def test_overwrite_truncates_to_max_length(use_phase: Callable[..., Any]) -> None:
    """An overwriting save still fits the field's max_length, keeping the extension."""
    storage = use_phase("legacy", file_overwrite=True)
    name = storage.save("certificates/" + "ж" * 40 + ".pdf", ContentFile(b"x"), max_length=30)
    assert name == "certificates/" + "ж" * 13 + ".pdf"
    assert len(name) == 30
    with pytest.raises(SuspiciousFileOperation):
        storage.save("certificates/abc.pdf", ContentFile(b"x"), max_length=10)


@pytest.mark.django_db
@pytest.mark.parametrize("phase", PHASES)
def test_path_only_while_local_serves(
    phase: str, use_phase: Callable[..., Any], local_root: Path
) -> None:
    """path() is the local file while local serves the key; NotImplementedError once S3 does."""
    storage = use_phase(phase)
    cert = Certificate.objects.create(title=phase, pdf=upload())
    if SERVES[phase] == "local":
        path = storage.path(cert.pdf.name)
        assert path == str(local_root / "certificates" / "2025" / NAME)
        assert Path(path).read_bytes() == PDF
        assert cert.pdf.path == path
    else:
        with pytest.raises(NotImplementedError):
            storage.path(cert.pdf.name)
        with pytest.raises(NotImplementedError):
            _ = cert.pdf.path


@pytest.mark.django_db
@pytest.mark.parametrize("phase", PHASES)
def test_base_url_for_local_files_presigned_for_s3(
    phase: str, use_phase: Callable[..., Any], moto_server: str, bucket: str
) -> None:
    """With base_url, local files get base_url + key and S3 files a presigned URL."""
    use_phase(phase, base_url="https://example.test/media")
    cert = Certificate.objects.create(title=phase, pdf=upload())
    if SERVES[phase] == "local":
        assert cert.pdf.url == (
            "https://example.test/media/certificates/2025/"
            "Cura%C3%A7ao-%E6%9D%B1%E4%BA%AC-%CE%94.pdf"
        )
    else:
        assert cert.pdf.url.startswith(f"{moto_server}/{bucket}/prod/certificates/2025/")
        assert fetch(cert.pdf.url) == PDF


@pytest.mark.django_db
@pytest.mark.parametrize("phase", ["legacy", "s3-only"])
def test_listdir_directories_and_files(phase: str, use_phase: Callable[..., Any]) -> None:
    """listdir gives sub-directories and files of a directory; a missing one is empty."""
    storage = use_phase(phase)
    storage.save(f"certificates/2025/{NAME}", ContentFile(PDF))
    storage.save("certificates/2025/b.pdf", ContentFile(b"b"))
    storage.save("certificates/2026/c.pdf", ContentFile(b"c"))
    assert storage.listdir("certificates") == (["2025", "2026"], [])
    assert storage.listdir("certificates/2025") == ([], sorted([NAME, "b.pdf"]))
    assert storage.listdir("certificates/1999") == ([], [])
    with pytest.raises(NotADirectoryError):
        storage.listdir("certificates/2025/b.pdf")


@pytest.mark.django_db
@pytest.mark.parametrize("phase", PHASES)
def test_times_are_aware_with_use_tz(phase: str, use_phase: Callable[..., Any]) -> None:
    """Times are aware UTC with USE_TZ; atime/ctime raise NotImplementedError on S3."""
    storage = use_phase(phase)
    name = storage.save(f"certificates/{NAME}", ContentFile(PDF))
    modified = storage.get_modified_time(name)
    assert isinstance(modified, dt.datetime)
    assert modified.utcoffset() == dt.timedelta(0)
    if SERVES[phase] == "local":
        for when in (storage.get_accessed_time(name), storage.get_created_time(name)):
            assert when.utcoffset() == dt.timedelta(0)
    else:
        with pytest.raises(NotImplementedError):
            storage.get_accessed_time(name)
    if phase in ("s3-read", "s3-only"):  # only S3 holds the file, and S3 has no ctime
        with pytest.raises(NotImplementedError):
            storage.get_created_time(name)


@pytest.fixture
def keep_process_tz() -> Iterator[None]:
    """Restores the process time zone that Django resets when TIME_ZONE changes."""
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.django_db
@pytest.mark.parametrize("phase", ["dual-write", "s3-only"])
def test_times_are_naive_without_use_tz(
    keep_process_tz: None, phase: str, use_phase: Callable[..., Any], settings: Any
) -> None:
    """Without USE_TZ, times are naive, in the default time zone."""
    settings.USE_TZ = False
    settings.TIME_ZONE = "Asia/Tokyo"
    storage = use_phase(phase)
    name = storage.save(f"certificates/{NAME}", ContentFile(PDF))
    naive = storage.get_modified_time(name)
    assert naive.tzinfo is None
    settings.USE_TZ = True
    aware = storage.get_modified_time(name)
    assert naive - aware.replace(tzinfo=None) == dt.timedelta(hours=9)


@pytest.mark.django_db
@pytest.mark.parametrize("phase", PHASES)
def test_missing_files(phase: str, use_phase: Callable[..., Any]) -> None:
    """A missing file does not exist, has no size, cannot be opened, and deletes quietly."""
    storage = use_phase(phase)
    name = "certificates/missing.pdf"
    assert not storage.exists(name)
    storage.delete(name)
    with pytest.raises(FileNotFoundError):
        storage.size(name)
    with pytest.raises(FileNotFoundError):
        storage.open(name)
    with pytest.raises(ValueError, match="name must be given"):
        storage.delete("")


@pytest.mark.django_db
def test_streams_large_and_text_content(
    use_phase: Callable[..., Any], local_root: Path, moto_server: str, bucket: str
) -> None:
    """Multi-chunk content arrives byte-exact on both sides; text is stored as UTF-8."""
    storage = use_phase("dual-write")
    big = bytes(range(251)) * (3 * 2**20 // 251)  # ~3 MiB, many 64 KiB chunks
    big_name = storage.save("certificates/big.bin", ContentFile(big))
    text_name = storage.save("certificates/note.txt", ContentFile("Curaçao 東京 Δ\n"))
    assert local_files(local_root) == bucket_files(moto_server, bucket)
    assert local_files(local_root)[big_name] == big
    assert local_files(local_root)[text_name] == "Curaçao 東京 Δ\n".encode()
    with storage.open(text_name, "r") as handle:
        assert handle.read() == "Curaçao 東京 Δ\n"
    assert storage.size(big_name) == len(big)


@pytest.mark.django_db
def test_write_mode_open_streams_through_the_router(
    use_phase: Callable[..., Any], local_root: Path, moto_server: str, bucket: str
) -> None:
    """storage.open(name, "wb") writes to each side of the phase on close."""
    storage = use_phase("s3-primary")
    with storage.open(f"certificates/{NAME}", "wb") as handle:
        handle.write(b"part one, ")
        handle.write(b"part two")
    assert local_files(local_root) == {f"certificates/{NAME}": b"part one, part two"}
    assert bucket_files(moto_server, bucket) == {f"certificates/{NAME}": b"part one, part two"}


@pytest.mark.django_db
def test_names_that_escape_are_refused(use_phase: Callable[..., Any]) -> None:
    """Names that would escape the backend root are SuspiciousFileOperation, before I/O."""
    storage = use_phase("legacy")
    for name in ("../etc/passwd", "/etc/passwd", "certificates/../../x.pdf"):
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(b"x"))
        with pytest.raises(SuspiciousFileOperation):
            storage.exists(name)


@pytest.mark.django_db
def test_prefix_namespaces_keys(
    use_phase: Callable[..., Any], local_root: Path, moto_server: str, bucket: str
) -> None:
    """With prefix, a storage name maps to prefix/name on the backends and back."""
    storage = use_phase("dual-write", prefix="/certificates/")
    name = storage.save(f"2025/{NAME}", ContentFile(PDF))
    assert name == f"2025/{NAME}"
    assert local_files(local_root) == {f"certificates/2025/{NAME}": PDF}
    assert bucket_files(moto_server, bucket) == {f"certificates/2025/{NAME}": PDF}
    assert storage.listdir("2025") == ([], [NAME])
    assert storage.open(name).read() == PDF
    storage.delete(name)
    assert not storage.exists(name)


def test_storages_setting_builds_the_router_lazily_once(
    use_storage: Callable[..., Any], local_root: Path, tmp_path: Path
) -> None:
    """STORAGES builds the Router lazily, once, from a policy path relative to BASE_DIR."""
    storage = use_storage(
        policy="policies/media.yaml",
        router_options={
            "environ": {"MEDIA_ROOT": str(local_root), "JOURNAL_DIR": str(tmp_path / "j")}
        },
    )
    assert isinstance(storage, RouterStorage)
    assert storage is storages["default"]
    assert storage._router is None
    router = storage.router
    assert storage.router is router
    assert Path(router.policy.source) == Path(__file__).parent / "policies" / "media.yaml"
    name = default_storage.save(f"avatars/{NAME}", ContentFile(b"avatar"))
    assert name == f"avatars/{NAME}"
    assert (local_root / "avatars" / NAME).read_bytes() == b"avatar"
    assert storage.router is router
    storage.close()
    assert storage._router is None


def test_policy_as_dict(cert_policy: Any, use_storage: Callable[..., Any]) -> None:
    """OPTIONS may give the policy inline as a dict."""
    storage = use_storage(policy=cert_policy("s3-only"))
    name = storage.save(f"certificates/{NAME}", ContentFile(b"inline"))
    assert storage.open(name).read() == b"inline"


def test_policy_is_required() -> None:
    """A storage without a policy is a configuration error at construction."""
    with pytest.raises(ValueError, match="needs a policy"):
        RouterStorage(policy="")


def test_deconstruct_serializes_for_migrations() -> None:
    """deconstruct() serializes into a migration and rebuilds an equal storage."""
    path, args, kwargs = ARCHIVE.deconstruct()
    assert path == "router.contrib.django.RouterStorage"
    assert args == ()
    assert kwargs == {
        "policy": "policies/archive.yaml",
        "prefix": "archive",
        "file_overwrite": True,
    }
    source, imports = MigrationWriter.serialize(ARCHIVE)
    assert imports == {"import router.contrib.django"}
    import router.contrib.django

    rebuilt = eval(source, {"router": router})
    assert rebuilt.deconstruct() == ARCHIVE.deconstruct()
    assert rebuilt._router is None  # deconstructing and rebuilding never built a Router


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    """The checked-in migration matches the models, RouterStorage field included."""
    try:
        call_command("makemigrations", "certs", "--check", "--dry-run", verbosity=0)
    except SystemExit as exited:  # --check exits 1 when a migration is missing
        pytest.fail(f"models and migrations differ (makemigrations --check exited {exited.code})")


def test_only_the_contrib_module_imports_django() -> None:
    """Django stays an optional extra: no other module of the package imports it."""
    import ast

    package = Path(__file__).resolve().parents[2] / "router"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            if any(n == "django" or n.startswith("django.") for n in names):
                importers.add(path.relative_to(package.parent).as_posix())
    assert importers == {"router/contrib/django.py"}
