"""Every script in examples/ runs as a subprocess and prints what it promises; every
phase policy in examples/policies/ is valid and is the phase its name says."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from router.plan import compile_policy
from router.policy.load import load_policy
from router.policy.model import Mode

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
POLICIES = EXAMPLES / "policies"
PHASES = ("legacy", "dual-write", "s3-primary", "s3-read", "s3-only")
NAME = "Curaçao-東京-Δ.pdf"

# phase -> (primary, shadow, mode), as in PRODUCT.md's certificates policy.
PHASE_TABLE = {
    "legacy": ("local", None, Mode.PRIMARY_ONLY),
    "dual-write": ("local", "s3", Mode.DUAL_WRITE),
    "s3-primary": ("s3", "local", Mode.DUAL_WRITE),
    "s3-read": ("s3", "local", Mode.READ_PRIMARY),
    "s3-only": ("s3", None, Mode.PRIMARY_ONLY),
}


def run_example(name: str, **env: str) -> str:
    """Run ``examples/NAME`` with a clean environment; its stdout (it must succeed
    without writing anything to stderr)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ROUTER_", "DJANGO_"))
        and k not in ("MEDIA_ROOT", "JOURNAL_DIR", "MEDIA_POLICY", "S3_BUCKET", "S3_ENDPOINT_URL")
    }
    clean.update(env, PYTHONIOENCODING="utf-8", PYTHONWARNINGS="error")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=EXAMPLES.parent.parent,  # anywhere but examples/: scripts find their files
        env=clean,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "ok"
    return done.stdout


def test_every_example_is_tested() -> None:
    """Each script in examples/ has a test here."""
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == ["django_settings.py", "embed.py", "pandas_router.py", "upath_router.py"]


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_say_what_they_show_and_how_to_run(script: str) -> None:
    """Each example starts with a docstring that says how to run it."""
    doc = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert doc is not None
    assert f"python examples/{script}" in doc


def test_embed() -> None:
    """The embedding example writes, reads, lists and deletes through a dual-write policy."""
    out = run_example("embed.py")
    assert f"read back certificates/2025/{NAME}: 38 bytes, identical" in out
    assert (
        f"listing certificates/2025: ['certificates/2025/{NAME}', 'certificates/2025/receipt.txt']"
        in out
    )
    assert "listing top level: ['avatars', 'certificates']" in out
    assert "url: /media/certificates/2025/Cura%C3%A7ao-%E6%9D%B1%E4%BA%AC-%CE%94.pdf" in out
    assert (
        f"on local: ['avatars/ada.png', 'certificates/2025/{NAME}', 'certificates/2025/receipt.txt']"
        in out
    )
    assert f"on shadow: ['certificates/2025/{NAME}', 'certificates/2025/receipt.txt']" in out
    assert "after delete, exists: False" in out


def test_pandas_router() -> None:
    """pandas writes and reads router:// CSV (plain and gzipped) byte-for-byte equal frames."""
    out = run_example("pandas_router.py")
    assert "router://reports/2025/cities.csv: wrote and read 3 rows, identical" in out
    assert "router://reports/2025/cities.csv.gz: wrote and read 3 rows, identical" in out
    for city in ("Curaçao", "東京", "Δelta"):
        assert city in out
    assert "listing reports/2025: ['reports/2025/cities.csv', 'reports/2025/cities.csv.gz']" in out
    assert "on the shadow: ['cities.csv', 'cities.csv.gz']" in out


def test_upath_router() -> None:
    """UPath("router://...") reads, lists, globs and deletes via RouterPath, warning-free."""
    out = run_example("upath_router.py")
    assert "type: RouterPath" in out
    assert f"path: certificates/2025/{NAME} | name: {NAME} | suffix: .pdf" in out
    assert "exists: True | size: 21" in out
    assert "read: Curaçao / 東京 / Δ" in out
    assert f"iterdir: ['{NAME}', 'note.txt']" in out
    assert f"glob **/*.pdf: ['router://certificates/2025/{NAME}']" in out
    assert "after unlink: False" in out
    assert f"on the shadow: ['{NAME}']" in out


