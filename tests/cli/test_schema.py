"""`router schema` and the shipped router/policy/schema.json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from router.cli.main import main
from router.policy.load import load_policy
from router.policy.schema import SCHEMA_ID, SCHEMA_PATH, policy_schema, schema_text
from router.policy.yamlload import load_yaml

REPO = Path(__file__).resolve().parents[2]
POLICIES = sorted((REPO / "policies").glob("*.yaml"))


def test_router_schema_prints_the_policy_schema() -> None:
    """`router schema` prints the JSON Schema generated from the model and exits 0."""
    out = io.StringIO()
    assert main(["schema"], out=out, err=io.StringIO()) == 0
    printed = json.loads(out.getvalue())
    assert printed == policy_schema()
    assert printed["$id"] == SCHEMA_ID
    assert printed["title"] == "storage-router policy"
    assert set(printed["required"]) == {"version", "backends", "routes"}


def test_shipped_schema_file_equals_the_generated_one() -> None:
    """router/policy/schema.json is exactly `router schema` (regenerate it after model changes)."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "router/policy/schema.json is stale: run `router schema > router/policy/schema.json`"
    )


def test_schema_is_a_valid_json_schema() -> None:
    """The schema itself is valid draft 2020-12."""
    jsonschema = pytest.importorskip("jsonschema")  # comes with moto[server]
    jsonschema.Draft202012Validator.check_schema(policy_schema())


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_shipped_policies_reference_the_schema_and_satisfy_it(path: Path) -> None:
    """Every policy starts with the yaml-language-server comment and validates against it."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA_PATH.resolve()
    load_policy(path, environ={})
    jsonschema = pytest.importorskip("jsonschema")
    data = load_yaml(path.read_bytes(), str(path)).data
    jsonschema.Draft202012Validator(policy_schema()).validate(data)
