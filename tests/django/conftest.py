"""The Django test project: settings from ``mediasite/settings.py`` are configured here,
when pytest first collects ``tests/django``, with the sqlite database in a temp
directory. Tests elsewhere never see Django configured (no DJANGO_SETTINGS_MODULE), so
pytest-django stays idle for them."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

_tmp_dirs: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Configure Django from the test project's settings, database in a temp dir."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    from mediasite import settings as site

    values = {name: getattr(site, name) for name in dir(site) if name.isupper()}
    tmp = tempfile.mkdtemp(prefix="router-django-")
    _tmp_dirs.append(tmp)
    values["DATABASES"] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": f"{tmp}/db.sqlite3",
            "TEST": {"NAME": f"{tmp}/test-db.sqlite3"},
        }
    }
    settings.configure(**values)
    django.setup()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the database's temp directory."""
    while _tmp_dirs:
        shutil.rmtree(_tmp_dirs.pop(), ignore_errors=True)


@pytest.fixture
def policy_file(cert_policy: Any, tmp_path: Path) -> Callable[..., Path]:
    """Writes the certificates policy (temp dir + moto bucket) for a phase to a YAML file;
    keyword arguments are added to the certificates route (e.g. ``force=True``)."""
    path = tmp_path / "policies" / "media.yaml"
    path.parent.mkdir(exist_ok=True)

    def write(phase: str, **route: Any) -> Path:
        policy = cert_policy(phase)
        policy["routes"]["certificates"].update(route)
        path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
        return path

    return write


@pytest.fixture
def use_storage(settings: Any) -> Iterator[Callable[..., Any]]:
    """Points STORAGES["default"] at a RouterStorage with the given OPTIONS and returns
    the instance Django will use; its router is closed at teardown."""
    from django.core.files.storage import storages

    built: list[Any] = []

    def use(**options: Any) -> Any:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "router.contrib.django.RouterStorage", "OPTIONS": options},
        }
        storage = storages["default"]
        built.append(storage)
        return storage

    yield use
    for storage in built:
        storage.close()


@pytest.fixture
def use_phase(
    policy_file: Callable[[str], Path], use_storage: Callable[..., Any]
) -> Callable[..., Any]:
    """The default storage on the certificates policy in ``phase``."""

    def use(phase: str, **options: Any) -> Any:
        return use_storage(policy=str(policy_file(phase)), **options)

    return use