def test_django_settings_default_policy() -> None:
    """The settings example's STORAGES saves, serves, lists and deletes (legacy policy)."""
    out = run_example("django_settings.py")
    assert "storage: RouterStorage policy: " in out
    assert f"policy: {POLICIES / 'legacy.yaml'}" in out
    assert f"saved: certificates/2025/{NAME}" in out
    assert "url: /media/certificates/2025/Cura%C3%A7ao-%E6%9D%B1%E4%BA%AC-%CE%94.pdf" in out
    assert f"listdir: ([], ['{NAME}'])" in out
    assert f"local path: /media/certificates/2025/{NAME}" in out
    assert "second save of the same name kept the first: True" in out
    assert "exists after delete: False" in out


@pytest.mark.s3
@pytest.mark.parametrize("phase", PHASES)
def test_django_settings_in_every_phase(
    phase: str, moto_server: str, bucket: str, tmp_path: Path
) -> None:
    """The settings example runs unchanged on every phase policy, S3 on moto."""
    out = run_example(
        "django_settings.py",
        MEDIA_POLICY=f"policies/{phase}.yaml",
        MEDIA_ROOT=str(tmp_path / "media"),
        JOURNAL_DIR=str(tmp_path / "journal"),
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=moto_server,
    )
    assert f"policy: {POLICIES / f'{phase}.yaml'}" in out
    assert f"saved: certificates/2025/{NAME}" in out
    local = PHASE_TABLE[phase][0] == "local"
    url = next(line for line in out.splitlines() if line.startswith("url: "))
    expected = "/media/" if local else f"{moto_server}/{bucket}/prod/certificates/2025/"
    assert url.startswith(f"url: {expected}")
    if local:
        assert f"local path: {tmp_path}/media/certificates/2025/{NAME}" in out
    else:
        assert "local path: none, S3 serves this file in this phase" in out
    assert "read: b'%PDF-1.4 certificate\\n'" in out
    assert "exists after delete: False" in out


@pytest.mark.parametrize("phase", PHASES)
def test_phase_policies_are_valid_and_in_their_phase(phase: str) -> None:
    """Each phase policy loads, live in its phase with that phase's primary/shadow/mode."""
    loaded = load_policy(POLICIES / f"{phase}.yaml", environ={})
    route = compile_policy(loaded.policy).routes["certificates"]
    assert route.live.name == phase
    assert (route.live.primary, route.live.shadow, route.live.mode) == PHASE_TABLE[phase]
    assert route.prefix == "certificates/"
    assert loaded.policy.backends["local"].url == "file:///var/lib/app/media"
    assert loaded.policy.backends["s3"].url == "s3://app-media/prod"


def test_phase_policies_interpolate_the_environment() -> None:
    """The phase policies take their locations from the environment."""
    environ = {"MEDIA_ROOT": "/srv/media", "S3_BUCKET": "certs", "S3_ENDPOINT_URL": "http://s3"}
    loaded = load_policy(POLICIES / "dual-write.yaml", environ=environ)
    assert loaded.policy.backends["local"].url == "file:///srv/media"
    assert loaded.policy.backends["s3"].url == "s3://certs/prod"
    assert loaded.policy.backends["s3"].options == {"endpoint_url": "http://s3"}


def _routes_without_phase(phase: str) -> Any:
    policy = load_policy(POLICIES / f"{phase}.yaml", environ={}).policy
    data = policy.model_dump()
    data["routes"]["certificates"].pop("phase")
    return data


def test_phase_policies_differ_only_in_phase() -> None:
    """The five files are one policy: flipping the phase is the only edit between steps."""
    first = _routes_without_phase(PHASES[0])
    for phase in PHASES[1:]:
        assert _routes_without_phase(phase) == first, phase


def test_phase_policies_pass_router_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """`router validate examples/policies/*.yaml` accepts every phase policy."""
    from router.cli.main import main

    paths = [str(POLICIES / f"{phase}.yaml") for phase in PHASES]
    assert main(["validate", *paths]) == 0
    out = capsys.readouterr().out
    for path in paths:
        assert f"{path}: ok" in out
