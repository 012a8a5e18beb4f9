"""Safe, located YAML for policy files.

A policy file is read into plain ``dict``/``list``/``str``/``int``/``float``/``bool``/
``None`` and nothing else: no constructor ever runs, so no tag can build an object.
The document is composed into nodes by PyYAML (libyaml when available) and walked
here, which gives each key and value its ``line:column`` and lets the walk refuse
what a policy never needs:

* **YAML 1.2 core schema.** Booleans are only ``true``/``True``/``TRUE`` and
  ``false``/``False``/``FALSE``; ``on``, ``off``, ``yes``, ``no`` are strings (so the
  fallback key ``on:`` stays ``"on"``). Null is ``~``, ``null``, ``Null``, ``NULL`` or
  empty; integers are decimal, ``0o17`` or ``0x1f`` (``012`` is twelve, ``1:30`` is a
  string); floats as in YAML 1.2, with ``.inf`` and ``.nan``; timestamps are strings.
* **Keys are strings**: a key is its scalar's text (``404:`` is the key ``"404"``).
* **Duplicate keys are errors**, reported at the second key.
* **Only standard tags** (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!map``, ``!!seq``); ``!!python/object`` and friends are errors.
* **Anchors, aliases and ``<<`` merge keys work**, but every value an alias expands to
  counts: past :data:`MAX_NODES` values the document is refused, so an alias bomb
  fails in milliseconds; nesting is capped at :data:`MAX_DEPTH` (recursive aliases).
* **Bytes are checked first**: at most :data:`MAX_BYTES`, UTF-8 (a BOM is allowed),
  no NUL bytes or other control characters.

Every problem is a :class:`~router.errors.PolicyProblem` with a 1-based position when
one is known; :func:`load_yaml` raises :class:`~router.errors.PolicyError` with all
problems found, never a parser exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from router.errors import PolicyError, PolicyProblem

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Path",
    "Position",
    "SourceMap",
    "YamlDocument",
    "dotted",
    "load_yaml",
]

MAX_BYTES = 1 << 20
"""A policy file larger than this (1 MiB) is refused before parsing."""
MAX_NODES = 10_000
"""Values a document may hold once aliases are expanded."""
MAX_DEPTH = 64
"""How deeply mappings and lists may nest."""

Path = tuple[str | int, ...]
"""Keys from the document root, e.g. ``("routes", "certificates", "phase")``."""
Position = tuple[int, int]
"""1-based ``(line, column)``."""

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}merge"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

# What yaml.reader refuses, minus the characters YAML allows (tab, LF, CR, NEL, ...).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class _Loader(_BaseLoader):
    """A safe loader whose implicit types follow the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # filled below; replaces the YAML 1.1 set


