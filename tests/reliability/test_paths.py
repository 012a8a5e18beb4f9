"""Item 12: hostile paths. Every input is refused before any backend I/O, or lands inside
the backend root under exactly one canonical key — through every Router op.

Refusal is checked with a :class:`FaultyFileSystem` (no faults) in front of each backend:
its ``calls`` counter must stay empty. Landing is checked on a real local root: the only
new file is ``ROOT/<canonical key>``, its real path is inside the root, nothing appears
outside, and the key reads back. ``ROUTER_STRESS=1`` runs ten times as many fuzz examples.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import KeyRejected, Router
from router.keys import MAX_KEY_BYTES, MAX_SEGMENT_BYTES, normalize_key
from router.testing import FaultyFileSystem
from tests.reliability.rel_helpers import STRESS, scaled

REFUSED = {
    "parent": "../x",
    "parent-inside": "a/../../x",
    "parent-at-end": "a/b/..",
    "dot": "./x",
    "absolute": "/etc/passwd",
    "absolute-router-url": "router:///etc/passwd",
    "backslash": "a\\b",
    "backslash-parent": "..\\..\\x",
    "windows-drive": "C:\\x",
    "unc": "\\\\server\\share\\x",
    "nul": "a\x00b",
    "nul-suffix": "x.pdf\x00.txt",
    "cr": "a\rb",
    "lf": "a\nb",
    "crlf-header-smuggling": "a\r\nX-Amz-Acl: public-read",
    "tab": "a\tb",
    "escape": "a\x1b[31mb",
    "del": "a\x7fb",
    "double-slash": "a//b",
    "over-long-key": "k/" * (MAX_KEY_BYTES // 2) + "x",
    "over-long-component": "a/" + "x" * (MAX_SEGMENT_BYTES + 1),
    "over-long-component-utf8": "a/" + "東" * (MAX_SEGMENT_BYTES // 3 + 1),
    "invalid-utf8-surrogateescape": os.fsdecode(b"a/\xff\xfe.pdf"),
    "lone-surrogate": "a/\ud800",
    "empty": "",
    "slash": "/",
}

LANDS = {
    "percent-dots-literal": "%2e%2e/x",
    "percent-slash-literal": "a%2F..%2Fb",
    "percent-nul-literal": "a%00b",
    "fullwidth-dots": "\uff0e\uff0e/x",
    "fullwidth-dots-inside": "a/\uff0e\uff0e/\uff0e\uff0e/x",
    "one-dot-leader": "\u2025/x",
    "zero-width-dots": ".\u200b./x",
    "three-dots": ".../x",
    "trailing-dot": "a./b.",
    "trailing-space": "a /b ",
    "leading-space-dots": " ../x",
    "drive-like": "C:x",
    "nfc": unicodedata.normalize("NFC", "Curaçao/é.pdf"),
    "nfd": unicodedata.normalize("NFD", "Curaçao/é.pdf"),
    "max-component": "a/" + "x" * MAX_SEGMENT_BYTES,
    "hidden": ".hidden",
}


def _ops(
    fs: Router, key: str, *, directory_ops: bool = True
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Every Router op that takes a key, with ``key`` in each key position (``info``,
    ``exists`` and ``ls`` also take directories, where ``""`` names the root)."""
    yield "cat_file", lambda: fs.cat_file(key)
    yield "open-rb", lambda: fs.open(key, "rb")
    yield "open-wb", lambda: fs.open(key, "wb")
    yield "pipe_file", lambda: fs.pipe_file(key, b"x")
    yield "rm_file", lambda: fs.rm_file(key)
    yield "url", lambda: fs.url(key)
    yield "modified", lambda: fs.modified(key)
    yield "cp-from", lambda: fs.cp_file(key, "ok/target")
    yield "cp-to", lambda: fs.cp_file("ok/source", key)
    if directory_ops and key not in ("", "/"):
        yield "info", lambda: fs.info(key)
        yield "exists", lambda: fs.exists(key)
        yield "ls", lambda: fs.ls(key)


def _policy(root: Path, journal: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "backends": {
            "a": {"url": f"file://{root / 'a'}"},
            "b": {"url": f"memory://{root / 'b'}"},
        },
        "journal": {"url": f"file://{journal}"},
        "routes": {
            "main": {"prefix": "", "primary": "a", "shadow": "b", "mode": "dual-write"},
        },
    }


