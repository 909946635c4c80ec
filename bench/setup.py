"""Benchmark fixtures: the services' addresses, a fresh database, seeded people and client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

IDP = str(Path(sys.executable).parent / "idp")
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never contacted: the load stops at the redirect
SCOPE = "openid profile offline_access"
PASSWORD = "Bench-Passw0rd"
BENCH_REDIS_DB = 1  # the tests use db 0 with per-test prefixes; the bench owns db 1


def services_env(root: Path) -> tuple[str, str]:
    """PostgreSQL and Redis URLs from the environment or var/services/env.sh."""
    env_file = root / "var" / "services" / "env.sh"
    found = {k: os.environ[k] for k in ("IDP_TEST_DATABASE_URL", "IDP_TEST_REDIS_URL")
             if k in os.environ}
    if len(found) < 2 and env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line.removeprefix("export ").partition("=")
                found.setdefault(key, value.strip().strip("'\""))
    if "IDP_TEST_DATABASE_URL" not in found or "IDP_TEST_REDIS_URL" not in found:
        sys.exit("bench: no PostgreSQL/Redis; run scripts/services.sh first (make bench does)")
    redis_url = found["IDP_TEST_REDIS_URL"].rsplit("/", 1)[0] + f"/{BENCH_REDIS_DB}"
    # No FLUSHDB: it wiped the Store of any bench running at the same time (its flows
    # then failed). Each run has its own key prefix instead (bench.__main__.server_env).
    return found["IDP_TEST_DATABASE_URL"], redis_url


class BenchDatabase:
    """A fresh PostgreSQL database for one run, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(
            hide_password=False)

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def resident_id(n: int) -> str:
    """A fictitious resident ID number with a valid GB 11643 check digit."""
    body = f"11010519800101{n:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def seed(env: dict[str, str], users: int) -> dict[str, Any]:
    """People with production-cost argon2id hashes, and one confidential client."""
    from idp.accounts.service import Accounts
    from idp.platform import Platform
    from idp.settings import Settings

    platform = Platform.build(Settings.from_env(env))
    ids = [resident_id(n) for n in range(users)]
    try:
        with platform.db.session() as session:
            accounts = Accounts(session, platform.protector, platform.hasher)
            for n, number in enumerate(ids):
                accounts.create(id_type="resident_id", id_number=number, name=f"压测{n}",
                                phone=f"139{n:08d}", password=PASSWORD, realname_level=2)
    finally:
        platform.db.dispose()
    done = subprocess.run(
        [IDP, "clients", "create", "--name", "bench", "--redirect-uri", REDIRECT_URI,
         "--grant-type", "authorization_code", "--grant-type", "refresh_token",
         "--grant-type", "client_credentials", "--scope", SCOPE, "--skip-consent", "--json"],
        env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench: `idp clients create` failed: {done.stderr.strip()}")
    client = json.loads(done.stdout)
    return {"client_id": client["client_id"], "client_secret": client["client_secret"],
            "redirect_uri": REDIRECT_URI, "scope": SCOPE, "users": ids, "password": PASSWORD}
