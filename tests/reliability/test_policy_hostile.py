"""Item 13: hostile policies give only PolicyError, fast — through every entry point.

tests/policy already fuzzes the loader (random bytes and text, mutations, overrides) and
keeps a corpus of broken files. This adds what those do not cover: the *Router* and the
CLI on hostile files (construction, reload, ``router validate``), that nothing a tag
asks for is executed, that an alias bomb or a huge file costs bounded memory (measured
with tracemalloc, not with a clock), and a structured fuzz of policy-shaped documents
all the way to a built Router. ``ROUTER_STRESS=1`` runs ten times as many examples.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import Router
from router.cli.main import main as cli
from router.errors import PolicyError
from router.policy.load import load_policy, policy_from_dict
from tests.reliability.rel_helpers import STRESS, scaled

VALID = """\
version: 1
backends:
  local: {url: "file://%(root)s"}
journal: {url: "file://%(journal)s"}
routes:
  default: {prefix: "", primary: local}
"""

BOMB = "version: 1\nbombs:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"  {n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _hostile(tmp: Path) -> dict[str, bytes]:
    marker = tmp / "PWNED"
    return {
        "python-object-apply": (
            f"version: 1\nbackends: !!python/object/apply:os.system ['touch {marker}']\n"
        ).encode(),
        "python-name": b"version: 1\nbackends: !!python/name:os.system ''\n",
        "python-object-new": (
            b"version: 1\nroutes: !!python/object/new:subprocess.Popen [['touch', '"
            + str(marker).encode()
            + b"']]\n"
        ),
        "alias-bomb": BOMB.encode(),
        "recursive-alias": b"version: 1\nroutes: &r [*r]\n",
        "deep-nesting": b"version: 1\nroutes: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "binary": os.urandom(4096) + b"\x00",
        "not-utf8": b"version: 1\nbackends: {a: {url: '\xff\xfe'}}\n",
    }


def _peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
    except PolicyError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(
    "name",
    [
        "python-object-apply",
        "python-name",
        "python-object-new",
        "alias-bomb",
        "recursive-alias",
        "deep-nesting",
        "binary",
        "not-utf8",
    ],
)
def test_hostile_file_gives_policy_error_everywhere(name: str, tmp_path: Path) -> None:
    """Tags, alias bombs, deep nesting and binary: PolicyError from load, Router and reload; validate exits 1; nothing runs."""
    path = tmp_path / "policy.yaml"
    path.write_bytes(_hostile(tmp_path)[name])
    with pytest.raises(PolicyError):
        load_policy(path, environ={})
    with pytest.raises(PolicyError):
        Router.from_file(path)
    out, err = io.StringIO(), io.StringIO()
    assert cli(["validate", str(path)], out, err) == 1
    assert "Traceback" not in out.getvalue() + err.getvalue()
    (tmp_path / "media").mkdir()
    valid = VALID % {"root": tmp_path / "media", "journal": tmp_path / "journal"}
    path.write_text(valid)
    with Router.from_file(path) as fs:
        plan = fs.plan
        path.write_bytes(_hostile(tmp_path)[name])
        with pytest.raises(PolicyError):
            fs.reload()
        assert fs.plan is plan  # the running router keeps its plan
        fs.pipe_file("still/works", b"yes")
    assert not (tmp_path / "PWNED").exists()


def test_alias_bomb_costs_bounded_memory(tmp_path: Path) -> None:
    """A 400-byte alias bomb is refused without expanding it (peak traced memory stays under 4 MiB)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 600
    assert _peak_bytes(lambda: load_policy(path, environ={})) < 4 * 2**20


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A 256 MiB policy file is refused after reading at most about 1 MiB of it (peak traced memory under 4 MiB)."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.write(b"version: 1\n# ")
        handle.truncate(256 * 2**20)  # sparse: no disk needed
    assert _peak_bytes(lambda: load_policy(path, environ={})) < 4 * 2**20
    with pytest.raises(PolicyError):
        Router.from_file(path)


