"""Loading a policy: a file, YAML text or a dict → a validated, located :class:`LoadedPolicy`.

The steps, in order, each adding its problems to one list so that a file's every
problem is reported at once, sorted by line:

1. read the file (at most 1 MiB; UTF-8) and parse it safely (:mod:`.yamlload`);
   a file that is not a YAML mapping stops here;
2. expand ``${VAR}`` / ``${VAR:-default}`` in string values (:mod:`.interpolate`);
3. lay ``ROUTER_…`` environment overrides over the file (:mod:`.overrides`);
4. validate the shapes with pydantic (:mod:`.model`), turning each error into a
   human message at the key's or value's ``file:line:col``;
5. when the shapes are right, cross-check relations (:mod:`.checks`).

A problem whose value came from the environment names the variable instead of a
line (``policy.yaml: $ROUTER_ROUTES__CERTIFICATES__PHASE: routes.certificates.phase:
unknown phase …``). A problem inside a value whose interpolation failed is not
reported twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from router.errors import PolicyError, PolicyProblem
from router.policy.checks import check, suggest
from router.policy.interpolate import interpolate
from router.policy.model import ErrorClass, Mode, Op, Policy
from router.policy.overrides import apply_overrides
from router.policy.yamlload import MAX_BYTES, Path, Position, SourceMap, dotted, load_yaml

__all__ = [
    "LoadedPolicy",
    "Origin",
    "load_policy",
    "load_policy_text",
    "policy_from_dict",
]


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
    """Dotted path → origin, for every value (and mapping) of the policy."""
    fingerprint: str = ""
    """sha256 of the file's bytes, the variables it interpolates and the overrides applied."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Each environment override applied: variable → value."""

    def origin(self, dotted: str) -> Origin | None:
        """Origin of the value at ``dotted`` (or its nearest located ancestor)."""
        parts = dotted.split(".")
        while parts:
            found = self.origins.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None


