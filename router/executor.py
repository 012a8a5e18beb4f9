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
- records one metrics call per backend attempt (:mod:`router.metrics` says what each
  outcome means) and, when :mod:`router.exporters.otel` instrumented the Router, a
  tracing span per routed op with a child span per leg (``metrics.tracer``: None
  otherwise, and then tracing costs one attribute read per op).

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
from router.metrics import Metrics, OpTrace, Outcome
from router.modes import Outcome as LegOutcome
from router.modes import rules_for
from router.plan import Decision, OpPlan, Role
from router.policy.model import ErrorClass, Op

__all__ = ["Deadline", "Executor", "LegFailure"]

T = TypeVar("T")
BackendCall = Callable[[BackendFS, str], T]

_MUTATIONS = frozenset({Op.WRITE, Op.DELETE, Op.COPY, Op.MOVE})
_now = time.perf_counter


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
        *,
        trace: OpTrace | None = None,
    ) -> None:
        """Record one backend call made outside :meth:`attempt` (the streaming writer).

        ``started`` is its ``time.perf_counter()`` start. A failed primary leg of a
        dual-write mutation is counted ``fallback`` when the op's fallback covers its
        error class (the shadow's leg stands in), like :meth:`attempt` does.
        """
        if outcome == Outcome.FAIL and error_class is not None:
            outcome = _mutation_failure(decision, op, role, error_class)
        self._count(
            decision, op, backend, role, outcome, error_class, attempt, started, nbytes, key
        )
        tracer = self.metrics.tracer
        if tracer is not None:
            leg = tracer.start_leg(trace, decision, op, backend, role, key, started)
            leg.end(outcome, error_class, attempt, nbytes, None)

    def _count(
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
        """Count one call in the metrics (off the hot path: a success in :meth:`attempt`
        is counted inline)."""
        if self.metrics.enabled:
            self.metrics.call(
                decision,
                op,
                backend,
                role,
                outcome,
                error_class,
                attempt,
                (_now() - started) * 1000.0,
                nbytes,
                key,
            )

    def start_trace(self, decision: Decision, op: Op, key: str) -> OpTrace | None:
        """A tracing span for an op run outside :meth:`call`/:meth:`mutate` (the
        streaming writer), or None when not instrumented; end it with :meth:`end_trace`."""
        tracer = self.metrics.tracer
        return tracer.start_op(decision, op, key, current=False) if tracer is not None else None

    @staticmethod
    def end_trace(
        trace: OpTrace | None,
        error: BaseException | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        """End a span from :meth:`start_trace` (``error``: the op failed with it)."""
        if trace is None:
            return
        if error is None:
            trace.end(Outcome.SUCCESS, backend=backend)
        else:
            trace.end(Outcome.FAIL, error_class=classify(error), error=error)

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
        trace: OpTrace | None = None,
    ) -> T:
        """Run ``fn`` on one backend with the op's retries; raise the translated error.

        Each attempt is recorded once: ``retry`` when another attempt follows, then
        ``success``, or a final failure: ``fallback`` when another backend takes over
        (``final_outcome=FALLBACK``: a later leg follows if the policy falls back on the
        error class and the deadline allows; or the primary of a dual-write mutation
        whose fallback covers the class), else ``fail``. ``trace`` is the op's span.
        """
        plan = decision.phase.ops[op]
        target = self.backends[backend]
        path = target.path(key)
        metrics = self.metrics
        enabled = metrics.enabled
        tracer = metrics.tracer
        leg = (
            tracer.start_leg(trace, decision, op, backend, role, key)
            if tracer is not None
            else None
        )
        attempt = 0
        try:
            while True:
                attempt += 1
                started = _now() if enabled else 0.0
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
                        self._count(
                            decision, op, backend, role, Outcome.RETRY, error_class, attempt,
                            started, None, key,
                        )  # fmt: skip
                        if leg is not None:
                            leg.retry(attempt, error_class)
                        if delay > 0:
                            time.sleep(delay)
                        continue
                    if final_outcome == Outcome.FALLBACK:
                        outcome = (
                            Outcome.FALLBACK
                            if plan.falls_back(error_class) and deadline.allows(0)
                            else Outcome.FAIL
                        )
                    else:
                        outcome = _mutation_failure(decision, op, role, error_class)
                    self._count(
                        decision, op, backend, role, outcome, error_class, attempt, started,
                        None, key,
                    )  # fmt: skip
                    if leg is not None:
                        leg.end(outcome, error_class, attempt, None, exc)
                    translated = translate(exc, key)
                    if translated is exc:
                        raise
                    raise translated from exc
                if enabled:
                    size = nbytes(result) if nbytes is not None else None
                    metrics.call(
                        decision,
                        op,
                        backend,
                        role,
                        Outcome.SUCCESS,
                        None,
                        attempt,
                        (_now() - started) * 1000.0,
                        size,
                        key,
                    )
                    if leg is not None:
                        leg.end(Outcome.SUCCESS, None, attempt, size, None)
                elif leg is not None:
                    size = nbytes(result) if nbytes is not None else None
                    leg.end(Outcome.SUCCESS, None, attempt, size, None)
                return result
        finally:
            if leg is not None:
                leg.close()

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
        tracer = self.metrics.tracer
        trace = tracer.start_op(decision, op, key) if tracer is not None else None
        try:
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
                        trace=trace,
                    )
                except Exception as exc:
                    failure = LegFailure(backend, role, classify(exc), exc)
                    failures.append(failure)
                    if last or not plan.falls_back(failure.error_class) or not deadline.allows(0):
                        error = _primary_error(failures)
                        if trace is not None:
                            trace.end(
                                Outcome.FAIL, error_class=failures[0].error_class, error=error
                            )
                        raise error from error.__cause__
                    continue
                if trace is not None:
                    trace.end(Outcome.SUCCESS, backend=backend)
                return result
            raise AssertionError("unreachable: an op has at least one leg")
        finally:
            if trace is not None:
                trace.close()

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
        tracer = self.metrics.tracer
        if tracer is None:
            return self._mutate(decision, op, key, fn, stale_key, None)
        trace = tracer.start_op(decision, op, key)
        try:
            result = self._mutate(decision, op, key, fn, stale_key, trace)
        except Exception as exc:
            trace.end(Outcome.FAIL, error_class=classify(exc), error=exc)
            raise
        else:
            trace.end(Outcome.SUCCESS)  # reported "degraded" if settle() said so
            return result
        finally:
            trace.close()  # ends the span only if nothing above did

    def _mutate(
        self,
        decision: Decision,
        op: Op,
        key: str,
        fn: BackendCall[T],
        stale_key: str | None,
        trace: OpTrace | None,
    ) -> T:
        phase = decision.phase
        plan = phase.ops[op]
        rules = rules_for(phase.mode)
        deadline = Deadline(plan.deadline)
        if phase.shadow is None or not rules.mutates_shadow():
            return self.attempt(
                decision, op, key, phase.primary, Role.PRIMARY, fn, deadline, trace=trace
            )
        shadow_future: Future[Any] = self.pool.submit(
            self.attempt, decision, op, key, phase.shadow, Role.SHADOW, fn, deadline, trace=trace
        )
        primary_result: Any = None
        primary_failure: LegFailure | None = None
        try:
            primary_result = self.attempt(
                decision, op, key, phase.primary, Role.PRIMARY, fn, deadline, trace=trace
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
            trace=trace,
        )

    def settle(
        self,
        decision: Decision,
        op: Op,
        key: str,
        plan: OpPlan,
        primary: tuple[Any, LegFailure | None],
        shadow: tuple[Any, LegFailure | None],
        *,
        trace: OpTrace | None = None,
    ) -> Any:
        """Apply the mode's acknowledgement rules to two legs' outcomes."""
        phase = decision.phase
        rules = rules_for(phase.mode)
        names = {Role.PRIMARY: phase.primary, Role.SHADOW: phase.shadow or ""}
        # While the journal says the shadow holds this key's truth (an earlier degraded
        # mutation), the shadow is the side whose outcome counts: the configured primary
        # never had the acknowledged content, so it must not be named the truth again.
        swapped = (
            phase.shadow is not None
            and phase.writes_shadow
            and self.journal.pending(decision.route.name, key) == (phase.shadow, phase.primary)
        )
        if swapped:
            primary, shadow = shadow, primary
            names = {Role.PRIMARY: phase.shadow or "", Role.SHADOW: phase.primary}
        primary_result, primary_failure = primary
        shadow_result, shadow_failure = shadow
        settlement = rules.settle(
            plan,
            LegOutcome(Role.PRIMARY, primary_failure.error_class if primary_failure else None),
            LegOutcome(Role.SHADOW, shadow_failure.error_class if shadow_failure else None),
        )
        # acknowledged although the configured primary failed: degraded, swapped or not
        degraded = settlement.degraded or (
            swapped and shadow_failure is not None and not settlement.failed
        )
        if settlement.divergence is not None:
            assert phase.shadow is not None
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
                degraded=degraded,
            )
            if trace is not None:
                trace.divergence(degraded=degraded)
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
        self.metrics.divergence(
            decision,
            op.value,
            key,
            truth=truth,
            stale=stale,
            error_class=error_class.value,
            degraded=degraded,
            entry=entry.id,
        )
        return entry


def _mutation_failure(decision: Decision, op: Op, role: Role, error_class: ErrorClass) -> str:
    """The outcome of a leg's final failure when no later leg follows it in turn:
    ``fallback`` for the primary of a dual-write mutation whose fallback covers the
    error class (the shadow's concurrent leg stands in), ``fail`` otherwise."""
    if (
        role is Role.PRIMARY
        and op in _MUTATIONS
        and decision.phase.writes_shadow
        and decision.phase.shadow is not None
        and decision.phase.ops[op].falls_back(error_class)
    ):
        return Outcome.FALLBACK
    return Outcome.FAIL


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
