"""``Router``: the fsspec face of the router. One line of delegation per method.

Every public method normalizes its key(s) once (:mod:`router.keys`), asks the pure
planner where the key goes (:func:`router.plan.route_key`), and hands a one-line
backend call to the executor. Names in results are translated back into the router's
namespace. The policy's state (plan, backends, executor) is swapped atomically on
reload; an op reads it once at its start and finishes on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from fsspec import AbstractFileSystem

from router.backends import BackendFS, build_backend
from router.errors import KeyRejected, PolicyError, PolicyProblem
from router.executor import Deadline, Executor
from router.journal import Journal, journal_for
from router.keys import join, normalize_key, parent
from router.metrics import Metrics
from router.plan import Decision, Plan, Role, RoutePlan, compile_policy, listing_routes, route_key
from router.policy.load import LoadedPolicy, load_policy, policy_from_dict
from router.policy.model import Op
from router.reader import RouterReader
from router.redact import is_secret_name, redact_options, redact_text
from router.shadowread import ShadowCompare
from router.sinks import TEMP_MARKER, make_dirs
from router.writer import RouterWriter

__all__ = ["MAX_URL_EXPIRY", "Router"]

MAX_URL_EXPIRY = 7 * 24 * 3600
DEFAULT_URL_EXPIRY = 3600
COPY_CHUNK = 4 * 2**20


class _KeyLocks:
    """One lock per key being mutated: mutations of a key run one at a time in this
    process, so both sides of a dual-write apply them in the same order (two threads
    writing and deleting one key can never leave primary and shadow disagreeing without
    a journaled divergence). Locks exist only while held or awaited."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock for the block."""
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                entry = self._locks[key] = (threading.Lock(), [0])
            entry[1][0] += 1
        lock, users = entry
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


@dataclass(frozen=True, eq=False)
class _State:
    """Everything an op needs, swapped as one value on reload."""

    loaded: LoadedPolicy
    plan: Plan
    backends: dict[str, BackendFS]
    executor: Executor


