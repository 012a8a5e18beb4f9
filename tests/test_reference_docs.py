"""The reference docs name every CLI flag and every policy key; a missing one fails here."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.cli.main import build_parser
from router.policy.schema import policy_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


def cli_text() -> str:
    """The CLI reference pages, concatenated."""
    return "\n".join(p.read_text("utf-8") for p in sorted(DOCS.glob("cli*.md")))


def commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every sub-command and its parser."""
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


@pytest.mark.parametrize(("name", "parser"), list(commands()), ids=[n for n, _ in commands()])
def test_every_cli_flag_is_documented(name: str, parser: argparse.ArgumentParser) -> None:
    """Each command has a section, and each of its flags appears in the CLI reference."""
    text = cli_text()
    assert f"router {name}" in text
    for action in parser._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert flag in text, f"{name} {flag} is missing from docs/cli*.md"


def schema_keys(
    node: dict[str, Any], defs: dict[str, Any], seen: frozenset[str] = frozenset()
) -> set[str]:
    """Every property name reachable in the JSON Schema."""
    keys: set[str] = set()
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else schema_keys(defs[name], defs, seen | {name})
    for key, sub in node.get("properties", {}).items():
        keys.add(key)
        keys |= schema_keys(sub, defs, seen)
    for combo in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(combo, []):
            keys |= schema_keys(sub, defs, seen)
    for sub in ("items", "additionalProperties"):
        if isinstance(node.get(sub), dict):
            keys |= schema_keys(node[sub], defs, seen)
    return keys


def test_every_policy_key_is_documented() -> None:
    """Each key of the policy schema appears as `key` in docs/policy.md."""
    schema = json.loads(json.dumps(policy_schema()))
    text = (DOCS / "policy.md").read_text("utf-8")
    missing = sorted(
        k for k in schema_keys(schema, schema.get("$defs", {})) if f"`{k}`" not in text
    )
    assert not missing, f"policy keys missing from docs/policy.md: {missing}"
