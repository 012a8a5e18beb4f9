"""Policy tests run with no ``ROUTER_`` overrides and no corpus variables in the environment."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove variables that would change how the policies under test load."""
    for name in list(os.environ):
        if name.upper().startswith(("ROUTER_", "CORPUS_")) or name == "MEDIA_ROOT":
            monkeypatch.delenv(name, raising=False)
