"""Hot reload. STUB: replaced by the staged-migrations work."""

from __future__ import annotations

from typing import Any

__all__ = ["Watcher", "reload_router"]


def reload_router(router: Any) -> bool:
    """Reload ``router``'s policy; see the full implementation."""
    raise NotImplementedError


class Watcher:
    """Polls a policy file and reloads on change."""

    def __init__(self, router: Any, interval: float) -> None:
        self.router = router
        self.interval = interval

    def start(self) -> None:
        """Start polling."""

    def stop(self) -> None:
        """Stop polling."""
