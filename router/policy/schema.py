"""The policy's JSON Schema, for editors (yaml-language-server) and other tools.

Generated from :class:`~router.policy.model.Policy`; the same text ships as
``router/policy/schema.json``, which the files in ``policies/`` reference with
``# yaml-language-server: $schema=../router/policy/schema.json``. After changing the
model, regenerate the shipped file with ``router schema > router/policy/schema.json``
(a test fails until it matches).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.policy.model import Policy

__all__ = ["SCHEMA_ID", "SCHEMA_PATH", "policy_schema", "schema_text"]

SCHEMA_ID = "urn:storage-router:policy:1"
SCHEMA_PATH = Path(__file__).with_name("schema.json")
"""The shipped copy of :func:`schema_text`."""


def policy_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy file."""
    generated = Policy.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
        "title": "storage-router policy",
        "description": (
            "A storage-router policy: backends, routes with migration phases, rollouts "
            "and fallbacks. Validate with `router validate FILE`."
        ),
    }


def schema_text() -> str:
    """:func:`policy_schema` as stable, indented JSON with a final newline."""
    return json.dumps(policy_schema(), indent=2, ensure_ascii=False) + "\n"
