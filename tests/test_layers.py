"""Each layer imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "router"

# module (or package prefix) → layer; a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    "router.policy.model": 0,
    "router.redact": 0,
    "router.errors": 1,
    "router.policy": 2,
    "router.keys": 2,
    "router.plan": 3,
    "router.explain": 3,
    "router.flips": 3,
    "router.status": 3,
    "router.modes": 4,
    "router.backends": 5,
    "router.sinks": 5,
    "router.journal": 5,
    "router.metrics": 5,
    "router.executor": 6,
    "router.writer": 6,
    "router.shadowread": 6,
    "router.reader": 6,
    "router.filesystem": 7,
    "router.reload": 7,
    "router.testing": 8,
    "router.sweep": 8,
    "router.migrate": 8,
    "router.contrib": 8,
    "router.exporters": 8,
    "router.demo": 9,
    "router.cli": 9,
    "router": 10,
}


def layer_of(module: str) -> int:
    """The layer of a module: the longest entry of LAYERS that is a prefix of it."""
    best = None
    for name, layer in LAYERS.items():
        if (module == name or module.startswith(name + ".")) and (
            best is None or len(name) > len(best[0])
        ):
            best = (name, layer)
    if best is None:
        raise LookupError(module)
    return best[1]


def modules() -> list[tuple[str, Path]]:
    """Every module of the router package."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def imports(path: Path) -> set[str]:
    """The router modules a file imports (at any level, lazily included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("router"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("router")
        ):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if _is_module(sub) else node.module)
    return {n for n in names if _is_module(n)}


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    base = ROOT.parent / rel
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_module_imports_only_lower_layers(module: str, path: Path) -> None:
    """A module imports only modules of its own layer or below."""
    try:
        own = layer_of(module)
    except LookupError:
        pytest.fail(f"{module} has no layer: add it to LAYERS and docs/architecture.md")
    wrong = sorted(i for i in imports(path) if i != module and layer_of(i) > own)
    assert not wrong, f"{module} (layer {own}) imports higher layers: {wrong}"
