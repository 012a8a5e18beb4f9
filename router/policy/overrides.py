"""Environment overrides: flip a phase or ramp a rollout without editing the file.

Any leaf of an existing route, backend or the journal can be set from the
environment, one variable per value, through pydantic-settings::

    ROUTER_ROUTES__CERTIFICATES__PHASE=s3-primary
    ROUTER_ROUTES__CERTIFICATES__ROLLOUT__PERCENT=25
    ROUTER_ROUTES__CERTIFICATES__ROLLOUT__TO=s3-read
    ROUTER_ROUTES__CERTIFICATES__FORCE=true
    ROUTER_BACKENDS__S3__URL=s3://other-bucket/prod
    ROUTER_ROUTES__CERTIFICATES__FALLBACKS__READ__ON='["any"]'   # JSON for lists

Rules:

* Variable names are case-insensitive; route and backend names match the policy's
  case-insensitively, with ``_`` standing for ``-`` (``USER_UPLOADS`` is the route
  ``user-uploads``). Deeper names match existing keys the same way.
* A variable naming a route or backend the file does not define is a problem (with
  a "did you mean"), never silently ignored; routes and backends are not created
  from the environment.
* Values are strings, validated exactly like file values (``"25"`` is a valid
  percent, ``"true"`` a valid boolean); a value starting with ``[`` or ``{`` is
  read as JSON. Values are not ``${...}``-interpolated.
* Setting a leaf under a mapping the file does not have creates it: a rollout set
  on a route without one needs both ``TO`` and ``PERCENT``.
* Only ``ROUTER_ROUTES…``, ``ROUTER_BACKENDS…`` and ``ROUTER_JOURNAL…`` are
  policy overrides; other ``ROUTER_`` variables are left alone.

Precedence is defined in exactly one place,
:meth:`PolicyEnvironment.settings_customise_sources`: the environment over the file.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from router.policy.yamlload import Path

__all__ = [
    "DELIMITER",
    "ENV_PREFIX",
    "Overridden",
    "OverrideProblem",
    "PolicyEnvironment",
    "apply_overrides",
    "variable_for",
]

ENV_PREFIX = "ROUTER_"
DELIMITER = "__"
SECTIONS = ("backends", "routes", "journal")
_NAMED = {"routes": "route", "backends": "backend"}


@dataclass(frozen=True)
class OverrideProblem:
    """An override that could not be applied."""

    path: Path
    variable: str
    message: str


@dataclass
class Overridden:
    """The policy data with the environment applied, and where each override went."""

    data: dict[str, Any]
    variables: dict[Path, str] = field(default_factory=dict)
    """Path → variable for every value set (and every mapping created) by the environment."""
    applied: dict[str, Any] = field(default_factory=dict)
    """Variable → raw value, for each override applied."""
    problems: list[OverrideProblem] = field(default_factory=list)


def variable_for(path: Path) -> str:
    """The variable that overrides ``path``: ``ROUTER_ROUTES__CERTIFICATES__PHASE``."""
    return ENV_PREFIX + DELIMITER.join(str(p).upper().replace("-", "_") for p in path)


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _leaves(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict) and (value or not path):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    else:
        yield path, value


class _Binding:
    """What one :func:`apply_overrides` call gives the environment source."""

    def __init__(self, environ: Mapping[str, str], file_data: Mapping[str, Any]) -> None:
        self.environ = environ
        self.file_data = file_data
        self.source: PolicyEnvironmentSource | None = None


_BINDING: ContextVar[_Binding | None] = ContextVar("router_policy_env_binding", default=None)


class PolicyEnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping, names resolved.

    Its result uses the file's spelling of route, backend and other names, so that
    pydantic-settings' merge lays each value exactly over the file value it replaces.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        file_data: Mapping[str, Any],
    ) -> None:
        self._environ = environ
        self._file_data = file_data
        self._originals: dict[str, str] = {}
        self.variables: dict[Path, str] = {}
        self.applied: dict[str, Any] = {}
        self.problems: list[OverrideProblem] = []
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        relevant: dict[str, str] = {}
        for name, value in self._environ.items():
            lowered = name.lower()
            if not lowered.startswith(ENV_PREFIX.lower()):
                continue
            self._originals[lowered] = name
            section = lowered[len(ENV_PREFIX) :]
            if section in SECTIONS and not _is_json_object(value):
                self.problems.append(
                    OverrideProblem(
                        (section,),
                        name,
                        "set one value per variable, e.g. "
                        f"{ENV_PREFIX}ROUTES__<ROUTE>__PHASE=NAME, or give a JSON object",
                    )
                )
                continue
            relevant[name] = value
        return parse_env_vars(
            relevant, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
        """JSON only for values that look like a list or an object; others stay strings."""
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            return json.loads(value)
        raise ValueError("not JSON")

    def __call__(self) -> dict[str, Any]:
        try:
            raw = super().__call__()
        except SettingsError as exc:  # pragma: no cover - _load_env_vars filters bad JSON
            self.problems.append(OverrideProblem((), ENV_PREFIX + "*", str(exc)))
            return {}
        resolved: dict[str | int, Any] = {}
        for raw_path, value in _leaves(raw, ()):
            variable = self._variable(raw_path)
            path = self._canonical(raw_path, variable)
            if path is None:
                continue
            target: dict[str | int, Any] = resolved
            for part in path[:-1]:
                child = target.get(part)
                if not isinstance(child, dict):
                    child = target[part] = {}
                target = child
            target[path[-1]] = value
            self.variables[path] = variable
            self.applied[variable] = self._environ.get(variable, value)
            self._record_created(path, variable)
        return {str(key): value for key, value in resolved.items()}

    def _variable(self, raw_path: Path) -> str:
        for size in range(len(raw_path), 0, -1):
            name = (ENV_PREFIX + DELIMITER.join(map(str, raw_path[:size]))).lower()
            if name in self._originals:
                return self._originals[name]
        return variable_for(raw_path)  # pragma: no cover - every leaf came from a variable

    def _canonical(self, raw_path: Path, variable: str) -> Path | None:
        section = str(raw_path[0])
        node: Any = self._file_data.get(section)
        path: list[str | int] = [section]
        for depth, part in enumerate(raw_path[1:]):
            key = str(part)
            if isinstance(node, dict):
                exact = [k for k in node if isinstance(k, str) and k.lower() == key]
                similar = exact or [
                    k for k in node if isinstance(k, str) and _norm(k) == _norm(key)
                ]
                if len(similar) > 1:
                    self.problems.append(
                        OverrideProblem(
                            tuple(path),
                            variable,
                            f"{key!r} matches {', '.join(map(repr, similar))}; rename one of them",
                        )
                    )
                    return None
                if similar:
                    key = similar[0]
                elif depth == 0 and section in _NAMED:
                    self.problems.append(self._unknown(section, key, node, variable))
                    return None
                node = node.get(key)
            elif depth == 0 and section in _NAMED:
                return None  # the file's own section is broken; that problem is reported
            else:
                node = None
            path.append(key)
        return tuple(path)

    def _unknown(
        self, section: str, key: str, known: Mapping[str, Any], variable: str
    ) -> OverrideProblem:
        names = [k for k in known if isinstance(k, str)]
        by_norm = {_norm(k): k for k in names}
        close = difflib.get_close_matches(_norm(key), list(by_norm), n=1, cutoff=0.6)
        hint = f"; did you mean {by_norm[close[0]]!r}?" if close else ""
        listing = ", ".join(repr(n) for n in sorted(names)) or "none"
        kind = _NAMED[section]
        return OverrideProblem(
            (section,),
            variable,
            f"unknown {kind} {key!r}{hint} (known: {listing}); the environment can only "
            f"override {kind}s the file defines",
        )

    def _record_created(self, path: Path, variable: str) -> None:
        node: Any = self._file_data
        for size, part in enumerate(path, start=1):
            if isinstance(node, dict) and part in node:
                node = node[part]
                continue
            self.variables.setdefault(path[:size], variable)
            node = None


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


class PolicyEnvironment(BaseSettings):
    """The parts of a policy the environment may override.

    Built with the file's sections as init values; the environment source lays
    its values over them.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=DELIMITER,
        case_sensitive=False,
        extra="ignore",
    )

    backends: dict[str, Any] = Field(default_factory=dict)
    routes: dict[str, Any] = Field(default_factory=dict)
    journal: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence, highest first: environment variables, then the policy file."""
        binding = _BINDING.get()
        if binding is None:
            return (env_settings, init_settings)
        binding.source = PolicyEnvironmentSource(settings_cls, binding.environ, binding.file_data)
        return (binding.source, init_settings)


def _has_overrides(environ: Mapping[str, str]) -> bool:
    prefixes = tuple((ENV_PREFIX + section).upper() for section in SECTIONS)
    return any(name.upper().startswith(prefixes) for name in environ)


def apply_overrides(
    data: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    settings_cls: type[PolicyEnvironment] | None = None,
) -> Overridden:
    """``data`` with the environment's overrides applied (``environ`` defaults to os.environ).

    ``settings_cls``, a :class:`PolicyEnvironment` subclass, may redefine precedence
    in its ``settings_customise_sources`` (tests do).
    """
    settings_cls = settings_cls or PolicyEnvironment
    environ = os.environ if environ is None else environ
    result = Overridden(data=dict(data))
    if not _has_overrides(environ):
        return result
    file_sections = {s: data[s] for s in SECTIONS if isinstance(data.get(s), dict)}
    binding = _Binding(environ, file_sections)
    token = _BINDING.set(binding)
    try:
        settings = settings_cls(**file_sections)
    finally:
        _BINDING.reset(token)
    source = binding.source
    if source is None:  # pragma: no cover - settings_customise_sources always binds
        return result
    result.variables = source.variables
    result.applied = source.applied
    result.problems = source.problems
    touched = {path[0] for path in source.variables}
    for section in SECTIONS:
        if section in file_sections or section in touched:
            result.data[section] = getattr(settings, section)
    return result
