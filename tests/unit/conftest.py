"""Fixtures for the unit tests: running ``idp`` commands against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from idp.cli import get_platform, main
from idp.platform import Platform
from tests.conftest import FAST_ARGON2


@pytest.fixture
def idp_cli(platform: Platform, monkeypatch) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    """``idp_cli("accounts", "show", "…", input=…)`` → click `Result` on the test database."""
    monkeypatch.setenv("IDP_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("IDP_TESTING", "true")
    monkeypatch.delenv("IDP_REDIS_URL", raising=False)
    monkeypatch.setenv("IDP_DATA_KEY", platform.settings.data_key)
    monkeypatch.setenv("IDP_SECRET_KEY", platform.settings.secret_key)
    for key, value in FAST_ARGON2.items():
        monkeypatch.setenv(f"IDP_{key.upper()}", str(value))
    get_platform.cache_clear()  # functools.cache'd: built from the environment once

    def run(*args: str, input: str | bytes | None = None) -> Result:  # noqa: A002
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    yield run
    if get_platform.cache_info().currsize:
        get_platform().db.dispose()
    get_platform.cache_clear()
