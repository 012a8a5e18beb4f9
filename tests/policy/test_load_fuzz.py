"""Property tests: whatever a file or the environment holds, loading gives a policy or PolicyError.

``FUZZ_EXAMPLES=20000 pytest tests/policy/test_load_fuzz.py`` searches harder.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.errors import PolicyError
from router.policy.load import LoadedPolicy, load_policy_text

CERTIFICATES = (Path(__file__).resolve().parents[2] / "policies" / "certificates.yaml").read_text()

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
)

# Characters that matter to YAML, to the policy language and to interpolation.
_SIGNIFICANT = st.sampled_from(
    [
        *":-[]{},&*!|>'\"%@`#?~<=$\\\n\t ",
        *("${", "$${", "${X:-", "<<: ", "!!python/object:os.system", "&a ", "*a", "---\n"),
        *("\x00", "on", "off", "yes", "true", "null", "0o7", "1e999", "s3", "local", "phase"),
    ]
)
_INSERT = st.lists(st.one_of(_SIGNIFICANT, st.text(max_size=4)), max_size=6).map("".join)


def refusal(data: str | bytes, environ: dict[str, str] | None = None) -> PolicyError | None:
    """The PolicyError loading ``data`` raises, or ``None`` if it loads (anything else fails)."""
    try:
        loaded = load_policy_text(data, source="fuzz.yaml", environ=environ or {})
    except PolicyError as exc:
        return exc
    assert isinstance(loaded, LoadedPolicy)
    return None


def assert_policy_or_explained_error(
    data: str | bytes, environ: dict[str, str] | None = None
) -> None:
    """Loading ``data`` gives a policy, or a PolicyError with at least one explained problem."""
    error = refusal(data, environ)
    if error is not None:
        assert error.problems
        assert all(problem.message for problem in error.problems)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_give_policy_error(data: bytes) -> None:
    """Random bytes never raise anything but PolicyError."""
    assert_policy_or_explained_error(data)


@FUZZ
@given(st.text(max_size=2048))
def test_random_text_gives_policy_error(text: str) -> None:
    """Random text never raises anything but PolicyError."""
    assert_policy_or_explained_error(text)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(CERTIFICATES)),
            st.integers(0, 12),
            _INSERT,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_mutated_certificates_policy_gives_policy_or_policy_error(
    edits: list[tuple[int, int, str]],
) -> None:
    """Splicing YAML-significant text into the certificates policy only ever gives PolicyError."""
    text = CERTIFICATES
    for position, length, insert in edits:
        at = min(position, len(text))
        text = text[:at] + insert + text[at + length :]
    assert_policy_or_explained_error(text)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(CERTIFICATES) - 1), st.integers(0, 255)), max_size=8))
def test_byte_flips_of_certificates_policy_give_policy_or_policy_error(
    flips: list[tuple[int, int]],
) -> None:
    """Overwriting random bytes of the certificates policy only ever gives PolicyError."""
    data = bytearray(CERTIFICATES.encode())
    for position, value in flips:
        data[position] = value
    assert_policy_or_explained_error(bytes(data))


_NAMES = st.lists(
    st.sampled_from(
        [
            *("ROUTES", "BACKENDS", "JOURNAL", "CERTIFICATES", "DEFAULT", "S3", "LOCAL", "PHASE"),
            *("ROLLOUT", "PERCENT", "TO", "FORCE", "URL", "OPTIONS", "FALLBACKS", "READ", "ON", ""),
        ]
    ),
    min_size=1,
    max_size=5,
).map(lambda parts: "ROUTER_" + "__".join(parts))
_VALUES = st.one_of(
    st.sampled_from(["s3-primary", "25", "101", "true", "[]", "{}", '["any"]', "{", "null", ""]),
    st.text(max_size=12),
)


@FUZZ
@given(st.dictionaries(_NAMES, _VALUES, max_size=5))
def test_random_overrides_give_policy_or_policy_error(environ: dict[str, str]) -> None:
    """Any ROUTER_ variables give either a valid policy or PolicyError naming a variable."""
    assert_policy_or_explained_error(CERTIFICATES, environ)
