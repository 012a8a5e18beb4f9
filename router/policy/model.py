"""The policy model: what a policy file may say, typed and frozen.

Field shapes are checked here by pydantic (``extra="forbid"`` turns a typo into an
error); relations between fields (a phase naming a backend that does not exist, a
rollout to an unknown phase) are checked by :func:`router.policy.checks.check`, so
that every problem of a file is reported at once with its own location.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

__all__ = [
    "DEFAULT_JOURNAL_URL",
    "OPS",
    "Backend",
    "CompareConfig",
    "ErrorClass",
    "Fallback",
    "JournalConfig",
    "MetricsConfig",
    "Mode",
    "Op",
    "Phase",
    "Policy",
    "Rollout",
    "Route",
    "parse_duration",
]

DEFAULT_JOURNAL_URL = "file://.router-journal"
SHORTHAND_PHASE = "default"


class Mode(StrEnum):
    """How a phase uses its shadow."""

    PRIMARY_ONLY = "primary-only"
    DUAL_WRITE = "dual-write"
    READ_PRIMARY = "read-primary"


class Op(StrEnum):
    """The operation families a policy can configure."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    INFO = "info"
    LIST = "list"
    URL = "url"
    COPY = "copy"
    MOVE = "move"


OPS: tuple[Op, ...] = tuple(Op)


class ErrorClass(StrEnum):
    """What kind of failure a backend error is; ``any`` matches every class."""

    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    DENIED = "denied"
    OTHER = "other"
    ANY = "any"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Turn ``50ms``, ``2s``, ``1.5m`` into seconds; bare numbers need a unit."""
    if isinstance(value, bool):
        raise ValueError("a duration needs a unit, such as 50ms or 2s")
    if isinstance(value, int | float):
        if value == 0:
            return 0.0
        if not math.isfinite(value):
            raise ValueError("a duration is a finite number and a unit, such as 50ms or 2s")
        raise ValueError(f"a duration needs a unit: write {value}s or {value}ms")
    if not isinstance(value, str):
        raise ValueError("a duration is a string such as 50ms or 2s")
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a duration; use a number and a unit: us, ms, s, m, h, d"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"duration {value[:20]!r}... is too long")
    return seconds


def _format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(_format_duration, return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": _DURATION.pattern}),
]


def _parse_percent(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("percent is a number from 0 to 100")
    try:
        number = Decimal(str(value).strip().removesuffix("%"))
    except InvalidOperation:
        raise ValueError(f"percent {value!r} is not a number from 0 to 100") from None
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        raise ValueError(f"percent {value} is outside 0..100")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"percent {value} has more than two decimals (steps are 0.01%)")
    return number


Percent = Annotated[
    Decimal,
    BeforeValidator(_parse_percent),
    PlainSerializer(float, return_type=float),
    Field(json_schema_extra={"type": "number", "minimum": 0, "maximum": 100}),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Backend(_Frozen):
    """A named real filesystem: an fsspec URL whose path is the root, plus options."""

    url: str = Field(min_length=1, description="fsspec URL; its path is the backend's root")
    options: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for the fsspec filesystem"
    )
    max_url_expiry: Duration = Field(
        default=7 * 24 * 3600.0,
        le=7 * 24 * 3600.0,
        description="cap on presigned URL lifetime (at most 7d, S3's own limit)",
    )
    allow_private_endpoint: bool = Field(
        default=False,
        description="allow an endpoint on a link-local or metadata address (169.254.0.0/16)",
    )

    def __repr_args__(self) -> Any:
        """Like pydantic's, with secret-looking options and URL passwords redacted."""
        from router.redact import redact_options, redact_url

        for name, value in super().__repr_args__():
            if name == "options" and isinstance(value, dict):
                yield name, redact_options(value)
            elif name == "url" and isinstance(value, str):
                yield name, redact_url(value)
            else:
                yield name, value


class Fallback(_Frozen):
    """What one op does when its primary fails."""

    on: tuple[ErrorClass, ...] = Field(
        default=(), description="error classes of the primary that make the router try the shadow"
    )
    retries: int = Field(default=0, ge=0, le=20, description="retries on the same backend first")
    backoff: Duration = Field(default=0.0, description="first retry delay, doubled each retry")
    deadline: Duration | None = Field(
        default=None, description="wall-clock budget for the whole op, all legs and retries"
    )
    union: bool = Field(
        default=False,
        description="list only: merge primary and shadow listings (the primary's info wins)",
    )


class Rollout(_Frozen):
    """Send ``percent`` of a route's keys to another phase, chosen by a stable hash."""

    to: str = Field(min_length=1, description="the phase the rolled-out keys use")
    percent: Percent = Field(description="share of keys, 0..100, in steps of 0.01")


class MetricsConfig(_Frozen):
    """How a route names its counters and what its events carry."""

    prefix: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", description="counter name prefix"
    )
    keys: bool = Field(default=True, description="include keys in events (off for personal data)")


class CompareConfig(_Frozen):
    """Shadow-read comparison: the share of reads whose shadow copy is checked."""

    sample: float = Field(ge=0.0, le=1.0, description="share of keys compared, sticky by key")


class Phase(_Frozen):
    """A named (primary, shadow, mode) preset of a route."""

    primary: str = Field(min_length=1, description="backend that is the source of truth")
    shadow: str | None = Field(default=None, description="the other side of the migration")
    mode: Mode = Field(default=Mode.PRIMARY_ONLY, description="how the shadow is used")


class Route(_Frozen):
    """A path prefix with its own phases, fallbacks and metrics."""

    prefix: str = Field(description="keys starting with this belong to the route")
    phase: str | None = Field(default=None, description="the live phase")
    phases: dict[str, Phase] | None = Field(default=None, description="named phases")
    primary: str | None = Field(default=None, description="shorthand for a one-phase route")
    shadow: str | None = Field(default=None, description="shorthand for a one-phase route")
    mode: Mode | None = Field(default=None, description="shorthand for a one-phase route")
    rollout: Rollout | None = Field(default=None, description="ramp keys to another phase")
    fallbacks: dict[Op, Fallback] = Field(default_factory=dict, description="per-op fallbacks")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    compare: CompareConfig | None = Field(default=None, description="shadow-read comparison")
    force: bool = Field(
        default=False, description="allow a flip that drops a backend with pending divergences"
    )

    @cached_property
    def phase_table(self) -> dict[str, Phase]:
        """The route's phases, with the one-phase shorthand expanded."""
        if self.phases is not None:
            return dict(self.phases)
        if self.primary is None:
            return {}
        return {
            SHORTHAND_PHASE: Phase(
                primary=self.primary,
                shadow=self.shadow,
                mode=self.mode or Mode.PRIMARY_ONLY,
            )
        }

    @cached_property
    def live_phase(self) -> str:
        """Name of the live phase (``default`` for the shorthand)."""
        if self.phase is not None:
            return self.phase
        if self.phases is None:
            return SHORTHAND_PHASE
        return next(iter(self.phases)) if len(self.phases) == 1 else ""


class JournalConfig(_Frozen):
    """Where divergences are recorded."""

    url: str = Field(default=DEFAULT_JOURNAL_URL, description="a local directory (file://)")


class Policy(_Frozen):
    """A whole policy file."""

    version: Literal[1] = Field(description="policy language version; only 1 exists")
    backends: dict[str, Backend] = Field(description="named real filesystems")
    journal: JournalConfig = Field(default_factory=JournalConfig)
    routes: dict[str, Route] = Field(description="named path prefixes")
