"""A model with a FileField on the default storage (RouterStorage through STORAGES),
and one with an explicit RouterStorage, which the migration has to serialize."""

from __future__ import annotations

from django.db import models

from router.contrib.django import RouterStorage

ARCHIVE = RouterStorage(policy="policies/archive.yaml", prefix="archive", file_overwrite=True)


class Certificate(models.Model):
    """A certificate PDF, stored under ``certificates/2025/``."""

    title = models.CharField(max_length=200)
    pdf = models.FileField(upload_to="certificates/2025/", max_length=255)
    scan = models.FileField(storage=ARCHIVE, upload_to="scans/", blank=True)

    def __str__(self) -> str:
        return self.title
