"""Loading a policy: YAML text or a dict → a validated, located :class:`LoadedPolicy`.

STUB: replaced by the full loader (locations, interpolation, env overrides).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.errors import PolicyError, PolicyProblem
from router.policy.checks import check
from router.policy.model import Policy

__all__ = ["LoadedPolicy", "Origin", "load_policy", "policy_from_dict"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one value of a policy came from."""

    kind: str  # "file", "env" or "default"
    source: str  # file name or variable name
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.kind == "env":
            return f"env {self.source}"
        if self.line is not None:
            return f"{self.source}:{self.line}"
        return self.source


@dataclass(frozen=True)
class LoadedPolicy:
    """A valid policy plus where its values came from."""

    policy: Policy
    source: str
    origins: Mapping[str, Origin] = field(default_factory=dict)
    fingerprint: str = ""

    def origin(self, dotted: str) -> Origin | None:
        """Origin of the value at ``dotted`` (or its nearest located ancestor)."""
        parts = dotted.split(".")
        while parts:
            found = self.origins.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None


def policy_from_dict(
    data: Mapping[str, Any], *, source: str = "<dict>", environ: Mapping[str, str] | None = None
) -> LoadedPolicy:
    try:
        policy = Policy.model_validate(dict(data))
    except ValidationError as exc:
        raise PolicyError(
            [PolicyProblem(source, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None
    problems = check(policy)
    if problems:
        raise PolicyError(
            [PolicyProblem(source, ".".join(map(str, p)), m) for p, m in problems]
        )
    return LoadedPolicy(policy=policy, source=source)


def load_policy(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> LoadedPolicy:
    text = Path(path).read_text(encoding="utf-8")
    return policy_from_dict(yaml.safe_load(text), source=str(path), environ=environ)
