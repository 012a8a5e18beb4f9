"""Environment overrides: flipping phases and rollouts without editing the file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from router.errors import PolicyError
from router.policy.load import load_policy
from router.policy.overrides import PolicyEnvironment, apply_overrides, variable_for

CERTIFICATES = Path(__file__).resolve().parents[2] / "policies" / "certificates.yaml"

PHASE = "ROUTER_ROUTES__CERTIFICATES__PHASE"
PERCENT = "ROUTER_ROUTES__CERTIFICATES__ROLLOUT__PERCENT"


def load(environ: dict[str, str]) -> Any:
    """The certificates policy under ``environ``."""
    return load_policy(CERTIFICATES, environ=environ)


def problems(environ: dict[str, str], path: Path = CERTIFICATES) -> list[str]:
    """The printed problems of loading ``path`` under ``environ``."""
    with pytest.raises(PolicyError) as caught:
        load_policy(path, environ=environ)
    return [str(problem) for problem in caught.value.problems]


def test_env_flips_the_live_phase_and_origin_says_env() -> None:
    """ROUTER_ROUTES__CERTIFICATES__PHASE flips the phase; its origin is that variable."""
    loaded = load({PHASE: "s3-read"})
    assert loaded.policy.routes["certificates"].phase == "s3-read"
    origin = loaded.origin("routes.certificates.phase")
    assert (origin.kind, origin.source) == ("env", PHASE)
    assert loaded.overrides == {PHASE: "s3-read"}


def test_env_ramps_the_rollout_percent() -> None:
    """ROUTER_..._ROLLOUT__PERCENT changes the percent; the target stays the file's."""
    loaded = load({PERCENT: "25"})
    rollout = loaded.policy.routes["certificates"].rollout
    assert rollout is not None
    assert rollout.percent == Decimal("25")
    assert rollout.to == "s3-primary"
    assert loaded.origin("routes.certificates.rollout.percent").kind == "env"
    to = loaded.origin("routes.certificates.rollout.to")
    assert (to.kind, to.line) == ("file", 14)


def test_without_overrides_every_value_comes_from_the_file() -> None:
    """With no ROUTER_ variables, values are located in the file; unset fields are defaults."""
    loaded = load({})
    phase = loaded.origin("routes.certificates.phase")
    assert (phase.kind, phase.source, phase.line, phase.column) == (
        "file",
        str(CERTIFICATES),
        13,
        12,
    )
    assert loaded.origin("routes.certificates.force").kind == "default"
    assert loaded.overrides == {}


def test_variable_names_and_route_names_are_case_insensitive() -> None:
    """Lower-case variables and mixed-case route names match the policy's names."""
    loaded = load({"router_routes__Certificates__phase": "s3-read"})
    assert loaded.policy.routes["certificates"].phase == "s3-read"


