"""Router changes this suite proposes (see perf/RESULTS.md), measured beside the router
as it is, so each proposal's effect is in the same run. Nothing here is used by the
router itself; when a proposal lands in router/, its row here becomes redundant."""

from __future__ import annotations

from typing import Any

from router import Router
from router.policy.model import Op


def _read_whole_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class LocalFastReadRouter(Router):
    """Proposal 1 (router/filesystem.py, ``Router.cat_file``): read a whole object of a
    local backend with the builtin ``open`` instead of fsspec's ``LocalFileSystem
    .cat_file``, whose ``LocalFileOpener`` machinery costs about twice the read itself
    for small files. Same exceptions (FileNotFoundError, IsADirectoryError, ...)."""

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        state = self._state
        key, decision = self._decide(state, path)
        whole = start is None and end is None and not kwargs

        def read(b: Any, p: str) -> bytes:
            if whole and b.writes_atomically:
                return _read_whole_local(p)
            return b.fs.cat_file(p, start=start, end=end, **kwargs)  # type: ignore[no-any-return]

        return state.executor.call(decision, Op.READ, key, read, nbytes=len)  # type: ignore[no-any-return]