def load_policy(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> LoadedPolicy:
    """Load and validate the policy file at ``path``.

    Raises :class:`PolicyError` for anything wrong with its content, and ``OSError``
    (``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError``) when it
    cannot be read at all. ``environ`` defaults to ``os.environ``.
    """
    source = os.fspath(path)
    with open(source, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    return load_policy_text(raw, source=source, environ=environ)


def load_policy_text(
    text: str | bytes, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> LoadedPolicy:
    """Load and validate a policy from YAML text; ``source`` names it in messages."""
    document = load_yaml(text, source)
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _Build(source, document.where, environ).run(document.data, raw)


def policy_from_dict(
    data: Mapping[str, Any], *, source: str = "<dict>", environ: Mapping[str, str] | None = None
) -> LoadedPolicy:
    """Validate a policy given as plain data (interpolation and overrides apply)."""
    if not isinstance(data, Mapping):
        raise PolicyError(
            [PolicyProblem(source, "", "a policy is a mapping with version, backends and routes")]
        )
    try:
        raw = json.dumps(data, sort_keys=True, default=repr).encode()
    except (TypeError, ValueError):
        raw = repr(data).encode()
    return _Build(source, SourceMap(), environ).run(dict(data), raw)


# --- building --------------------------------------------------------------------------

_MISSING = object()
_ENUM_KINDS: dict[type[Enum], str] = {Mode: "mode", Op: "op", ErrorClass: "error class"}
_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
}


def _get(data: Any, path: Path) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return _MISSING
        data = data[part]
    return data


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) == 1:
            return args[0]
    return annotation


def _annotation_at(loc: tuple[int | str, ...]) -> Any:
    """The type the policy model expects at a pydantic error ``loc``, or ``None``."""
    if loc[-1:] == ("[key]",):
        container = _annotation_at(loc[:-2])
        return get_args(container)[0] if get_origin(container) is dict else None
    annotation: Any = Policy
    for part in loc:
        annotation = _strip_optional(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            annotation = info.annotation
        elif origin is dict:
            annotation = get_args(annotation)[1]
        elif origin in (tuple, list):
            annotation = get_args(annotation)[0]
        else:
            return None
    return _strip_optional(annotation)


def _unknown_name(kind: str, name: str, choices: list[str]) -> str:
    listing = ", ".join(repr(c) for c in choices)
    return f"unknown {kind} {name!r}{suggest(name, choices)} (known: {listing})"


class _Build:
    """One load: the data's journey from parsed YAML to a :class:`LoadedPolicy`."""

    def __init__(self, source: str, where: SourceMap, environ: Mapping[str, str] | None) -> None:
        self.source = source
        self.where = where
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.env: dict[Path, str] = {}
        self.applied: dict[str, Any] = {}
        self.data: dict[str, Any] = {}

    # locating -------------------------------------------------------------------------

    def position(self, path: Path, *, key: bool = False) -> tuple[Position | None, str | None]:
        """The file position or the variable behind ``path`` (or its nearest ancestor)."""
        for size in range(len(path), -1, -1):
            prefix = path[:size]
            variable = self.env.get(prefix)
            if variable is not None:
                return None, variable
            if key and size == len(path) and prefix in self.where.keys:
                return self.where.keys[prefix], None
            if isinstance(_get(self.data, prefix), dict | list) and prefix in self.where.keys:
                return self.where.keys[prefix], None
            if prefix in self.where.values:
                return self.where.values[prefix], None
        return None, None

    def problem(self, path: Path, message: str, *, key: bool = False) -> PolicyProblem:
        """A problem at ``path``, located in the file or at its variable."""
        position, variable = self.position(path, key=key)
        line, column = position if position is not None else (None, None)
        return PolicyProblem(self.source, dotted(path), message, line, column, variable)

    def related(self, path: Path) -> str:
        """For a cross-check located in the file: the overrides of the same route or backend.

        A relation can break because of the *other* value: the file's rollout target is
        fine until ``$ROUTER_ROUTES__X__PHASE`` makes it the live phase.
        """
        if self.position(path)[1] is not None:
            return ""
        scope = path[:2]
        names = sorted({var for at, var in self.env.items() if at[: len(scope)] == scope})
        if not names:
            return ""
        shown = ", ".join(f"${name}={self.applied.get(name, '')}" for name in names)
        return f" (with {shown})"

    # the pipeline ---------------------------------------------------------------------

    def run(self, data: dict[str, Any], raw: bytes) -> LoadedPolicy:
        found: list[tuple[Path, PolicyProblem]] = []
        expanded = interpolate(data, self.environ)
        self.data = expanded.data
        failed = [path for path, _ in expanded.problems]
        problems = [self.problem(path, message) for path, message in expanded.problems]

        overridden = apply_overrides(expanded.data, self.environ)
        self.data = overridden.data
        self.env = overridden.variables
        self.applied = overridden.applied
        for override in overridden.problems:
            found.append(
                (
                    override.path,
                    PolicyProblem(
                        self.source,
                        dotted(override.path),
                        override.message,
                        variable=override.variable,
                    ),
                )
            )

        policy: Policy | None = None
        try:
            policy = Policy.model_validate(self.data)
        except ValidationError as exc:
            found.extend(self.validation_problems(exc.errors()))
        if policy is not None:
            for path, message in check(policy):
                found.append((path, self.problem(path, message + self.related(path))))

        # A value whose interpolation failed was replaced by "": say nothing more about it.
        problems.extend(
            problem
            for path, problem in found
            if problem.variable is not None or not any(path[: len(bad)] == bad for bad in failed)
        )
        if problems or policy is None:
            unique = {(p.line, p.column, p.variable, p.path, p.message): p for p in problems}
            raise PolicyError(sorted(unique.values(), key=_order))

        digest = hashlib.sha256(raw)
        digest.update(b"\0")
        digest.update(
            json.dumps(
                {"env": overridden.applied, "vars": expanded.used}, sort_keys=True, default=str
            ).encode()
        )
        return LoadedPolicy(
            policy=policy,
            source=self.source,
            origins=self.origins(policy),
            fingerprint=digest.hexdigest(),
            overrides={name: str(value) for name, value in overridden.applied.items()},
        )

    def validation_problems(self, errors: list[ErrorDetails]) -> list[tuple[Path, PolicyProblem]]:
        """Pydantic's errors as located, human problems."""
        out: list[tuple[Path, PolicyProblem]] = []
        missing: list[tuple[Path, str, PolicyProblem]] = []
        suggested: set[tuple[Path, str]] = set()
        for error in errors:
            loc = tuple(error["loc"])
            path: Path = tuple(part for part in loc if part != "[key]")
            kind = error["type"]
            value = error.get("input")
            if kind == "missing":
                parent, name = path[:-1], str(path[-1])
                missing.append((parent, name, self.problem(parent, self.missing(loc, name))))
                continue
            if kind == "extra_forbidden":
                message, hint = self.unknown_key(loc, str(path[-1]))
                if hint is not None:
                    suggested.add((path[:-1], hint))
                out.append((path, self.problem(path, message, key=True)))
                continue
            message = self.message(error, loc, value)
            out.append((path, self.problem(path, message, key=loc[-1:] == ("[key]",))))
        for parent, name, problem in missing:
            if (parent, name) not in suggested:
                out.append(((*parent, name), problem))
        return out

    def missing(self, loc: tuple[int | str, ...], name: str) -> str:
        model = _annotation_at(loc[:-1])
        description = None
        if isinstance(model, type) and issubclass(model, BaseModel):
            info = model.model_fields.get(name)
            description = info.description if info is not None else None
        detail = f" ({description})" if description else ""
        return f"missing required key {name!r}{detail}"

    def unknown_key(self, loc: tuple[int | str, ...], name: str) -> tuple[str, str | None]:
        model = _annotation_at(loc[:-1])
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return f"unknown key {name!r}", None
        fields = list(model.model_fields)
        hint = suggest(name, fields)
        if hint:
            close = hint.removeprefix("; did you mean ").removesuffix("?").strip("'\"")
            return f"unknown key {name!r}{hint}", close
        return f"unknown key {name!r}; allowed keys: {', '.join(fields)}", None

    def message(self, error: ErrorDetails, loc: tuple[int | str, ...], value: Any) -> str:
        kind = error["type"]
        text = error["msg"]
        if kind == "enum":
            enum = _annotation_at(loc)
            if isinstance(enum, type) and issubclass(enum, Enum):
                choices = [str(member.value) for member in enum]
                name = _ENUM_KINDS.get(enum, "value")
                if isinstance(value, str):
                    return _unknown_name(name, value, choices)
                return f"expected {'/'.join(choices)}, got {_describe(value)}"
        if kind == "literal_error" and loc == ("version",):
            return f"unsupported version {_describe(value)}; only version 1 exists"
        if kind == "value_error":
            return text.removeprefix("Value error, ")
        if kind == "string_pattern_mismatch":
            pattern = (error.get("ctx") or {}).get("pattern", "")
            return f"{_describe(value)} does not match the pattern {pattern}"
        if kind == "string_too_short":
            return "must not be empty"
        if kind in _EXPECTED:
            message = f"expected {_EXPECTED[kind]}, got {_describe(value)}"
            if kind in ("tuple_type", "list_type") and isinstance(value, str):
                message += f"; write [{value}]"
            return message
        if text.startswith("Input should"):
            return f"{text.removeprefix('Input ')}, got {_describe(value)}"
        return f"{text} (got {_describe(value)})"

    # origins ------------------------------------------------------------------------

    def origins(self, policy: Policy) -> dict[str, Origin]:
        """Every path of the data → where it came from; model defaults fill the rest."""
        origins: dict[str, Origin] = {}

        def visit(value: Any, path: Path) -> None:
            if path:
                origins[dotted(path)] = self.origin_of(path)
            if isinstance(value, dict):
                for key, item in value.items():
                    visit(item, (*path, key))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    visit(item, (*path, index))

        visit(self.data, ())
        defaults: dict[str, Origin] = {}

        def visit_defaults(value: Any, path: Path) -> None:
            name = dotted(path)
            if path and name not in origins:
                defaults[name] = Origin(kind="default", source="default")
            if isinstance(value, dict):
                for key, item in value.items():
                    visit_defaults(item, (*path, key))

        visit_defaults(policy.model_dump(mode="json"), ())
        return {**origins, **defaults}

    def origin_of(self, path: Path) -> Origin:
        variable = self.env.get(path)
        if variable is not None:
            return Origin(kind="env", source=variable)
        position = self.where.values.get(path)
        if position is None:
            return Origin(kind="file", source=self.source)
        return Origin(kind="file", source=self.source, line=position[0], column=position[1])


def _order(problem: PolicyProblem) -> tuple[bool, int, int, str, str]:
    return (
        problem.line is None,
        problem.line or 0,
        problem.column or 0,
        problem.path,
        problem.message,
    )
