"""A Django settings module that stores media through the router.

The part to copy into your own ``settings.py`` is ``STORAGES`` (and ``MEDIA_URL``):
``RouterStorage`` takes the policy, and ``base_url`` is the URL at which the local
media directory is served, used while local serves a file; once S3 serves it,
``FieldFile.url`` is a presigned S3 URL, with no code change.

Run it (no network: the policy in force is ``policies/legacy.yaml``, local only, on a
temp directory removed at the end)::

    pip install "storage-router[django]"
    python examples/django_settings.py

It is also an importable settings module (``DJANGO_SETTINGS_MODULE=django_settings``
with ``examples/`` on ``sys.path``), which is how the script runs itself: it sets
``MEDIA_ROOT`` and ``JOURNAL_DIR`` for the policy, then saves, serves, lists and
deletes a file through ``default_storage``. Point ``MEDIA_POLICY`` at another policy
of ``policies/`` (with ``S3_BUCKET``/``S3_ENDPOINT_URL`` set) to run the same code in
another phase of the migration.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}

MEDIA_URL = "/media/"

STORAGES = {
    "default": {
        "BACKEND": "router.contrib.django.RouterStorage",
        "OPTIONS": {
            # One policy file decides where each file lives; flipping its `phase:` (or
            # ROUTER_ROUTES__CERTIFICATES__PHASE) moves the migration on, not this code.
            # A relative path is resolved against BASE_DIR.
            "policy": os.environ.get("MEDIA_POLICY", "policies/legacy.yaml"),
            # Where the local backend's root (MEDIA_ROOT) is served, for local files.
            "base_url": MEDIA_URL,
            # Re-read the policy when it changes, at most every 5 seconds.
            "router_options": {"poll_interval": 5.0},
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def main() -> None:
    """Configure Django from this module and use the storage it builds."""
    import sys
    import tempfile

    import django
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage, storages

    with tempfile.TemporaryDirectory(prefix="router-django-") as tmp:
        os.environ.setdefault("MEDIA_ROOT", f"{tmp}/media")
        os.environ.setdefault("JOURNAL_DIR", f"{tmp}/journal")
        os.environ["DJANGO_SETTINGS_MODULE"] = "django_settings"
        sys.path.insert(0, str(BASE_DIR))
        django.setup()

        storage = storages["default"]
        print("storage:", type(storage).__name__, "policy:", storage.router.policy.source)
        name = default_storage.save(
            "certificates/2025/Curaçao-東京-Δ.pdf", ContentFile(b"%PDF-1.4 certificate\n")
        )
        print("saved:", name)
        print("url:", default_storage.url(name))
        print("size:", default_storage.size(name))
        print("listdir:", default_storage.listdir("certificates/2025"))
        try:
            print("local path:", default_storage.path(name).removeprefix(tmp))
        except NotImplementedError:
            print("local path: none, S3 serves this file in this phase")
        print("modified (aware):", default_storage.get_modified_time(name).tzinfo is not None)
        with default_storage.open(name) as handle:
            print("read:", handle.read())
        again = default_storage.save(name, ContentFile(b"second"))
        print("second save of the same name kept the first:", again != name)
        default_storage.delete(name)
        default_storage.delete(again)
        print("exists after delete:", default_storage.exists(name))
        storage.close()
    print("ok")


if __name__ == "__main__":
    main()
