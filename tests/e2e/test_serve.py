"""``idp serve`` and ``idp init``: refuse unsafe settings clearly; init is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from idp.cli import main
from idp.oidc.models import SigningKey
from idp.serve import server_command


def run(args: list[str], **env: str) -> tuple[int, str]:
    base = {"IDP_DEBUG": None, "IDP_TESTING": None, "IDP_SECRET_KEY": None,
            "IDP_DATA_KEY": None}
    result = CliRunner().invoke(main, args, env={**base, **env})
    return result.exit_code, result.output


def test_serve_refuses_development_keys_outside_debug() -> None:
    code, out = run(["serve", "--port", "5999"])
    assert code == 1 and "IDP_SECRET_KEY and IDP_DATA_KEY must be set" in out


def test_dev_server_needs_debug_or_testing() -> None:
    code, out = run(["serve", "--server", "dev"], IDP_SECRET_KEY="k" * 40,
                    IDP_DATA_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    assert code == 1 and "--server dev needs IDP_DEBUG" in out


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--workers", "0"],
                                  ["--server", "tornado"]])
def test_serve_rejects_bad_options(args: list[str]) -> None:
    code, _ = run(["serve", *args], IDP_DEBUG="true")
    assert code == 2


def test_server_commands_bind_where_asked() -> None:
    for server in ("gunicorn", "granian"):
        argv = server_command(server, "127.0.0.1", 5123, 3)
        assert "idp.wsgi:app" in argv and "3" in argv
        assert "127.0.0.1:5123" in argv or ("127.0.0.1" in argv and "5123" in argv)


def test_init_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'idp.sqlite3'}"  # parent directory made by init
    engine = create_engine(url)
    counts = []
    for _ in range(2):
        code, out = run(["init"], IDP_DEBUG="true", IDP_DATABASE_URL=url)
        assert code == 0, out
        with engine.connect() as conn:
            counts.append(conn.scalar(select(func.count()).select_from(SigningKey).where(
                SigningKey.active.is_(True), SigningKey.alg == "ES256")))
    engine.dispose()
    assert counts == [1, 1]


def test_init_with_another_data_key_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    code, out = run(["init"], IDP_DEBUG="true", IDP_DATABASE_URL=url)
    assert code == 0, out
    other = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="  # 32 bytes, not the dev key
    code, out = run(["init"], IDP_DEBUG="true", IDP_DATABASE_URL=url, IDP_DATA_KEY=other)
    assert code == 1
    assert "cannot be decrypted with this IDP_DATA_KEY" in out
    assert "Traceback" not in out