def test_underscore_stands_for_dash_in_names(tmp_path: Path) -> None:
    """`USER_UPLOADS` in a variable names the route `user-uploads`."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\n"
        "backends: {local: {url: 'file:///a'}, s3-main: {url: 's3://b/p'}}\n"
        "routes:\n"
        "  user-uploads:\n"
        "    prefix: uploads/\n"
        "    phase: legacy\n"
        "    phases: {legacy: {primary: local}, s3-only: {primary: s3-main}}\n"
    )
    loaded = load_policy(
        policy,
        environ={
            "ROUTER_ROUTES__USER_UPLOADS__PHASE": "s3-only",
            "ROUTER_ROUTES__USER_UPLOADS__PHASES__S3_ONLY__PRIMARY": "s3-main",
            "ROUTER_BACKENDS__S3_MAIN__URL": "s3://other/p",
        },
    )
    assert loaded.policy.routes["user-uploads"].phase == "s3-only"
    assert loaded.policy.backends["s3-main"].url == "s3://other/p"


def test_other_leaves_can_be_overridden() -> None:
    """Force, backend URLs, options, the journal and JSON lists can all come from env."""
    loaded = load(
        {
            "ROUTER_ROUTES__CERTIFICATES__FORCE": "true",
            "ROUTER_BACKENDS__S3__URL": "s3://elsewhere/prod",
            "ROUTER_BACKENDS__S3__OPTIONS__ENDPOINT_URL": "http://127.0.0.1:9000",
            "ROUTER_JOURNAL__URL": "file:///tmp/journal",
            "ROUTER_ROUTES__CERTIFICATES__FALLBACKS__READ__ON": '["any"]',
            "ROUTER_ROUTES__CERTIFICATES__ROLLOUT__TO": "s3-read",
        }
    )
    route = loaded.policy.routes["certificates"]
    assert route.force is True
    assert loaded.policy.backends["s3"].url == "s3://elsewhere/prod"
    assert loaded.policy.backends["s3"].options == {"endpoint_url": "http://127.0.0.1:9000"}
    assert loaded.policy.journal.url == "file:///tmp/journal"
    assert [c.value for c in route.fallbacks["read"].on] == ["any"]  # type: ignore[index]
    assert route.rollout is not None
    assert route.rollout.to == "s3-read"


def test_env_replaces_both_rollout_fields() -> None:
    """TO and PERCENT together retarget an existing rollout."""
    environ = {"ROUTER_ROUTES__CERTIFICATES__ROLLOUT__TO": "s3-only", PERCENT: "0.5"}
    rollout = load(environ).policy.routes["certificates"].rollout
    assert rollout is not None
    assert (rollout.to, rollout.percent) == ("s3-only", Decimal("0.5"))


def test_env_rollout_on_a_route_without_one_needs_both_fields(tmp_path: Path) -> None:
    """Only PERCENT for a route that has no rollout is an error naming that variable."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\n"
        "backends: {local: {url: 'file:///a'}, s3: {url: 's3://b/p'}}\n"
        "routes:\n"
        "  media:\n"
        "    prefix: ''\n"
        "    phase: legacy\n"
        "    phases: {legacy: {primary: local}, s3-only: {primary: s3}}\n"
    )
    created = load_policy(
        policy,
        environ={
            "ROUTER_ROUTES__MEDIA__ROLLOUT__TO": "s3-only",
            "ROUTER_ROUTES__MEDIA__ROLLOUT__PERCENT": "5",
        },
    )
    assert created.policy.routes["media"].rollout is not None
    assert created.origin("routes.media.rollout").kind == "env"
    assert problems({"ROUTER_ROUTES__MEDIA__ROLLOUT__PERCENT": "5"}, policy) == [
        f"{policy}: $ROUTER_ROUTES__MEDIA__ROLLOUT__PERCENT: routes.media.rollout: "
        "missing required key 'to' (the phase the rolled-out keys use)"
    ]


def test_unknown_route_is_rejected_naming_the_variable() -> None:
    """An override for a route the file does not define is an error with a suggestion."""
    assert problems({"ROUTER_ROUTES__CERTIFICATS__PHASE": "s3-primary"}) == [
        f"{CERTIFICATES}: $ROUTER_ROUTES__CERTIFICATS__PHASE: routes: unknown route "
        "'certificats'; did you mean 'certificates'? (known: 'certificates', 'default'); "
        "the environment can only override routes the file defines"
    ]


def test_unknown_backend_is_rejected_naming_the_variable() -> None:
    """An override for an undefined backend is an error, not a new backend."""
    (line,) = problems({"ROUTER_BACKENDS__S33__URL": "s3://x/y"})
    assert "$ROUTER_BACKENDS__S33__URL: backends: unknown backend 's33'" in line
    assert "did you mean 's3'?" in line


def test_unknown_phase_value_is_rejected_naming_the_variable() -> None:
    """A phase value that is not a phase of the route is reported with the variable."""
    assert problems({PHASE: "s3-primari"}) == [
        f"{CERTIFICATES}: ${PHASE}: routes.certificates.phase: unknown phase 's3-primari'; "
        "did you mean 's3-primary'? (known: 'dual-write', 'legacy', 's3-only', 's3-primary', "
        "'s3-read')"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("101", "percent 101 is outside 0..100"),
        ("12.345", "percent 12.345 has more than two decimals (steps are 0.01%)"),
        ("lots", "percent 'lots' is not a number from 0 to 100"),
    ],
)
def test_bad_percent_is_rejected_naming_the_variable(value: str, message: str) -> None:
    """An override value that fails validation is reported with `$VARIABLE`."""
    assert problems({PERCENT: value}) == [
        f"{CERTIFICATES}: ${PERCENT}: routes.certificates.rollout.percent: {message}"
    ]


