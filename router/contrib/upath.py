"""``UPath("router://...")``: universal_pathlib's path class for the router.

Registered through the ``universal_pathlib.implementations`` entry point, so once
storage-router is installed ``UPath("router://certificates/a.pdf", policy="p.yaml")``
builds a :class:`RouterPath` without warnings. Router keys are relative (no leading
``/``), which is what UPath's default fsspec path rules give for an unknown netloc-less
protocol.
"""

from __future__ import annotations

import fsspec
from upath import UPath

__all__ = ["RouterPath"]

fsspec.get_filesystem_class("router")  # UPath takes its path rules from the fsspec class


class RouterPath(UPath):
    """UPath for ``router://`` keys."""

    __slots__ = ()
