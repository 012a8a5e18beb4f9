"""Safe, located YAML: YAML 1.2 scalars, positions, and every way a file can be refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from router.errors import PolicyError, PolicyProblem
from router.policy.yamlload import MAX_BYTES, MAX_DEPTH, load_yaml

CERTIFICATES = Path(__file__).resolve().parents[2] / "policies" / "certificates.yaml"


def problem_of(text: str | bytes) -> PolicyProblem:
    """The single problem ``text`` is refused for."""
    with pytest.raises(PolicyError) as caught:
        load_yaml(text, "p.yaml")
    (problem,) = caught.value.problems
    return problem


def test_on_is_the_string_key_on() -> None:
    """YAML 1.2: the fallback key `on:` loads as the string "on", not True."""
    data = load_yaml("read: {on: [not_found, transient]}\n").data
    assert data == {"read": {"on": ["not_found", "transient"]}}


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "On", "OFF", "Yes", "NO", "y", "n"])
def test_yaml11_boolean_words_are_strings(word: str) -> None:
    """`on`, `off`, `yes`, `no` and friends are plain strings, as values and as keys."""
    assert load_yaml(f"a: {word}\n{word}: 1\n").data == {"a": word, word: 1}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("", None),
        ("12", 12),
        ("-3", -3),
        ("012", 12),
        ("0o17", 15),
        ("0x1f", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-.inf", -math.inf),
        ("1:30", "1:30"),
        ("2001-12-14", "2001-12-14"),
        ("1_000", "1_000"),
        ("'true'", "true"),
        ("!!str 12", "12"),
        ('!!int "7"', 7),
        ("!!float 1", 1.0),
    ],
)
def test_scalars_follow_the_yaml12_core_schema(text: str, value: object) -> None:
    """Scalars resolve by the YAML 1.2 core schema: no sexagesimal, no 1.1 octal, no timestamps."""
    loaded = load_yaml(f"a: {text}\n").data["a"]
    assert loaded == value
    assert type(loaded) is type(value)


def test_nan_is_a_float() -> None:
    """`.nan` loads as a float NaN."""
    assert math.isnan(load_yaml("a: .nan\n").data["a"])


def test_keys_are_always_strings() -> None:
    """A numeric or boolean-looking key is kept as its text."""
    assert load_yaml("404: a\ntrue: b\n~: c\n").data == {"404": "a", "true": "b", "~": "c"}


def test_positions_of_keys_and_values_are_one_based() -> None:
    """Every key and value is located at its 1-based line and column."""
    document = load_yaml("version: 1\nroutes:\n  default: {prefix: '', primary: local}\n")
    assert document.where.keys[("version",)] == (1, 1)
    assert document.where.values[("version",)] == (1, 10)
    assert document.where.keys[("routes", "default")] == (3, 3)
    assert document.where.values[("routes", "default", "primary")] == (3, 34)
    assert document.where.values[()] == (1, 1)


def test_positions_count_characters_not_bytes() -> None:
    """Columns after non-ASCII text count characters, as editors do."""
    document = load_yaml("a: {é: Δ, b: c}\n")
    assert document.where.values[("a", "b")] == (1, 14)


def test_list_items_are_located() -> None:
    """Items of a list are located by index."""
    document = load_yaml("on:\n  - not_found\n  - transient\n")
    assert document.where.values[("on", 1)] == (3, 5)


def test_duplicate_key_is_an_error_at_the_second_key() -> None:
    """A repeated key is reported where it is repeated, naming the first line."""
    problem = problem_of("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (problem.line, problem.column, problem.path) == (4, 3, "b.c")
    assert problem.message == "duplicate key 'c' (first defined on line 3)"


def test_all_duplicate_keys_are_reported() -> None:
    """Every duplicate of a document is reported, not only the first."""
    with pytest.raises(PolicyError) as caught:
        load_yaml("a: 1\na: 2\nb: 1\nb: 2\n")
    assert [(p.line, p.path) for p in caught.value.problems] == [(2, "a"), (4, "b")]


def test_merge_keys_merge_and_explicit_keys_win() -> None:
    """`<<: *anchor` merges a mapping; keys written in place override merged ones."""
    text = "base: &b {prefix: x, primary: local}\nr: {<<: *b, prefix: y}\n"
    assert load_yaml(text).data["r"] == {"prefix": "y", "primary": "local"}


def test_merge_of_a_list_earlier_mappings_win() -> None:
    """With `<<: [*a, *b]`, keys of the earlier mapping win over the later one's."""
    text = "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc: {<<: [*a, *b]}\n"
    assert load_yaml(text).data["c"] == {"x": 1, "y": 2}


def test_merge_of_a_scalar_is_an_error() -> None:
    """`<<:` of something that is not a mapping is refused."""
    problem = problem_of("a: &a 1\nb: {<<: *a}\n")
    assert "merge key '<<' takes a mapping" in problem.message


def test_small_aliases_are_allowed() -> None:
    """Anchors and aliases work for ordinary reuse."""
    data = load_yaml("a: &x [1, 2]\nb: *x\n").data
    assert data == {"a": [1, 2], "b": [1, 2]}