@pytest.fixture
def watched(
    tmp_path: Path, routers: Callable[..., Router]
) -> tuple[Router, list[FaultyFileSystem]]:
    """A dual-write Router whose backends count every call (no faults)."""
    (tmp_path / "a").mkdir()
    fs = routers(_policy(tmp_path, tmp_path / "journal"))
    fs.pipe_file("ok/source", b"source")
    watchers = []
    for backend in fs.backends.values():
        backend.fs = FaultyFileSystem(backend.fs)
        watchers.append(backend.fs)
    return fs, watchers


@pytest.mark.parametrize("key", REFUSED.values(), ids=REFUSED.keys())
def test_hostile_key_is_refused_before_any_io(
    key: str, watched: tuple[Router, list[FaultyFileSystem]]
) -> None:
    """Each hostile key is refused (KeyRejected) by every op, and no backend is called."""
    fs, watchers = watched
    for name, op in _ops(fs, key):
        with pytest.raises(KeyRejected):
            op()
        assert all(not w.calls for w in watchers), f"{name} touched a backend"


@pytest.mark.parametrize("method", ["mv", "copy"])
def test_move_to_a_hostile_key_is_refused_before_any_io(
    method: str, watched: tuple[Router, list[FaultyFileSystem]]
) -> None:
    """mv/copy to a hostile destination is refused before the source is even looked at."""
    fs, watchers = watched
    with pytest.raises(KeyRejected):
        getattr(fs, method)("ok/source", "../x")
    assert all(not w.calls for w in watchers)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(b"a/b", id="bytes"),
        pytest.param(b"a/\xff.pdf", id="bad-utf8"),
        pytest.param(7, id="int"),
        pytest.param(None, id="none"),
    ],
)
def test_non_text_key_is_refused_before_any_io(
    key: Any, watched: tuple[Router, list[FaultyFileSystem]]
) -> None:
    """A key that is not text (raw bytes, invalid UTF-8, a number) is refused without I/O."""
    fs, watchers = watched
    for op in (lambda: fs.cat_file(key), lambda: fs.pipe_file(key, b"x"), lambda: fs.rm_file(key)):
        with pytest.raises((KeyRejected, TypeError)):
            op()
    assert all(not w.calls for w in watchers)


def _files(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file() or p.is_symlink()}


def assert_lands_inside(fs: Router, tmp: Path, key: str, data: bytes) -> None:
    """Writing ``key`` creates exactly ROOT/canonical (inside the root) and reads back."""
    root = (tmp / "a").resolve()
    canonical = normalize_key(Router._strip_protocol(key))
    before = _files(tmp)
    fs.pipe_file(key, data)
    new = _files(tmp) - before
    target = root / canonical
    assert new <= {target}, f"{key!r} created {sorted(map(str, new))}"
    assert target.read_bytes() == data
    assert os.path.commonpath([os.path.realpath(target), root]) == str(root)
    assert fs.cat_file(key) == fs.cat_file(canonical) == data
    assert fs.info(key)["name"] == canonical
    assert canonical in fs.ls(canonical.rpartition("/")[0], detail=False)


@pytest.mark.parametrize("key", LANDS.values(), ids=LANDS.keys())
def test_odd_but_legal_key_lands_inside_the_root(
    key: str, tmp_path: Path, routers: Callable[..., Router]
) -> None:
    """Percent-escapes, fullwidth dots, NFC/NFD, trailing dots/spaces are literal names inside the root."""
    (tmp_path / "a").mkdir()
    fs = routers(_policy(tmp_path, tmp_path / "journal"))
    assert_lands_inside(fs, tmp_path, key, key.encode("utf-8", "surrogatepass"))


def test_nfc_and_nfd_are_two_keys(tmp_path: Path, routers: Callable[..., Router]) -> None:
    """NFC and NFD spellings are two keys, two files: neither overwrites the other."""
    (tmp_path / "a").mkdir()
    fs = routers(_policy(tmp_path, tmp_path / "journal"))
    nfc, nfd = LANDS["nfc"], LANDS["nfd"]
    fs.pipe_file(nfc, b"nfc")
    fs.pipe_file(nfd, b"nfd")
    assert (fs.cat_file(nfc), fs.cat_file(nfd)) == (b"nfc", b"nfd")


PIECES = st.sampled_from(
    [
        "/",
        "//",
        ".",
        "..",
        "...",
        "\\",
        ":",
        "C:",
        "%2e",
        "%2f",
        "%00",
        "\x00",
        "\r",
        "\n",
        "\t",
        " ",
        "\uff0e",
        "\u2025",
        "e\u0301",
        "é",
        "東",
        "Δ",
        "\udcff",
        "\ud800",
        "~",
        "$HOME",
        "router://",
        "a",
        "b",
        "x" * 255,
        "é" * 128,
    ]
)
FUZZ_KEYS = st.one_of(
    st.lists(PIECES, max_size=8).map("".join),
    st.text(max_size=40),
    st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=10).map("".join),
)


