"""storage-router: an fsspec filesystem that routes operations across storage backends."""

from router.errors import BackendsFailed, FlipRefused, KeyRejected, PolicyError

__version__ = "0.1.0"

__all__ = [
    "BackendsFailed",
    "FlipRefused",
    "KeyRejected",
    "PolicyError",
    "__version__",
]
