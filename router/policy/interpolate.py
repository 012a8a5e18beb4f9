"""``${VAR}`` interpolation in policy values.

Runs after parsing, on string values only (never on keys, numbers or booleans), so
whatever a variable holds stays one string and can never inject YAML structure:

* ``${NAME}``: the variable's value; an error when it is not set (an empty value
  counts as set).
* ``${NAME:-default}``: the value when set and non-empty, else ``default`` (as in a
  POSIX shell); ``${NAME:-}`` gives the empty string. The default is literal text up
  to the first ``}``; it is not itself interpolated.
* ``$${`` is a literal ``${``; any other ``$`` is kept as it is.

``NAME`` is letters, digits and ``_``, not starting with a digit. Anything else after
``${`` is an error, as is a ``${`` without its ``}``. Pure: the environment is passed
in, and problems come back as ``(path, message)`` pairs for the loader to locate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.policy.yamlload import Path

__all__ = ["Interpolated", "InterpolationError", "expand", "interpolate"]

_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\Z", re.DOTALL)


class InterpolationError(ValueError):
    """A string's ``${...}`` could not be expanded."""


@dataclass
class Interpolated:
    """The data with every ``${...}`` expanded, and what went wrong where."""

    data: Any
    problems: list[tuple[Path, str]] = field(default_factory=list)
    used: dict[str, str | None] = field(default_factory=dict)
    """Each variable referenced, with its value (``None`` when unset)."""


def expand(text: str, environ: Mapping[str, str], used: dict[str, str | None] | None = None) -> str:
    """``text`` with its ``${...}`` references expanded; :class:`InterpolationError` if not."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        if text.startswith("$${", j):
            out.append("${")
            i = j + 3
        elif text.startswith("${", j):
            end = text.find("}", j + 2)
            if end < 0:
                raise InterpolationError(
                    f"'${{' without a closing '}}' in {_short(text)}; write $${{ for a literal ${{"
                )
            out.append(_resolve(text[j + 2 : end], environ, used))
            i = end + 1
        else:
            out.append("$")
            i = j + 1


def _resolve(inner: str, environ: Mapping[str, str], used: dict[str, str | None] | None) -> str:
    match = _REFERENCE.match(inner)
    if match is None:
        raise InterpolationError(
            f"cannot interpolate '${{{inner}}}'; write ${{NAME}} or ${{NAME:-default}} "
            f"(and $${{ for a literal ${{)"
        )
    name, default = match.group(1), match.group(2)
    value = environ.get(name)
    if used is not None:
        used[name] = value
    if default is not None:
        return value if value else default
    if value is None:
        raise InterpolationError(f"environment variable {name} is not set and has no default")
    return value


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def interpolate(data: Any, environ: Mapping[str, str]) -> Interpolated:
    """A copy of ``data`` with every string value expanded (keys are left alone)."""
    result = Interpolated(data=None)

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            try:
                return expand(value, environ, result.used)
            except InterpolationError as exc:
                result.problems.append((path, str(exc)))
                return ""
        if isinstance(value, Mapping):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    result.data = walk(data, ())
    return result