@settings(
    max_examples=scaled(300, 3000),
    deadline=None,
    derandomize=not STRESS,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(key=FUZZ_KEYS, data=st.binary(max_size=64))
def test_fuzzed_key_is_refused_without_io_or_lands_inside(key: str, data: bytes) -> None:
    """Any string: refused with no backend call, or written to exactly one file inside the root."""
    with tempfile.TemporaryDirectory(prefix="router-fuzz-") as raw:
        tmp = Path(raw)
        (tmp / "a").mkdir()
        with Router.from_dict(_policy(tmp, tmp / "journal")) as fs:
            try:
                # the Router strips one "router://" and normalize_key may strip another
                stripped = Router._strip_protocol(key)
                canonical: str | None = normalize_key(stripped, allow_root=False)
            except KeyRejected:
                canonical = None
            if canonical is None:
                watchers = []
                for backend in fs.backends.values():
                    backend.fs = FaultyFileSystem(backend.fs)
                    watchers.append(backend.fs)
                for _, op in _ops(fs, key, directory_ops=False):
                    with pytest.raises(KeyRejected):
                        op()
                assert all(not w.calls for w in watchers)
                try:  # as a directory: refused, or one spelling of the root ("//")
                    name = fs.info(key)["name"]
                except KeyRejected:
                    pass
                else:
                    assert name == ""
                assert _files(tmp) == set()
            else:
                assert_lands_inside(fs, tmp, key, data)
                assert _files(tmp / "a") == {(tmp / "a").resolve() / canonical}
            memory = fs.backends["b"]
            if memory.fs.exists(memory.root):
                memory.fs.rm(memory.root, recursive=True)  # the memory store is global


# -- symlinks inside a local root ------------------------------------------------------


@pytest.fixture
def escape_hatch(tmp_path: Path, routers: Callable[..., Router]) -> tuple[Router, Path]:
    """A local root with ``link -> ../outside`` (a directory) and ``passwd -> ../outside/secret``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"outside the root")
    (tmp_path / "a").mkdir()
    os.symlink(outside, tmp_path / "a" / "link")
    os.symlink(outside / "secret", tmp_path / "a" / "passwd")
    policy = _policy(tmp_path, tmp_path / "journal")
    policy["routes"]["main"] = {"prefix": "", "primary": "a"}
    return routers(policy), outside


def test_read_through_a_symlinked_directory_is_refused(escape_hatch: tuple[Router, Path]) -> None:
    """Reading ROOT/link/secret, where link points outside the root, is refused."""
    fs, _ = escape_hatch
    with pytest.raises((KeyRejected, PermissionError, FileNotFoundError)):
        fs.cat_file("link/secret")


def test_read_through_a_symlinked_file_is_refused(escape_hatch: tuple[Router, Path]) -> None:
    """Reading ROOT/passwd, a symlink to a file outside the root, is refused."""
    fs, _ = escape_hatch
    with pytest.raises((KeyRejected, PermissionError, FileNotFoundError)):
        fs.cat_file("passwd")


def test_write_through_a_symlinked_directory_stays_inside(
    escape_hatch: tuple[Router, Path],
) -> None:
    """Writing ROOT/link/new is refused, or at least creates nothing outside the root."""
    fs, outside = escape_hatch
    with contextlib.suppress(KeyRejected, PermissionError):
        fs.pipe_file("link/new", b"planted")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_listing_a_symlinked_directory_is_refused(escape_hatch: tuple[Router, Path]) -> None:
    """Listing ROOT/link does not show the outside directory's files."""
    fs, _ = escape_hatch
    try:
        listed = fs.ls("link", detail=False)
    except (KeyRejected, PermissionError, FileNotFoundError):
        listed = []
    assert "link/secret" not in listed


def test_write_over_a_symlinked_file_replaces_the_link_not_the_target(
    escape_hatch: tuple[Router, Path], tmp_path: Path
) -> None:
    """Writing ROOT/passwd (a symlink to outside) replaces the link inside the root; the outside file is untouched."""
    fs, outside = escape_hatch
    try:
        fs.pipe_file("passwd", b"new content")
    except (KeyRejected, PermissionError):
        return
    assert (outside / "secret").read_bytes() == b"outside the root"
    assert not (tmp_path / "a" / "passwd").is_symlink()
