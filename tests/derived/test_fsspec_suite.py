"""fsspec's own conformance suite (``fsspec.tests.abstract``) against a Router."""

from __future__ import annotations

import fsspec.tests.abstract as abstract

from tests.derived.router_fixtures import LocalDualWriteFixtures, S3PrimaryFixtures


class TestLocalCopy(abstract.AbstractCopyTests, LocalDualWriteFixtures):  # type: ignore[misc]
    """cp/copy over two local dirs in dual-write."""


class TestLocalGet(abstract.AbstractGetTests, LocalDualWriteFixtures):  # type: ignore[misc]
    """get over two local dirs in dual-write."""


class TestLocalPut(abstract.AbstractPutTests, LocalDualWriteFixtures):  # type: ignore[misc]
    """put over two local dirs in dual-write."""


class TestLocalPipe(abstract.AbstractPipeTests, LocalDualWriteFixtures):  # type: ignore[misc]
    """pipe over two local dirs in dual-write."""


class TestLocalOpen(abstract.AbstractOpenTests, LocalDualWriteFixtures):  # type: ignore[misc]
    """open over two local dirs in dual-write."""


class TestS3Copy(abstract.AbstractCopyTests, S3PrimaryFixtures):  # type: ignore[misc]
    """cp/copy with S3 primary and a local shadow in dual-write."""


class TestS3Get(abstract.AbstractGetTests, S3PrimaryFixtures):  # type: ignore[misc]
    """get with S3 primary and a local shadow in dual-write."""


class TestS3Put(abstract.AbstractPutTests, S3PrimaryFixtures):  # type: ignore[misc]
    """put with S3 primary and a local shadow in dual-write."""


class TestS3Pipe(abstract.AbstractPipeTests, S3PrimaryFixtures):  # type: ignore[misc]
    """pipe with S3 primary and a local shadow in dual-write."""


class TestS3Open(abstract.AbstractOpenTests, S3PrimaryFixtures):  # type: ignore[misc]
    """open with S3 primary and a local shadow in dual-write."""