for _tag, _pattern, _first in (
    (_BOOL, r"(?:true|True|TRUE|false|False|FALSE)\Z", "tTfF"),
    (_NULL, r"(?:~|null|Null|NULL|)\Z", ["~", "n", "N", ""]),
    (_INT, r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z", "-+0123456789"),
    (
        _FLOAT,
        r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z",
        "-+.0123456789",
    ),
    (_MERGE, r"<<\Z", "<"),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def dotted(path: Path) -> str:
    """``("routes", "c", "on", 0)`` → ``"routes.c.on.0"``."""
    return ".".join(str(part) for part in path)


@dataclass(frozen=True)
class SourceMap:
    """Where each key and value of a document is, by path."""

    values: Mapping[Path, Position] = field(default_factory=dict)
    """Position of the value at a path (for a mapping or list, where it starts)."""
    keys: Mapping[Path, Position] = field(default_factory=dict)
    """Position of the key that names a path (absent for list items and the root)."""


@dataclass(frozen=True)
class YamlDocument:
    """A policy document as plain data, with the position of every key and value."""

    data: dict[str, Any]
    where: SourceMap


class _Abort(Exception):
    """Stop walking: the document is too large or too deep."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def _position(node: Node) -> Position:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


def _show_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a scalar"


class _Walker:
    """Turns a node graph into plain data, counting every value an alias expands to."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.problems: list[PolicyProblem] = []

    def problem(self, node: Node, path: Path, message: str) -> None:
        line, column = _position(node)
        self.problems.append(PolicyProblem(self.source, dotted(path), message, line, column))

    def tick(self, node: Node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Abort(
                node,
                f"document too large (alias expansion?): more than {MAX_NODES} values",
            )
        if depth > MAX_DEPTH:
            raise _Abort(node, f"nesting deeper than {MAX_DEPTH} levels (recursive alias?)")

    def walk(self, node: Node, path: Path, depth: int) -> Any:
        self.tick(node, depth)
        self.values[path] = _position(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self.bad_tag(node, path)
                return None
            return [
                self.walk(child, (*path, index), depth + 1)
                for index, child in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                self.bad_tag(node, path)
                return None
            result: dict[str, Any] = {}
            for key, key_node, value_node in self.entries(node, path, depth):
                self.keys[(*path, key)] = _position(key_node)
                result[key] = self.walk(value_node, (*path, key), depth + 1)
            return result
        raise _Abort(node, "unsupported YAML node")  # pragma: no cover - no other node types

    def bad_tag(self, node: Node, path: Path) -> None:
        self.problem(
            node,
            path,
            f"tag {_show_tag(node.tag)} is not allowed; a policy holds only strings, numbers, "
            "booleans, null, mappings and lists",
        )

    def key(self, node: Node, path: Path) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problem(node, path, f"a key must be a plain name, not {_kind(node)}")
            return None
        if node.tag not in _SCALAR_TAGS:
            self.bad_tag(node, path)
            return None
        return str(node.value)

    def entries(self, node: MappingNode, path: Path, depth: int) -> list[tuple[str, Node, Node]]:
        """The mapping's (key, key node, value node) triples with ``<<`` merges resolved.

        Keys written in the mapping win over merged ones; among merged mappings, the
        earlier one wins (YAML merge-key semantics).
        """
        explicit: list[tuple[str, Node, Node]] = []
        seen: dict[str, Node] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                if merges:
                    self.problem(key_node, path, "duplicate merge key '<<'")
                    continue
                merges.append(value_node)
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in seen:
                first_line = _position(seen[key])[0]
                self.problem(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined on line {first_line})",
                )
                continue
            seen[key] = key_node
            explicit.append((key, key_node, value_node))
        result = list(explicit)
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                self.tick(source, depth + 1)
                if not isinstance(source, MappingNode) or source.tag != _MAP:
                    self.problem(
                        source, path, "merge key '<<' takes a mapping or a list of mappings"
                    )
                    continue
                for key, key_node, value_node in self.entries(source, path, depth + 1):
                    if key not in seen:
                        seen[key] = key_node
                        result.append((key, key_node, value_node))
        return result

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        text = str(node.value)
        tag = node.tag
        try:
            if tag == _STR:
                return text
            if tag == _NULL:
                if text not in ("", "~", "null", "Null", "NULL"):
                    raise ValueError("null")
                return None
            if tag == _BOOL:
                if text not in ("true", "True", "TRUE", "false", "False", "FALSE"):
                    raise ValueError("bool")
                return text.lower() == "true"
            if tag == _INT:
                return _to_int(text)
            if tag == _FLOAT:
                return _to_float(text)
        except ValueError:
            name = _show_tag(tag).removeprefix("!!")
            shown = repr(text) if len(text) <= 40 else f"{text[:30]!r}... ({len(text)} characters)"
            self.problem(node, path, f"{shown} cannot be read as {name}")
            return None
        self.bad_tag(node, path)
        return None


def _to_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(text)
    return sign * int(digits, 10)  # ValueError past Python's 4300-digit limit


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".nan", "+.nan", "-.nan"):
        return math.nan
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    return float(text)


def _line_column(data: bytes, offset: int) -> Position:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return (data.count(b"\n", 0, offset) + 1, column)


def decode(raw: bytes, source: str) -> str:
    """The text of a policy file, or :class:`PolicyError` saying why it is not text."""
    if len(raw) > MAX_BYTES:
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "",
                    f"file is larger than {MAX_BYTES >> 20} MiB; a policy file is small text",
                    1,
                    1,
                )
            ]
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PolicyError([PolicyProblem(source, "", "file is UTF-16; save it as UTF-8", 1, 1)])
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _line_column(raw, nul)
        raise PolicyError(
            [
                PolicyProblem(
                    source, "", "binary data (NUL byte); a policy is a YAML text file", line, column
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw, exc.start)
        byte = raw[exc.start]
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "",
                    f"not valid UTF-8 (byte 0x{byte:02x}); a policy is a UTF-8 text file",
                    line,
                    column,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _check_characters(text: str, source: str) -> None:
    match = _NON_PRINTABLE.search(text)
    if match is None:
        return
    offset = match.start()
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    char = ord(match.group())
    raise PolicyError(
        [
            PolicyProblem(
                source,
                "",
                f"character U+{char:04X} is not allowed in a YAML file (control character?)",
                line,
                column,
            )
        ]
    )


def _yaml_error(exc: yaml.YAMLError, source: str) -> PolicyProblem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        if exc.problem == "but found another document":
            return PolicyProblem(
                source,
                "",
                "a policy file holds one YAML document; found a second one ('---')",
                line,
                column,
            )
        parts = [p.strip() for p in (exc.context, exc.problem) if p]
        return PolicyProblem(source, "", "invalid YAML: " + ", ".join(parts), line, column)
    return PolicyProblem(source, "", f"invalid YAML: {exc}", None, None)


def load_yaml(text: str | bytes, source: str = "<string>") -> YamlDocument:
    """Parse one policy document; :class:`PolicyError` lists every problem found."""
    if isinstance(text, bytes):
        text = decode(text, source)
    elif len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        decode(text.encode("utf-8", "surrogatepass"), source)  # raises: too large
    _check_characters(text, source)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise PolicyError([_yaml_error(exc, source)]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "",
                    "the file is empty; a policy needs version, backends and routes",
                    1,
                    1,
                )
            ]
        )
    if not isinstance(root, MappingNode):
        line, column = _position(root)
        what = (
            "a list" if isinstance(root, SequenceNode) else f"the scalar {str(root.value)[:40]!r}"
        )
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "",
                    f"a policy is a mapping with version, backends and routes, not {what}",
                    line,
                    column,
                )
            ]
        )
    walker = _Walker(source)
    try:
        data = walker.walk(root, (), 0)
    except _Abort as abort:
        line, column = _position(abort.node)
        raise PolicyError([PolicyProblem(source, "", abort.message, line, column)]) from None
    if walker.problems:
        unique = {(p.line, p.column, p.path, p.message): p for p in walker.problems}
        raise PolicyError(sorted(unique.values(), key=lambda p: (p.line or 0, p.column or 0)))
    if not isinstance(data, dict):  # pragma: no cover - a mapping node with a bad tag
        raise PolicyError([PolicyProblem(source, "", "a policy is a mapping", 1, 1)])
    return YamlDocument(data=data, where=SourceMap(values=walker.values, keys=walker.keys))
