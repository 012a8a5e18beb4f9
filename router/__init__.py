"""storage-router: an fsspec filesystem that routes operations across storage backends.

``Router`` is the filesystem; the exceptions are those the router adds to the built-in
ones it raises (see :mod:`router.errors`).
"""

from router.errors import BackendsFailed, FlipRefused, KeyRejected, PolicyError
from router.filesystem import Router

__version__ = "0.1.0"

__all__ = [
    "BackendsFailed",
    "FlipRefused",
    "KeyRejected",
    "PolicyError",
    "Router",
    "__version__",
]
