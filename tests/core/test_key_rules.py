"""Keys: what :func:`router.keys.normalize_key` refuses and accepts, and that a refused key
never reaches a backend."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from router import KeyRejected, Router
from router.keys import MAX_KEY_BYTES, MAX_SEGMENT_BYTES, normalize_key
from router.testing import inject_faults

REFUSED = {
    "dot-dot": "..",
    "dot-dot-inside": "certificates/../../etc/passwd",
    "dot-dot-last": "certificates/..",
    "dot": "certificates/./a.pdf",
    "empty-segment": "certificates//a.pdf",
    "absolute": "/etc/passwd",
    "absolute-via-protocol": "router:///etc/passwd",
    "nul": "certificates/a\x00.pdf",
    "backslash": "certificates\\..\\secret",
    "windows-drive": "C:\\x",
    "cr": "certificates/a\r.pdf",
    "lf": "certificates/a\n.pdf",
    "tab": "certificates/a\t.pdf",
    "del": "certificates/a\x7f.pdf",
    "over-long-key": "k/" * (MAX_KEY_BYTES // 2) + "x",
    "over-long-segment": "certificates/" + "é" * (MAX_SEGMENT_BYTES // 2 + 1),
    "lone-surrogate": "certificates/\udcff.pdf",
    "lone-high-surrogate": "certificates/\ud800.pdf",
    "empty": "",
    "only-slash": "/",
}

MAX_BYTES_KEY = "/".join(["é" * 127, "k" * 255, "k" * 255, "k" * 200, "k" * 56])
assert len(MAX_BYTES_KEY.encode()) == MAX_KEY_BYTES

ACCEPTED = {
    "plain": ("certificates/2025/a.pdf", "certificates/2025/a.pdf"),
    "unicode": ("certificates/Curaçao/東京/Δ.pdf", "certificates/Curaçao/東京/Δ.pdf"),
    "percent-dots-literal": ("certificates/%2e%2e/a.pdf", "certificates/%2e%2e/a.pdf"),
    "percent-slash-literal": ("a%2F..%2Fb", "a%2F..%2Fb"),
    "three-dots": ("certificates/.../a", "certificates/.../a"),
    "dots-in-name": ("certificates/a..b.pdf", "certificates/a..b.pdf"),
    "hidden": ("certificates/.a.pdf", "certificates/.a.pdf"),
    "trailing-slash": ("certificates/2025/", "certificates/2025"),
    "protocol": ("router://certificates/a.pdf", "certificates/a.pdf"),
    "drive-like": ("C:/x", "C:/x"),
    "long-segments": ("k" * 200 + "/" + "k" * 200, "k" * 200 + "/" + "k" * 200),
    "max-bytes": (MAX_BYTES_KEY, None),
}


@pytest.mark.parametrize("key", REFUSED.values(), ids=REFUSED.keys())
def test_refused_keys(key: str) -> None:
    """Keys that could escape a backend root or alias another key are refused."""
    with pytest.raises(KeyRejected) as raised:
        normalize_key(key, allow_root=False)
    assert isinstance(raised.value, ValueError)
    assert raised.value.reason


@pytest.mark.parametrize(("key", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_keys(key: str, expected: str | None) -> None:
    """Ordinary, Unicode and percent-encoded keys are kept exactly as given."""
    assert normalize_key(key) == (key if expected is None else expected)


def test_nfc_and_nfd_spellings_stay_distinct() -> None:
    """NFC and NFD spellings of the same text are different keys, never merged."""
    nfc = unicodedata.normalize("NFC", "certificates/Curaçao.pdf")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalize_key(nfc) == nfc
    assert normalize_key(nfd) == nfd


OPS: dict[str, Callable[[Router, str], Any]] = {
    "cat_file": lambda fs, k: fs.cat_file(k),
    "pipe_file": lambda fs, k: fs.pipe_file(k, b"x"),
    "open-rb": lambda fs, k: fs.open(k, "rb"),
    "open-wb": lambda fs, k: fs.open(k, "wb"),
    "info": lambda fs, k: fs.info(k),
    "exists": lambda fs, k: fs.exists(k),
    "ls": lambda fs, k: fs.ls(k),
    "rm_file": lambda fs, k: fs.rm_file(k),
    "rm": lambda fs, k: fs.rm(k),
    "url": lambda fs, k: fs.url(k),
    "cp_file-to": lambda fs, k: fs.cp_file("certificates/ok.pdf", k),
    "cp_file-from": lambda fs, k: fs.cp_file(k, "certificates/ok.pdf"),
    "mkdir": lambda fs, k: fs.mkdir(k),
}


@pytest.mark.parametrize("op", OPS.values(), ids=OPS.keys())
@pytest.mark.parametrize(
    "key", ["certificates/../../../etc/passwd", "/etc/passwd", "certificates\\..\\x"]
)
def test_refused_key_touches_no_backend(
    make_router: Callable[..., Router], op: Callable[[Router, str], Any], key: str
) -> None:
    """Every op refuses a bad key before any backend (or the journal) is touched."""
    fs = make_router("dual-write")
    with inject_faults(fs, "local") as local, inject_faults(fs, "s3") as s3:
        with pytest.raises(KeyRejected):
            op(fs, key)
        assert local.calls.total() == 0
        assert s3.calls.total() == 0
    assert list(fs.journal.entries()) == []
