"""Seed the demo: the documented demo citizen and the two demo clients (idempotent).

The citizen is created through `Accounts` (the account service); clients through the
documented ``idp clients create --json`` command, so the demo exercises what operators use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from demo.rp.config import SCOPE, SYSTEMS, urls_for
from idp.platform import Platform

# docs/demo.md documents these; the number is fictitious but has a valid check digit
# (GB 11643-1999): Beijing Xicheng 110105, born 1990-03-07, sequence 123, check 9.
DEMO_CITIZEN: dict[str, Any] = {
    "id_type": "resident_id",
    "id_number": "110105199003071239",
    "name": "张三",
    "phone": "13800138000",
    "password": "Demo-Passw0rd",
    "realname_level": 2,
}
# Test accounts of the integration self-check (IDP_SELFCHECK_TEST_ACCOUNTS): the demo citizen
# is fictitious, so department developers may sign in as them at /integration/selfcheck.
SELFCHECK_TEST_ACCOUNTS = DEMO_CITIZEN["id_number"]


def ensure_citizen(platform: Platform) -> bool:
    """Create the demo citizen unless the ID number is already registered; True if created."""
    from idp.accounts.service import Accounts

    with platform.db.session() as session:
        accounts = Accounts(session, platform.protector, platform.hasher)
        if accounts.by_document(DEMO_CITIZEN["id_number"], DEMO_CITIZEN["id_type"]):
            return False
        accounts.create(channel="counter", **DEMO_CITIZEN)
    return True


def _client_exists(platform: Platform, client_id: str) -> bool:
    from idp.oidc.models import Client

    with platform.db.session() as session:
        found = session.scalars(select(Client).where(Client.client_id == client_id)).first()
        return found is not None and not found.disabled


def _create_client(key: str, port: int) -> dict[str, str]:
    system, urls = SYSTEMS[key], urls_for(SYSTEMS[key], port=port)
    argv = [str(Path(sys.executable).parent / "idp"), "clients", "create",
            "--name", system.client_name, "--redirect-uri", urls["redirect_uri"],
            "--grant-type", "authorization_code", "--grant-type", "refresh_token",
            "--scope", SCOPE, "--post-logout-redirect-uri", urls["post_logout_redirect_uri"],
            "--backchannel-logout-uri", urls["backchannel_logout_uri"],
            "--skip-consent", "--json",
            # People may act for an employer here: the enterprise item of the system.
            "--account-kind", "natural", "--account-kind", "legal_acting",
            "--service-item", f"{system.enterprise_item}={system.enterprise_item_zh}"
                              f"|{system.enterprise_item_en}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=os.environ)
    if done.returncode != 0:
        raise RuntimeError(f"`idp clients create` failed for {key}: {done.stderr.strip()}")
    created = json.loads(done.stdout)
    return {"client_id": created["client_id"], "client_secret": created["client_secret"],
            "port": str(port), "redirect_uri": urls["redirect_uri"]}


def ensure_clients(platform: Platform, clients_file: Path, ports: dict[str, int]) -> bool:
    """Register both demo systems unless already registered on these ports; True if any new.

    Credentials go to ``clients_file`` (mode 0600) for the demo systems to read.
    """
    known: dict[str, Any] = {}
    if clients_file.exists():
        known = json.loads(clients_file.read_text(encoding="utf-8")).get("systems", {})
    systems, created = {}, False
    for key, port in ports.items():
        # A registration from before the systems used the connector (other URIs) is replaced.
        entry = known.get(key) or {}
        current = entry.get("port") == str(port) and entry.get(
            "redirect_uri") == urls_for(SYSTEMS[key], port=port)["redirect_uri"]
        if current and _client_exists(platform, entry["client_id"]):
            systems[key] = entry
            continue
        systems[key] = _create_client(key, port)
        created = True
    clients_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {"issuer": platform.settings.issuer, "systems": systems}
    tmp = clients_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2)
    tmp.replace(clients_file)
    return created
