"""The public API is pinned: what `router` exports, and nothing by accident."""

from __future__ import annotations

import router


def test_all_is_exactly_the_public_api() -> None:
    """`router.__all__` lists the Router, its exceptions and the version — no more, no less."""
    assert sorted(router.__all__) == [
        "BackendsFailed",
        "FlipRefused",
        "KeyRejected",
        "PolicyError",
        "Router",
        "__version__",
    ]


def test_every_exported_name_exists() -> None:
    """Each name in `__all__` is importable from the package."""
    for name in router.__all__:
        assert hasattr(router, name), name


def test_router_is_registered_with_fsspec() -> None:
    """The `router` protocol resolves to `router.Router` through fsspec's registry."""
    import fsspec

    assert fsspec.get_filesystem_class("router") is router.Router