# -- structured fuzz: valid policies with a few values corrupted -------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "local",
            "mem",
            "s3",
            "dual-write",
            "read-primary",
            "50ms",
            "1e999",
            "${X}",
            "on",
            "any",
        ]
    ),
)
ANY = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["local", "s3", "on", "url", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
BACKENDS = {
    "local": {"url": "file:///tmp/router-policy-fuzz/local"},
    "mem": {"url": "memory://router-policy-fuzz", "options": {"fsync": False}},
    "s3": {"url": "s3://bucket/prefix", "options": {"endpoint_url": "http://127.0.0.1:1"}},
}
FALLBACK = st.fixed_dictionaries(
    {
        "on": st.lists(
            st.sampled_from(["not_found", "transient", "denied", "any"]), max_size=3, unique=True
        )
    },
    optional={
        "retries": st.integers(0, 20),
        "backoff": st.sampled_from(["1ms", "0s", "2s"]),
        "deadline": st.sampled_from(["1s", "10m"]),
    },
)


@st.composite
def valid_policies(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(BACKENDS)), min_size=2, max_size=3, unique=True))
    first, second = names[0], names[1]
    phases = {
        "one": {"primary": first},
        "dual": {"primary": first, "shadow": second, "mode": "dual-write"},
        "flip": {
            "primary": second,
            "shadow": first,
            "mode": draw(st.sampled_from(["dual-write", "read-primary"])),
        },
    }
    route: dict[str, Any] = {
        "prefix": "certificates/",
        "phase": draw(st.sampled_from(sorted(phases))),
        "phases": phases,
        "fallbacks": draw(
            st.dictionaries(
                st.sampled_from(["read", "write", "delete", "info", "url", "list"]),
                FALLBACK,
                max_size=3,
            )
        ),
    }
    if draw(st.booleans()):
        target = draw(st.sampled_from(sorted(set(phases) - {route["phase"]})))
        route["rollout"] = {"to": target, "percent": draw(st.integers(0, 100))}
    return {
        "version": 1,
        "backends": {name: BACKENDS[name] for name in names},
        "routes": {"certificates": route, "default": {"prefix": "", "primary": first}},
    }


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at] if at else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*at, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*at, index)))
    return found


@st.composite
def corrupted_policies(draw: st.DrawFn) -> dict[str, Any]:
    import copy

    policy = copy.deepcopy(draw(valid_policies()))
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(policy)
        path = draw(st.sampled_from(paths))
        parent = policy
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(ANY)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "url", "options", "phase", "on"]))] = draw(ANY)
    return policy


@settings(
    max_examples=scaled(300, 3000),
    deadline=None,
    derandomize=not STRESS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(document=corrupted_policies(), as_yaml=st.booleans())
def test_policy_shaped_documents_give_a_router_or_policy_error(
    document: dict[str, Any], as_yaml: bool
) -> None:
    """Valid policies with up to two values corrupted (as dicts or YAML) build a Router or raise PolicyError — nothing else."""
    import tempfile

    refused: PolicyError | None = None
    with tempfile.TemporaryDirectory(prefix="router-policy-fuzz-") as tmp:
        document = dict(document)
        document.setdefault("journal", {"url": f"file://{tmp}/journal"})
        try:
            if as_yaml:
                path = Path(tmp) / "policy.yaml"
                try:
                    path.write_text(yaml.safe_dump(document, allow_unicode=True))
                except (UnicodeEncodeError, yaml.YAMLError):
                    return
                router = Router.from_file(path)
            else:
                policy_from_dict(document, environ={})
                router = Router.from_dict(document, environ={})
        except PolicyError as exc:
            refused = exc
        else:
            router.close()
    assert refused is None or refused.problems


# -- backends that validate but cannot be built ------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param({"url": "nosuchproto://x/y"}, id="unknown-protocol"),
        pytest.param(
            {"url": "s3://b/p", "options": {"s3fs_retries": "many"}}, id="retries-not-int"
        ),
        pytest.param(
            {"url": "s3://b/p", "options": {"max_concurrency": "x"}}, id="concurrency-not-int"
        ),
        pytest.param(
            {"url": "memory://fuzz-ok", "options": {"fsync": "maybe"}}, id="fsync-not-bool"
        ),
    ],
)
def test_unbuildable_backend_gives_policy_error(backend: dict[str, Any], tmp_path: Path) -> None:
    """A backend the policy names but no filesystem can be built for is a PolicyError naming it, not a library exception."""
    policy = {
        "version": 1,
        "backends": {"x": backend},
        "journal": {"url": f"file://{tmp_path / 'journal'}"},
        "routes": {"default": {"prefix": "", "primary": "x"}},
    }
    with pytest.raises(PolicyError) as raised:
        Router.from_dict(policy)
    assert "backends.x" in str(raised.value)