def test_unknown_field_via_env_gets_a_suggestion() -> None:
    """A misspelt field in a variable name is an unknown key with a 'did you mean'."""
    (line,) = problems({"ROUTER_ROUTES__CERTIFICATES__PHAZE": "legacy"})
    assert line.endswith("routes.certificates.phaze: unknown key 'phaze'; did you mean 'phase'?")
    assert "$ROUTER_ROUTES__CERTIFICATES__PHAZE" in line


def test_file_problems_come_before_env_problems(tmp_path: Path) -> None:
    """Problems are sorted by line; environment problems (no line) come last."""
    text = CERTIFICATES.read_text().replace("phase: dual-write", "phase: dual-wirte")
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    found = problems({"ROUTER_ROUTES__NOPE__PHASE": "x"}, policy)
    assert len(found) == 2
    assert found[0].startswith(f"{policy}:13:12: routes.certificates.phase: unknown phase")
    assert found[1].startswith(f"{policy}: $ROUTER_ROUTES__NOPE__PHASE: routes: unknown route")


def test_check_problem_in_the_file_names_the_override_that_caused_it() -> None:
    """Flipping the phase onto the rollout target names the variable behind the conflict."""
    assert problems({PHASE: "s3-primary"}) == [
        f"{CERTIFICATES}:14:19: routes.certificates.rollout.to: rollout target 's3-primary' "
        f"is already the live phase (with ${PHASE}=s3-primary)"
    ]


def test_unrelated_router_variables_are_ignored() -> None:
    """Variables outside ROUTER_ROUTES/BACKENDS/JOURNAL are not policy overrides."""
    loaded = load({"ROUTER_POLICY": "x.yaml", "ROUTER_LOG_LEVEL": "debug", "ROUTERX": "1"})
    assert loaded.overrides == {}


def test_whole_section_variable_must_be_a_json_object() -> None:
    """ROUTER_ROUTES=garbage is a clear error, not a crash."""
    (line,) = problems({"ROUTER_ROUTES": "garbage"})
    assert "$ROUTER_ROUTES: routes: set one value per variable" in line


def test_override_values_are_not_interpolated() -> None:
    """An override value is taken literally; `${...}` in it is not expanded."""
    loaded = load({"ROUTER_BACKENDS__S3__URL": "s3://${BUCKET}/p"})
    assert loaded.policy.backends["s3"].url == "s3://${BUCKET}/p"


def test_overrides_change_the_fingerprint() -> None:
    """The fingerprint changes when an override does, and is stable otherwise."""
    plain, again = load({}), load({})
    flipped = load({PHASE: "legacy"})
    assert plain.fingerprint == again.fingerprint
    assert plain.fingerprint != flipped.fingerprint


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `environ=`, overrides come from os.environ."""
    monkeypatch.setenv(PHASE, "legacy")
    assert load_policy(CERTIFICATES).policy.routes["certificates"].phase == "legacy"


def test_precedence_lives_in_settings_customise_sources() -> None:
    """Reversing the sources in a subclass makes the file win: precedence is defined there."""

    class FileFirst(PolicyEnvironment):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            env_first = super().settings_customise_sources(
                settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
            )
            return tuple(reversed(env_first))

    data = {"routes": {"r": {"phase": "file"}}}
    environ = {"ROUTER_ROUTES__R__PHASE": "env"}
    assert apply_overrides(data, environ).data["routes"]["r"]["phase"] == "env"
    reversed_ = apply_overrides(data, environ, settings_cls=FileFirst)
    assert reversed_.data["routes"]["r"]["phase"] == "file"


def test_variable_for_names_the_override_of_a_path() -> None:
    """variable_for gives the variable that overrides a dotted path."""
    assert variable_for(("routes", "user-uploads", "rollout", "percent")) == (
        "ROUTER_ROUTES__USER_UPLOADS__ROLLOUT__PERCENT"
    )
