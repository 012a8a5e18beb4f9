"""Hot reload: re-read a Router's policy, check it, and swap the plan atomically.

- An invalid new policy never replaces a valid one: the old plan stays, and a
  ``router.policy.reload_failed`` event and counter say why.
- A flip that would stop writing to or reading from a backend that still holds
  unrepaired divergences for a route is refused (:mod:`router.flips`), unless the new
  policy says ``force: true`` on that route: ``router.policy.flip_refused``.
- Otherwise the new state replaces the old in one assignment: ops in flight finish on
  the plan they started with; new ops use the new one. ``router.policy.reloaded``.

A :class:`Watcher` polls the policy file (mtime, size and content hash) every
``poll_interval`` seconds on one daemon thread, stopped by ``Router.close()``.
Environment overrides are re-read on every reload, but only an explicit
``Router.reload()`` notices a change of the environment alone.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from router.errors import FlipRefused, PolicyError
from router.flips import flip_risks
from router.plan import compile_policy
from router.policy.load import LoadedPolicy, load_policy, policy_from_dict

if TYPE_CHECKING:
    from router.filesystem import Router

__all__ = ["Status", "Watcher", "reload_router"]

Status = Literal["reloaded", "unchanged", "invalid", "refused"]


def _load(router: Router) -> LoadedPolicy:
    source = router._policy_source
    if isinstance(source, Mapping):
        return policy_from_dict(source, environ=router._environ)
    return load_policy(source, environ=router._environ)


def _failed(router: Router, reason: str, problems: list[str]) -> None:
    router.metrics.policy_event(
        "reload_failed", source=router.policy.source, reason=reason, problems=problems
    )


def reload_router(router: Router, *, raise_errors: bool = True) -> Status:
    """Reload ``router``'s policy; ``reloaded`` when a new plan is now in force.

    With ``raise_errors`` (an explicit ``Router.reload()``) an invalid policy raises
    :class:`PolicyError` and a refused flip :class:`FlipRefused`, after the event; the
    watcher passes False and only the events and counters report.
    """
    current = router.policy
    try:
        loaded = _load(router)
    except PolicyError as exc:
        _failed(router, "invalid policy", [str(p) for p in exc.problems])
        if raise_errors:
            raise
        return "invalid"
    except OSError as exc:
        _failed(router, "unreadable policy", [f"{type(exc).__name__}: {exc}"])
        if raise_errors:
            raise
        return "invalid"
    if loaded.fingerprint and loaded.fingerprint == current.fingerprint:
        return "unchanged"
    new_plan = compile_policy(loaded.policy)
    risks = flip_risks(router.plan, new_plan, router.journal.pending_by_backend())
    refused = [r for r in risks if not r.forced]
    for risk in risks:
        router.metrics.policy_event(
            "flip_refused" if not risk.forced else "flip_forced",
            source=loaded.source,
            route=risk.route,
            backend=risk.backend,
            change=risk.change,
            pending=risk.pending,
            message=risk.describe(),
        )
    if refused:
        _failed(router, "unsafe flip", [r.describe() for r in refused])
        if raise_errors:
            first = refused[0]
            raise FlipRefused(first.route, first.backend, first.pending, first.change)
        return "refused"
    router._swap(loaded)
    changed = sorted(
        name
        for name in new_plan.routes
        if name not in current.policy.routes
        or current.policy.routes[name] != loaded.policy.routes[name]
    )
    router.metrics.policy_event(
        "reloaded",
        source=loaded.source,
        plan=new_plan,
        fingerprint=loaded.fingerprint[:12],
        changed_routes=changed,
    )
    return "reloaded"


def _file_signature(path: str) -> tuple[int, int, str] | None:
    try:
        stat = os.stat(path)
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, digest


class Watcher:
    """Polls a Router's policy file and reloads it when it changes."""

    def __init__(self, router: Router, interval: float) -> None:
        if interval <= 0:
            raise ValueError("poll_interval must be positive (seconds)")
        self.router = router
        self.interval = interval
        self.path = os.fspath(router._policy_source)  # type: ignore[arg-type]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="router-policy-watcher", daemon=True)
        self._last = _file_signature(self.path)

    def start(self) -> None:
        """Start the polling thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def check(self) -> Status:
        """Poll once: reload if the file changed.

        A refused flip is retried at every poll (it goes through once ``router repair``
        has emptied the journal); an invalid file waits until the file changes again.
        """
        signature = _file_signature(self.path)
        if signature is None or signature == self._last:
            return "unchanged"
        try:
            status = reload_router(self.router, raise_errors=False)
        except Exception as exc:  # the watcher must survive anything a reload raises
            _failed(self.router, "reload crashed", [f"{type(exc).__name__}: {exc}"])
            status = "invalid"
        if status != "refused":
            self._last = signature
        return status

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def __repr__(self) -> str:
        return f"Watcher({self.path!r}, every {self.interval:g}s)"