class Router(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem that routes each op to real backends by a policy.

    Build it with :meth:`from_file` or :meth:`from_dict`, or through fsspec:
    ``fsspec.filesystem("router", policy="policy.yaml")``.
    """

    protocol: ClassVar[str | tuple[str, ...]] = "router"
    root_marker = ""
    cachable = False  # a cached instance would hide policy edits

    def __init__(
        self,
        policy: str | os.PathLike[str] | Mapping[str, Any],
        *,
        metrics: bool = True,
        environ: Mapping[str, str] | None = None,
        max_workers: int = 16,
        poll_interval: float | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        self._environ = environ
        self._policy_source = policy
        loaded = self._load(policy)
        self.metrics = Metrics(enabled=metrics)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="router")
        self._compare = ShadowCompare()
        self._lock = threading.Lock()
        self._key_locks = _KeyLocks()
        self._state = self._build(loaded)
        self._max_workers = max_workers
        _LIVE_ROUTERS[id(self)] = self
        self.metrics.policy_event("loaded", source=loaded.source, plan=self._state.plan)
        self._closed = False
        self._watcher: Any = None
        if poll_interval is not None and not isinstance(policy, Mapping):
            from router.reload import Watcher

            self._watcher = Watcher(self, poll_interval)
            self._watcher.start()

    def _after_fork_in_child(self) -> None:
        """A forked child inherits the pool and locks but not the threads behind them:
        give it a fresh pool and fresh locks, so it works instead of hanging."""
        self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="router")
        self._lock = threading.Lock()
        self._key_locks = _KeyLocks()
        self._compare = ShadowCompare()
        self._state.executor.pool = self._pool
        self._watcher = None  # the watcher thread did not survive the fork

    def __reduce__(self) -> Any:
        """Pickle the policy source, never built state; refuse a dict holding secrets."""
        source = self._policy_source
        if isinstance(source, Mapping) and _holds_secret(source):
            raise TypeError(
                "a Router built from a dict whose backend options hold a secret cannot be "
                "pickled (the pickle would carry it); build it from a policy file with "
                "${VAR} for secrets, or let the credential chain supply them"
            )
        return (_rebuild, (source, (self._environ is not None and dict(self._environ)) or None))

    def to_dict(self, *, include_password: bool = False) -> dict[str, Any]:
        """fsspec's JSON-able description, with secret option values redacted."""
        data = dict(super().to_dict(include_password=include_password))
        redacted: dict[str, Any] = json.loads(json.dumps(_redact_tree(data), default=str))
        return redacted

    # -- construction ----------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> Router:
        """A Router for the policy file at ``path``."""
        return cls(policy=os.fspath(path), **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **options: Any) -> Router:
        """A Router for a policy given as a dict (same shape as the YAML)."""
        return cls(policy=data, **options)

    def _load(self, policy: str | os.PathLike[str] | Mapping[str, Any]) -> LoadedPolicy:
        if isinstance(policy, Mapping):
            return policy_from_dict(policy, environ=self._environ)
        return load_policy(policy, environ=self._environ)

    def _build(self, loaded: LoadedPolicy) -> _State:
        plan = compile_policy(loaded.policy)
        backends = _build_backends(loaded, plan)
        journal = journal_for(loaded.policy.journal.url, loaded.source)
        executor = Executor(backends, journal, self.metrics, self._pool)
        return _State(loaded=loaded, plan=plan, backends=backends, executor=executor)

    @property
    def plan(self) -> Plan:
        """The compiled plan in force."""
        return self._state.plan

    @property
    def policy(self) -> LoadedPolicy:
        """The loaded policy in force, with the origin of each value."""
        return self._state.loaded

    @property
    def journal(self) -> Journal:
        """The divergence journal of the policy in force."""
        return self._state.executor.journal

    @property
    def backends(self) -> Mapping[str, BackendFS]:
        """The backends of the policy in force, by name."""
        return self._state.backends

    def reload(self) -> bool:
        """Re-read the policy (file and environment) and swap the plan if it is valid and
        safe; returns whether the plan changed. See :mod:`router.reload`."""
        from router.reload import reload_router

        return reload_router(self) == "reloaded"

    def _swap(self, loaded: LoadedPolicy) -> None:
        """Atomically replace the state; ops in flight keep the state they started with."""
        state = self._build(loaded)
        with self._lock:
            self._state = state

    def close(self) -> None:
        """Stop the router's threads (watcher and pool). The Router is unusable afterwards."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.stop()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        routes = ", ".join(self._state.plan.routes)
        return f"<Router policy={self._state.loaded.source!r} routes=[{routes}]>"

    # -- routing ----------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise KeyRejected(path, "a key is a string")
        if path.startswith("router://"):
            path = path[len("router://") :]
        return path.rstrip("/") if path not in ("", "/") else path

    def _decide(
        self, state: _State, path: str, *, allow_root: bool = False
    ) -> tuple[str, Decision]:
        key = normalize_key(self._strip_protocol(path), allow_root=allow_root)
        decision = route_key(state.plan, key)
        if decision is None:
            raise FileNotFoundError(f'no route matches {key!r}; add a route with prefix: ""')
        return key, decision

    def _decide_dir(self, state: _State, path: str) -> tuple[str, Decision]:
        """Route a directory: ``certificates`` belongs to the route of ``certificates/``."""
        key = normalize_key(self._strip_protocol(path))
        decision = route_key(state.plan, f"{key}/") if key else route_key(state.plan, "")
        if decision is None:
            raise FileNotFoundError(f'no route matches {key!r}; add a route with prefix: ""')
        return key, decision

    def _info_out(self, state: _State, backend: str, info: dict[str, Any]) -> dict[str, Any]:
        out = dict(info)
        out["name"] = state.backends[backend].key(info["name"])
        if "Key" in out:
            out["Key"] = out["name"]
        return out

    # -- reads ------------------------------------------------------------------------

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """The object's bytes (or a range), from the primary or its fallback."""
        state = self._state
        key, decision = self._decide(state, path)
        served: list[str] = []
        whole = start is None and end is None

        def read(b: BackendFS, p: str) -> bytes:
            if whole and not kwargs and b.writes_atomically:  # a real local directory
                data = _read_local(p)
            else:
                data = b.fs.cat_file(p, start=start, end=end, **kwargs)
            served.append(b.name)
            return bytes(data)

        data: bytes = state.executor.call(decision, Op.READ, key, read, nbytes=len)
        if whole and self._compare.wanted(state.executor, decision, key, served[-1]):
            self._compare.submit(state.executor, decision, key, data)
        return data

    def drain(self, timeout: float | None = None) -> None:
        """Wait for background work started so far (shadow-read comparisons)."""
        self._compare.drain(timeout)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> Any:
        state = self._state
        key, decision = self._decide(state, path)
        if "r" in mode and "+" not in mode:
            retries = decision.phase.ops[Op.READ].retries

            def open_read(b: BackendFS, p: str) -> RouterReader:
                handle = b.fs.open(p, mode, block_size=block_size, **kwargs)
                return RouterReader(handle, b, p, key, retries=retries)

            return state.executor.call(decision, Op.READ, key, open_read)
        if mode in ("wb", "xb"):
            if mode == "xb" and self.exists(key):
                raise FileExistsError(key)
            return RouterWriter(
                state.executor, decision, key, guard=lambda: self._key_locks.hold(key)
            )
        raise ValueError(f"mode {mode!r} is not supported by the router; use 'rb' or 'wb'")

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """Open a key: ``rb`` streams from the serving backend, ``wb`` streams to each side."""
        if "b" not in mode:
            return super().open(path, mode, **kwargs)
        kwargs.pop("compression", None)
        return self._open(path, mode, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Info of a key or directory, names in the router's namespace.

        ``certificates`` is looked up on its own route (here ``default``) and, when that
        has nothing, as the directory of the route ``certificates/``; the directories of
        route prefixes always exist (``ls("")`` shows them).
        """
        state = self._state
        key = normalize_key(self._strip_protocol(path))
        if not key:
            return {"name": "", "size": 0, "type": "directory"}
        plan = state.plan
        decisions = [route_key(plan, key)]
        as_directory = route_key(plan, f"{key}/")
        if as_directory is not None and (
            decisions[0] is None or as_directory.route is not decisions[0].route
        ):
            decisions.append(as_directory)
        served: list[str] = []  # the backend that answered is the last one asked

        def one(b: BackendFS, p: str) -> dict[str, Any]:
            served.append(b.name)
            return dict(b.fs.info(p, **kwargs))

        missing: FileNotFoundError | None = None
        for decision in decisions:
            if decision is None:
                continue
            try:
                info = state.executor.call(decision, Op.INFO, key, one)
            except FileNotFoundError as exc:
                missing = missing or exc
                continue
            return self._info_out(state, served[-1], info)
        if self._is_route_directory(plan, key):
            return {"name": key, "size": 0, "type": "directory"}
        raise missing or FileNotFoundError(key)

    @staticmethod
    def _is_route_directory(plan: Plan, key: str) -> bool:
        """Whether ``key`` is a route prefix's directory or one of its ancestors."""
        base = f"{key}/"
        return any(r.prefix.startswith(base) for r in plan.routes.values())

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether the key exists; transient errors are raised, not reported as absent."""
        try:
            self.info(path, **kwargs)
        except FileNotFoundError:
            return False
        return True

    def modified(self, path: str) -> Any:
        """Last-modified time of a key."""
        state = self._state
        key, decision = self._decide(state, path)
        return state.executor.call(decision, Op.INFO, key, lambda b, p: b.fs.modified(p))

    def created(self, path: str) -> Any:
        """Creation time of a key, where the backend knows it."""
        state = self._state
        key, decision = self._decide(state, path)
        return state.executor.call(decision, Op.INFO, key, lambda b, p: b.fs.created(p))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """Entries of a directory: the owning route's backends, plus nested routes."""
        state = self._state
        directory = normalize_key(self._strip_protocol(path))
        entries = dict(self._list(state, directory))
        if not entries:
            info = self.info(directory)
            if info["type"] != "directory":
                entries[info["name"]] = info
        result = sorted(entries.values(), key=lambda e: e["name"])
        return result if detail else [e["name"] for e in result]

    def _list(self, state: _State, directory: str) -> Iterator[tuple[str, dict[str, Any]]]:
        owner, nested = listing_routes(state.plan, directory)
        if owner is not None:
            yield from self._list_route(state, owner, directory)
        for route in nested:
            rest = route.prefix[len(directory) + 1 if directory else 0 :]
            child = rest.split("/", 1)[0]
            name = join(directory, child)
            if "/" in rest:
                yield name, {"name": name, "size": 0, "type": "directory"}
            else:  # a prefix that is not a whole directory: list and filter
                for entry_name, entry in self._list_route(state, route, directory):
                    if entry_name.startswith(route.prefix):
                        yield entry_name, entry

    def _list_route(
        self, state: _State, route: RoutePlan, directory: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The route's entries in ``directory``: the live primary (with its fallback), plus
        the live shadow with ``list: {union: true}``, plus the rollout target's primary."""
        decision = Decision(route, route.live, None)
        executor = state.executor

        def listing(b: BackendFS, p: str) -> list[dict[str, Any]]:
            try:
                entries = b.fs.ls(p, detail=True)
            except FileNotFoundError:
                return []
            return [
                self._info_out(state, b.name, dict(e))
                for e in entries
                if TEMP_MARKER not in e["name"].rpartition("/")[2]  # a write in flight
            ]

        merged = {e["name"]: e for e in executor.call(decision, Op.LIST, directory, listing)}
        extra: list[tuple[Decision, str, Role]] = []
        live = route.live
        if live.shadow is not None and live.ops[Op.LIST].union:
            extra.append((decision, live.shadow, Role.SHADOW))
        target = route.target
        if target is not None and route.threshold > 0 and target.primary != live.primary:
            extra.append((Decision(route, target, None), target.primary, Role.PRIMARY))
        for extra_decision, backend, role in extra:
            try:
                entries = executor.attempt(
                    extra_decision, Op.LIST, directory, backend, role, listing, Deadline(None)
                )
            except OSError:
                continue  # counted as a failed list call; the primary's listing stands
            for entry in entries:
                merged.setdefault(entry["name"], entry)
        self._guard_listing(state, route, directory, merged)
        for name, entry in merged.items():
            if entry.get("type") == "directory" or _owner(state.plan, name) is route:
                yield name, entry

    def _guard_listing(
        self, state: _State, route: RoutePlan, directory: str, merged: dict[str, Any]
    ) -> None:
        """The journal guard, for listings: a key whose pending entry says the listed side
        is stale is shown as the side holding the truth has it (or not at all)."""
        pending: dict[str, tuple[str, str]] = {}
        for entry in state.executor.journal.entries(route.name):  # oldest first
            if parent(entry.key) == directory:
                pending[entry.key] = (entry.truth, entry.stale)
        for key, (truth, _stale) in pending.items():
            backend = state.backends.get(truth)
            if backend is None:
                continue
            try:
                info = backend.fs.info(backend.path(key))
            except FileNotFoundError:
                merged.pop(key, None)
            except OSError:
                continue  # unknown: keep what the listing said
            else:
                merged[key] = self._info_out(state, truth, dict(info))

    # -- writes -----------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write a whole object (to both sides in dual-write, concurrently)."""
        state = self._state
        key, decision = self._decide(state, path)
        if mode == "create" and self.exists(key):
            raise FileExistsError(key)
        data = bytes(value)

        def write(b: BackendFS, p: str) -> None:
            from router.sinks import OBJECT_STORES, open_sink

            if b.protocol in OBJECT_STORES:
                # one PUT (or a multipart upload aborted on failure): all or nothing,
                # without copying the bytes into a file object's buffer first
                b.fs.pipe_file(p, data)
                return
            sink = open_sink(b, p)
            try:
                sink.write(data)
                sink.commit()
            except BaseException:
                sink.abort()
                raise

        with self._key_locks.hold(key):
            state.executor.mutate(decision, Op.WRITE, key, write)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        """Create an empty object (or leave an existing one when ``truncate=False``)."""
        if truncate or not self.exists(path):
            self.pipe_file(path, b"")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create a directory on each side that has directories."""
        state = self._state
        key, decision = self._decide_dir(state, path)
        state.executor.mutate(decision, Op.WRITE, key, _make_dirs)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Create a directory and its parents."""
        if not exist_ok and self.exists(path):
            raise FileExistsError(path)
        self.mkdir(path)

    def rmdir(self, path: str) -> None:
        """Remove an empty directory where backends have directories."""
        state = self._state
        key, decision = self._decide_dir(state, path)

        def rmdir(b: BackendFS, p: str) -> None:
            with contextlib.suppress(FileNotFoundError):
                b.fs.rmdir(p)

        state.executor.mutate(decision, Op.DELETE, key, rmdir)

    def rm_file(self, path: str, **kwargs: Any) -> None:
        """Delete one key on each side. Idempotent, like S3's DELETE: a key already gone
        (on one side or on all) is not an error, so a retried delete never fails."""
        state = self._state
        key, decision = self._decide(state, path)

        def delete(b: BackendFS, p: str) -> None:
            with contextlib.suppress(FileNotFoundError):
                b.fs.rm_file(p)

        with self._key_locks.hold(key):
            state.executor.mutate(decision, Op.DELETE, key, delete)
            phase = decision.phase
            if phase.shadow is not None and not phase.writes_shadow:
                self._tombstone(state, decision, key)

    def _tombstone(self, state: _State, decision: Decision, key: str) -> None:
        """read-primary: the shadow still holds a deleted key; journal it so it is never served."""
        shadow = decision.phase.shadow
        assert shadow is not None
        try:
            held = state.executor.attempt(
                decision,
                Op.INFO,
                key,
                shadow,
                Role.SHADOW,
                lambda b, p: bool(b.fs.exists(p)),
                Deadline(None),
            )
        except Exception:  # unknown: assume it may be there
            held = True
        if held:
            from router.policy.model import ErrorClass

            state.executor.journal_divergence(
                decision,
                Op.DELETE,
                key,
                truth=decision.phase.primary,
                stale=shadow,
                error_class=ErrorClass.OTHER,
            )

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete keys; ``recursive`` deletes everything under a directory."""
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        for p in reversed(paths):
            if self.isdir(p):
                self.rmdir(p)
            else:
                self.rm_file(p)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy a key; within one route and phase each side copies natively."""
        state = self._state
        src, d1 = self._decide(state, path1)
        dst, d2 = self._decide(state, path2)
        if self.isdir(src):
            self.mkdir(dst)
            return
        native = d1.route is d2.route and d1.phase is d2.phase
        if native and (d2.phase.shadow is None or d2.phase.writes_shadow):
            # each side copies its own object; read-primary streams instead, so that a key
            # only the read-only shadow holds is copied from there to the primary
            src_paths = {name: b.path(src) for name, b in state.backends.items()}
            with self._key_locks.hold(dst):
                state.executor.mutate(
                    d2, Op.COPY, dst, lambda b, p: b.fs.cp_file(src_paths[b.name], p)
                )
            return
        with self.open(src, "rb") as source, self.open(dst, "wb") as target:
            while chunk := source.read(COPY_CHUNK):
                target.write(chunk)

    def _check_keys(self, *paths: Any) -> None:
        """Refuse a hostile key among ``paths`` (str or lists) before any I/O."""
        for path in paths:
            for one in path if isinstance(path, list | tuple) else [path]:
                normalize_key(self._strip_protocol(one))

    def copy(self, path1: Any, path2: Any, *args: Any, **kwargs: Any) -> Any:
        """fsspec's copy, with both keys checked before the source is looked at."""
        self._check_keys(path1, path2)
        return super().copy(path1, path2, *args, **kwargs)

    def mv(self, path1: Any, path2: Any, *args: Any, **kwargs: Any) -> Any:
        """fsspec's mv (copy, then delete), with both keys checked first."""
        self._check_keys(path1, path2)
        return super().mv(path1, path2, *args, **kwargs)

    # -- urls -------------------------------------------------------------------------

    def url(self, path: str, expiration: int = DEFAULT_URL_EXPIRY, **kwargs: Any) -> str:
        """A URL for the key: presigned on S3, ``file://`` locally."""
        state = self._state
        key, decision = self._decide(state, path)
        if int(expiration) <= 0:
            raise ValueError(f"expiration must be a positive number of seconds, not {expiration}")
        plan = decision.phase.ops[Op.URL]
        # Presigning needs no request, so it cannot fail for a missing object: where a
        # fallback could serve the key instead, look first, or the URL would 404.
        probe = len(plan.legs) > 1 and bool(plan.fallback_on)

        def one(b: BackendFS, p: str) -> str:
            if b.is_local:
                if not b.fs.exists(p):
                    raise FileNotFoundError(p)
                return "file://" + quote(p)
            if probe:
                b.fs.info(p)
            expires = min(int(expiration), int(b.max_url_expiry), MAX_URL_EXPIRY)
            return str(b.fs.sign(p, expiration=expires, **kwargs))

        return state.executor.call(decision, Op.URL, key, one)

    def sign(self, path: str, expiration: int = DEFAULT_URL_EXPIRY, **kwargs: Any) -> str:
        """Same as :meth:`url` (fsspec's name)."""
        return self.url(path, expiration=expiration, **kwargs)


def _owner(plan: Plan, key: str) -> RoutePlan | None:
    decision = route_key(plan, key)
    return decision.route if decision is not None else None


def _read_local(path: str) -> bytes:
    """A whole local file with the builtin ``open``: fsspec's ``LocalFileSystem.cat_file``
    goes through ``LocalFileOpener`` (two ``_strip_protocol`` calls, seeks), which costs
    about as much as reading a small file itself (perf/RESULTS.md, S1)."""
    with open(path, "rb") as f:
        return f.read()


def _build_backends(loaded: LoadedPolicy, plan: Plan) -> dict[str, BackendFS]:
    """Every backend's filesystem; one that cannot be built is a PolicyError naming it."""
    backends: dict[str, BackendFS] = {}
    problems: list[PolicyProblem] = []
    deadlines = _deadlines(plan)
    for name, config in loaded.policy.backends.items():
        try:
            backends[name] = build_backend(name, config, deadline=deadlines.get(name))
        except Exception as exc:  # fsspec/s3fs raise ValueError, TypeError, ImportError...
            origin = loaded.origin(f"backends.{name}")
            problems.append(
                PolicyProblem(
                    loaded.source,
                    f"backends.{name}",
                    f"cannot build this backend's filesystem: {type(exc).__name__}: "
                    f"{redact_text(str(exc))}",
                    line=origin.line if origin is not None else None,
                    column=origin.column if origin is not None else None,
                )
            )
    if problems:
        raise PolicyError(problems)
    return backends


_LIVE_ROUTERS: weakref.WeakValueDictionary[int, Router] = weakref.WeakValueDictionary()


def _after_fork() -> None:
    for router in list(_LIVE_ROUTERS.values()):
        router._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork)


def _rebuild(source: Any, environ: Mapping[str, str] | None) -> Router:
    return Router(policy=source, environ=environ)


def _holds_secret(tree: Any) -> bool:
    if isinstance(tree, Mapping):
        return any(
            (is_secret_name(str(k)) and isinstance(v, str) and bool(v)) or _holds_secret(v)
            for k, v in tree.items()
        )
    if isinstance(tree, list | tuple):
        return any(_holds_secret(v) for v in tree)
    return False


def _redact_tree(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return redact_options(tree)
    if isinstance(tree, list | tuple):
        return [_redact_tree(v) for v in tree]
    return tree


def _make_dirs(b: BackendFS, p: str) -> None:
    if b.writes_atomically:
        make_dirs(p)  # every level 0o775 before the umask: never world-writable
    else:
        b.fs.makedirs(p, exist_ok=True)


def _deadlines(plan: Plan) -> dict[str, float]:
    """Per backend, the shortest op deadline of the phases that use it."""
    found: dict[str, float] = {}
    for route in plan.routes.values():
        for phase in route.phases.values():
            for op_plan in phase.ops.values():
                if op_plan.deadline is not None:
                    for name in phase.backends:
                        found[name] = min(found.get(name, op_plan.deadline), op_plan.deadline)
    return found
