"""App config of the certificates app."""

from __future__ import annotations

from django.apps import AppConfig


class CertsConfig(AppConfig):
    """The certificates app."""

    name = "certs"
    default_auto_field = "django.db.models.BigAutoField"
