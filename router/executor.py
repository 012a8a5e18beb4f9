"""The executor: the only place that calls backends. Legs, retries, deadlines, journal.

Given a :class:`~router.plan.Decision` (route + phase, from the pure planner) and a
callable that performs one backend call, the executor

- runs the primary leg with the op's retries (transient errors only), exponential
  backoff with jitter, bounded by the op's deadline;
- on a primary failure whose class the op's fallback names, moves on to the shadow —
  never to a side that the journal says is stale for this key, and a side the journal
  says holds the truth is asked first;
- for mutations in dual-write, runs primary and shadow concurrently and settles the
  outcome with the mode's rules (:mod:`router.modes`), journaling any divergence
  durably before returning;
- records one metrics call per backend attempt.

The caller gets the primary's own exception type, with the other legs' failures added
as notes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from router.backends import BackendFS
from router.errors import classify, translate
from router.journal import Entry, Journal
from router.metrics import Call, Metrics, Outcome
from router.modes import Outcome as LegOutcome
from router.modes import rules_for
from router.plan import Decision, OpPlan, Role
from router.policy.model import ErrorClass, Op

__all__ = ["Deadline", "Executor", "LegFailure"]

T = TypeVar("T")
BackendCall = Callable[[BackendFS, str], T]


class Deadline:
    """A wall-clock budget for one op (``None``: unbounded, only the attempt cap)."""

    __slots__ = ("expires",)

    def __init__(self, seconds: float | None) -> None:
        self.expires = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        """Seconds left, or None when unbounded."""
        return None if self.expires is None else self.expires - time.monotonic()

    def allows(self, delay: float) -> bool:
        """Whether waiting ``delay`` more seconds still leaves time to try."""
        left = self.remaining()
        return left is None or left > delay


@dataclass(frozen=True, slots=True)
class LegFailure:
    """A leg that failed: which backend, how, and the exception."""

    backend: str
    role: Role
    error_class: ErrorClass
    error: BaseException


def _note(failure: LegFailure) -> str:
    return (
        f"router: {failure.role.value} backend {failure.backend!r} failed "
        f"({failure.error_class.value}): {type(failure.error).__name__}: {failure.error}"
    )


class Executor:
    """Runs backend calls for a Router; shared by all its threads."""

    def __init__(
        self,
        backends: dict[str, BackendFS],
        journal: Journal,
        metrics: Metrics,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.backends = backends
        self.journal = journal
        self.metrics = metrics
        self.pool = pool

    # -- one leg -------------------------------------------------------------------

    def _record(
        self,
        decision: Decision,
        op: Op,
        backend: str,
        role: Role,
        outcome: str,
        error_class: ErrorClass | None,
        attempt: int,
        started: float,
        nbytes: int | None,
        key: str,
    ) -> None:
        if not self.metrics.enabled:
            return
        route = decision.route
        self.metrics.record(
            Call(
                route=route.name,
                prefix=route.metrics_prefix,
                phase=decision.phase.name,
                op=op.value,
                backend=backend,
                role=role.value,
                outcome=outcome,
                error_class=error_class.value if error_class is not None else None,
                attempt=attempt,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                bytes=nbytes,
                key=key if route.keys_in_events else None,
            )
        )

    def attempt(
        self,
        decision: Decision,
        op: Op,
        key: str,
        backend: str,
        role: Role,
        fn: BackendCall[T],
        deadline: Deadline,
        *,
        final_outcome: str = Outcome.FAIL,
        nbytes: Callable[[T], int | None] | None = None,
    ) -> T:
        """Run ``fn`` on one backend with the op's retries; raise the translated error."""
        plan = decision.phase.ops[op]
        target = self.backends[backend]
        path = target.path(key)
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                result = fn(target, path)
            except Exception as exc:
                error_class = classify(exc)
                delay = _backoff(plan, attempt)
                if (
                    error_class is ErrorClass.TRANSIENT
                    and attempt <= plan.retries
                    and deadline.allows(delay)
                ):
                    self._record(
                        decision,
                        op,
                        backend,
                        role,
                        Outcome.RETRY,
                        error_class,
                        attempt,
                        started,
                        None,
                        key,
                    )
                    if delay > 0:
                        time.sleep(delay)
                    continue
                self._record(
                    decision,
                    op,
                    backend,
                    role,
                    final_outcome,
                    error_class,
                    attempt,
                    started,
                    None,
                    key,
                )
                translated = translate(exc, key)
                if translated is exc:
                    raise
                raise translated from exc
            self._record(
                decision,
                op,
                backend,
                role,
                Outcome.SUCCESS,
                None,
                attempt,
                started,
                nbytes(result) if nbytes is not None else None,
                key,
            )
            return result

    # -- reads and other single-answer ops -------------------------------------------

    def legs_for_read(self, decision: Decision, op: Op, key: str) -> tuple[tuple[str, Role], ...]:
        """The op's legs, reordered/trimmed by pending journal entries for ``key``."""
        legs = decision.phase.ops[op].legs
        if len(legs) < 2:
            return legs
        pending = self.journal.pending(decision.route.name, key)
        if pending is None:
            return legs
        truth, stale = pending
        kept = tuple(leg for leg in legs if leg[0] != stale)
        first = tuple(leg for leg in kept if leg[0] == truth)
        return first + tuple(leg for leg in kept if leg[0] != truth) or legs[:1]

    def call(
        self,
        decision: Decision,
        op: Op,
        key: str,
        fn: BackendCall[T],
        *,
        nbytes: Callable[[T], int | None] | None = None,
    ) -> T:
        """Run a non-mutating op: primary first, then fallbacks as the policy says."""
        plan = decision.phase.ops[op]
        deadline = Deadline(plan.deadline)
        legs = self.legs_for_read(decision, op, key)
        failures: list[LegFailure] = []
        for index, (backend, role) in enumerate(legs):
            last = index == len(legs) - 1
            try:
                result = self.attempt(
                    decision,
                    op,
                    key,
                    backend,
                    role,
                    fn,
                    deadline,
                    final_outcome=Outcome.FAIL if last else Outcome.FALLBACK,
                    nbytes=nbytes,
                )
            except Exception as exc:
                failure = LegFailure(backend, role, classify(exc), exc)
                failures.append(failure)
                if last or not plan.falls_back(failure.error_class) or not deadline.allows(0):
                    error = _primary_error(failures)
                    raise error from error.__cause__
                continue
            return result
        raise AssertionError("unreachable: an op has at least one leg")

    # -- mutations ---------------------------------------------------------------------

    def mutate(
        self,
        decision: Decision,
        op: Op,
        key: str,
        fn: BackendCall[T],
        *,
        stale_key: str | None = None,
    ) -> T:
        """Run a mutation on the legs the mode says, settle it, journal divergences."""
        phase = decision.phase
        plan = phase.ops[op]
        rules = rules_for(phase.mode)
        deadline = Deadline(plan.deadline)
        if phase.shadow is None or not rules.mutates_shadow():
            return self.attempt(decision, op, key, phase.primary, Role.PRIMARY, fn, deadline)
        shadow_future: Future[Any] = self.pool.submit(
            self.attempt, decision, op, key, phase.shadow, Role.SHADOW, fn, deadline
        )
        primary_result: Any = None
        primary_failure: LegFailure | None = None
        try:
            primary_result = self.attempt(
                decision, op, key, phase.primary, Role.PRIMARY, fn, deadline
            )
        except Exception as exc:
            primary_failure = LegFailure(phase.primary, Role.PRIMARY, classify(exc), exc)
        shadow_result: Any = None
        shadow_failure: LegFailure | None = None
        try:
            shadow_result = shadow_future.result()
        except Exception as exc:
            shadow_failure = LegFailure(phase.shadow, Role.SHADOW, classify(exc), exc)
        return self.settle(  # type: ignore[no-any-return]
            decision,
            op,
            stale_key if stale_key is not None else key,
            plan,
            (primary_result, primary_failure),
            (shadow_result, shadow_failure),
        )

    def settle(
        self,
        decision: Decision,
        op: Op,
        key: str,
        plan: OpPlan,
        primary: tuple[Any, LegFailure | None],
        shadow: tuple[Any, LegFailure | None],
    ) -> Any:
        """Apply the mode's acknowledgement rules to two legs' outcomes."""
        phase = decision.phase
        rules = rules_for(phase.mode)
        primary_result, primary_failure = primary
        shadow_result, shadow_failure = shadow
        settlement = rules.settle(
            plan,
            LegOutcome(Role.PRIMARY, primary_failure.error_class if primary_failure else None),
            LegOutcome(Role.SHADOW, shadow_failure.error_class if shadow_failure else None),
        )
        if settlement.divergence is not None:
            assert phase.shadow is not None
            names = {Role.PRIMARY: phase.primary, Role.SHADOW: phase.shadow}
            failed = (
                primary_failure if settlement.divergence.stale is Role.PRIMARY else shadow_failure
            )
            if failed is None:  # the stale side "failed" by succeeding where the op failed
                failed = primary_failure or shadow_failure
            self.journal_divergence(
                decision,
                op,
                key,
                truth=names[settlement.divergence.truth],
                stale=names[settlement.divergence.stale],
                error_class=failed.error_class if failed else ErrorClass.OTHER,
                degraded=settlement.degraded,
            )
        if settlement.failed:
            failures = [f for f in (primary_failure, shadow_failure) if f is not None]
            raise _primary_error(failures)
        return shadow_result if settlement.answer is Role.SHADOW else primary_result

    def journal_divergence(
        self,
        decision: Decision,
        op: Op,
        key: str,
        *,
        truth: str,
        stale: str,
        error_class: ErrorClass,
        degraded: bool = False,
    ) -> Entry:
        """Record a divergence durably, count it and emit its event."""
        route = decision.route
        entry = self.journal.record(
            Entry(
                route=route.name,
                key=key,
                op=op.value,
                truth=truth,
                stale=stale,
                error_class=error_class.value,
                phase=decision.phase.name,
            )
        )
        self.metrics.count(f"{route.metrics_prefix}.divergence.{op.value}")
        if degraded:
            self.metrics.count(f"{route.metrics_prefix}.{op.value}.degraded")
        self.metrics.emit(
            "router.divergence",
            {
                "route": route.name,
                "phase": decision.phase.name,
                "op": op.value,
                "truth": truth,
                "stale": stale,
                "error_class": error_class.value,
                "degraded": degraded,
                "key": key if route.keys_in_events else None,
                "entry": entry.id,
            },
        )
        return entry


def _backoff(plan: OpPlan, attempt: int) -> float:
    if plan.backoff <= 0:
        return 0.0
    return float(plan.backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5))


def _primary_error(failures: list[LegFailure]) -> BaseException:
    """The first leg's exception, with the other legs' failures attached as notes."""
    first = failures[0]
    error = first.error
    for other in failures[1:]:
        error.add_note(_note(other))
    return error
