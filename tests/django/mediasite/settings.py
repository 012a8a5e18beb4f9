"""Settings of the test project. ``tests/django/conftest.py`` hands them to
``settings.configure()`` with the database moved to a temp directory, so that
pytest-django only ever applies to ``tests/django``."""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "test-only-not-a-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = ["certs"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",  # conftest.py moves it to a temp directory
    }
}

MEDIA_URL = "/media/"

# The storage under test; a relative policy path is resolved against BASE_DIR.
# The tests override STORAGES per migration phase with a policy in a temp directory.
STORAGES = {
    "default": {
        "BACKEND": "router.contrib.django.RouterStorage",
        "OPTIONS": {"policy": "policies/media.yaml"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
