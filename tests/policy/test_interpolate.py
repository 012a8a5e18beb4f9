"""``${VAR}`` interpolation: defaults, escapes, errors, and that values cannot inject YAML."""

from __future__ import annotations

import pytest

from router.errors import PolicyError
from router.policy.interpolate import InterpolationError, expand, interpolate
from router.policy.load import load_policy_text

POLICY = """\
version: 1
backends:
  local: {url: "file://${MEDIA_ROOT:-/srv/media}"}
  s3:
    url: "s3://${BUCKET}/prod"
    options: {endpoint_url: "${S3_ENDPOINT_URL:-}"}
routes:
  default: {prefix: "", primary: local}
"""


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A}", {"A": ""}, ""),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-dflt}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("${A:-a:b/c d}", {}, "a:b/c d"),
        ("$${A}", {"A": "x"}, "${A}"),
        ("$$${A}", {"A": "x"}, "$${A}"),  # read left to right: "$", then "$${"
        ("cost: $5 and $", {}, "cost: $5 and $"),
        ("$$", {}, "$$"),
        ("no dollars", {}, "no dollars"),
    ],
)
def test_expand(text: str, environ: dict[str, str], expected: str) -> None:
    """`${VAR}`, `${VAR:-default}` (shell semantics) and the `$${` escape expand as documented."""
    assert expand(text, environ) == expected


def test_unset_variable_without_default_names_the_variable() -> None:
    """An unset `${VAR}` is an error that names the variable."""
    with pytest.raises(InterpolationError, match="environment variable MEDIA_ROOT is not set"):
        expand("file://${MEDIA_ROOT}", {})


@pytest.mark.parametrize("text", ["${}", "${1A}", "${A-b}", "${A:=b}", "${A B}", "${A"])
def test_malformed_reference_is_an_error(text: str) -> None:
    """Anything but `${NAME}` or `${NAME:-default}` after `${` is an error."""
    with pytest.raises(InterpolationError):
        expand(text, {"A": "x"})


def test_values_are_not_interpolated_twice() -> None:
    """A variable's value is used literally, even if it contains `${...}`."""
    assert expand("${A}", {"A": "${B}"}) == "${B}"


def test_only_string_values_are_interpolated_not_keys() -> None:
    """Keys, numbers and booleans are left alone; strings in lists are expanded."""
    result = interpolate({"${K}": 1, "n": 5, "b": True, "l": ["${V}"]}, {"K": "k", "V": "v"})
    assert result.data == {"${K}": 1, "n": 5, "b": True, "l": ["v"]}
    assert result.problems == []


def test_interpolated_value_cannot_inject_yaml() -> None:
    """A value holding YAML syntax stays one string in the policy."""
    loaded = load_policy_text(
        POLICY, environ={"BUCKET": "b", "MEDIA_ROOT": "/x\nroutes: {evil: {prefix: e}}"}
    )
    assert loaded.policy.backends["local"].url == "file:///x\nroutes: {evil: {prefix: e}}"
    assert set(loaded.policy.routes) == {"default"}


def test_defaults_apply_in_a_loaded_policy() -> None:
    """Defaults fill unset variables; `${VAR:-}` gives an empty string."""
    loaded = load_policy_text(POLICY, environ={"BUCKET": "media"})
    assert loaded.policy.backends["local"].url == "file:///srv/media"
    assert loaded.policy.backends["s3"].url == "s3://media/prod"
    assert loaded.policy.backends["s3"].options == {"endpoint_url": ""}


def test_unset_variable_is_reported_at_its_scalar() -> None:
    """An unset variable is a problem at the scalar's line and column, naming the variable."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(POLICY, source="p.yaml", environ={})
    assert [str(p) for p in caught.value.problems] == [
        "p.yaml:5:10: backends.s3.url: environment variable BUCKET is not set and has no default"
    ]


def test_variables_used_change_the_fingerprint() -> None:
    """The fingerprint covers the values interpolated into the policy."""
    first = load_policy_text(POLICY, environ={"BUCKET": "a"})
    second = load_policy_text(POLICY, environ={"BUCKET": "b"})
    again = load_policy_text(POLICY, environ={"BUCKET": "a"})
    assert first.fingerprint != second.fingerprint
    assert first.fingerprint == again.fingerprint