def test_alias_bomb_is_refused() -> None:
    """A billion-laughs document fails with 'document too large' instead of expanding."""
    lines = ["a: &a [" + ", ".join(["lol"] * 10) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    problem = problem_of("\n".join(lines) + "\n")
    assert problem.message.startswith("document too large (alias expansion?)")


def test_recursive_alias_is_refused() -> None:
    """A list that contains itself is refused, not followed forever."""
    problem = problem_of("a: &a [*a]\n")
    assert f"nesting deeper than {MAX_DEPTH} levels" in problem.message


def test_deep_nesting_is_refused_without_a_crash() -> None:
    """Very deep nesting gives a problem, never a RecursionError or a crash."""
    problem = problem_of("a: " + "[" * 500 + "]" * 500 + "\n")
    assert "nesting deeper" in problem.message or "invalid YAML" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system {}\n",
        "a: !!python/object/apply:os.system ['id']\n",
        "a: !!python/name:os.system ''\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x, y}\n",
        "a: !!timestamp 2001-12-14\n",
        "a: !custom value\n",
        "!!python/object:os.system x: 1\n",
    ],
)
def test_non_standard_tags_are_refused(text: str) -> None:
    """Only standard str/int/float/bool/null/map/seq tags are allowed; others are errors."""
    problem = problem_of(text)
    assert "is not allowed" in problem.message
    assert problem.line == 1


def test_explicit_tag_that_does_not_fit_is_an_error() -> None:
    """`!!int abc` is an error, not a crash."""
    assert problem_of("a: !!int abc\n").message == "'abc' cannot be read as int"


def test_huge_integer_is_an_error_not_a_crash() -> None:
    """An integer beyond Python's digit limit is reported as unreadable."""
    problem = problem_of("a: " + "9" * 5000 + "\n")
    assert "cannot be read as int" in problem.message
    assert "5000 characters" in problem.message


def test_non_scalar_key_is_an_error() -> None:
    """A mapping or list used as a key is refused."""
    assert problem_of("? [a, b]\n: 1\n").message == "a key must be a plain name, not a list"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "\n\n"])
def test_empty_document_is_an_error(text: str) -> None:
    """An empty file (or one with only comments) is a clear error at 1:1."""
    problem = problem_of(text)
    assert problem.message.startswith("the file is empty")
    assert (problem.line, problem.column) == (1, 1)


@pytest.mark.parametrize(
    ("text", "what"),
    [("- a\n- b\n", "not a list"), ("just text\n", "not the scalar 'just text'")],
)
def test_non_mapping_document_is_an_error(text: str, what: str) -> None:
    """A document that is a list or a scalar is refused."""
    assert problem_of(text).message.endswith(what)


def test_second_document_is_an_error_at_its_start() -> None:
    """Two YAML documents in one file are refused at the second one."""
    problem = problem_of("a: 1\n---\nb: 2\n")
    assert (problem.line, problem.column) == (2, 1)
    assert "one YAML document" in problem.message


def test_syntax_error_is_located() -> None:
    """A YAML syntax error names the problem and where it was found."""
    problem = problem_of("a: [1, 2\nb: 3\n")
    assert problem.message.startswith("invalid YAML: ")
    assert problem.line is not None


def test_invalid_utf8_is_located() -> None:
    """Invalid UTF-8 is reported at the line and column of the bad byte."""
    problem = problem_of(b"a: 1\nb: caf\xe9\n")
    assert (problem.line, problem.column) == (2, 7)
    assert problem.message.startswith("not valid UTF-8 (byte 0xe9)")


def test_nul_byte_means_binary() -> None:
    """A NUL byte is reported as binary data."""
    problem = problem_of(b"\x7fELF\x02\x01\x01\x00\x00")
    assert problem.message.startswith("binary data")


def test_utf16_is_named() -> None:
    """A UTF-16 file is recognised by its BOM and the user told to save it as UTF-8."""
    problem = problem_of("a: 1\n".encode("utf-16"))
    assert problem.message == "file is UTF-16; save it as UTF-8"


def test_control_character_is_located() -> None:
    """A control character in text is refused at its position."""
    problem = problem_of("a: 1\nb: x\x07y\n")
    assert (problem.line, problem.column) == (2, 5)


def test_utf8_bom_is_accepted() -> None:
    """A UTF-8 byte order mark is ignored."""
    assert load_yaml(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_file_over_one_mebibyte_is_refused_before_parsing() -> None:
    """More than MAX_BYTES bytes is refused without parsing."""
    problem = problem_of(b"a: 1\n" + b"#" * MAX_BYTES)
    assert problem.message.startswith("file is larger than 1 MiB")


def test_large_text_string_is_refused_too() -> None:
    """The size cap applies to text passed as str as well."""
    problem = problem_of("a: 1\n" + "#" * MAX_BYTES)
    assert problem.message.startswith("file is larger than 1 MiB")


def test_certificates_policy_loads_with_string_on_keys() -> None:
    """The shipped certificates policy loads, every fallback keyed by the string 'on'."""
    data = load_yaml(CERTIFICATES.read_bytes(), str(CERTIFICATES)).data
    fallbacks = data["routes"]["certificates"]["fallbacks"]
    assert all("on" in fallback for fallback in fallbacks.values())
    assert True not in fallbacks["read"]
