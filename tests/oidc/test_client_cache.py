"""The per-process client cache (client_cache.py): a change takes effect on the next request,
in this process and in every other (the Store version), and compact JWS verification."""

from __future__ import annotations

from dataclasses import replace

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import text, update

from idp.oidc import clients, compact
from idp.oidc.client_cache import VERSION_KEY, ClientCache
from idp.oidc.models import Client
from tests.oidc.helpers import register

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def machine(platform):
    return register(platform, grant_types=["client_credentials"], scope="", redirect_uris=[])


def token_status(client, rp, auth=None) -> int:
    return client.post("/token", headers=auth or rp.basic(), data=CC).status_code


def test_rotated_secret_takes_effect_on_next_request(client, platform, machine):
    assert token_status(client, machine) == 200  # now cached
    with platform.db.session() as session:
        new_secret = clients.rotate_secret(session, platform.settings.secret_key,
                                           machine.client_id, actor="test")
    assert token_status(client, machine) == 401
    assert token_status(client, replace(machine, secret=new_secret)) == 200


def test_core_update_of_a_client_invalidates(client, platform, machine):
    assert token_status(client, machine) == 200
    with platform.db.session() as session:
        session.execute(update(Client).where(Client.client_id == machine.client_id)
                        .values(disabled=True))
    assert token_status(client, machine) == 401


def test_another_process_changing_a_client_is_honoured(client, platform, machine):
    assert token_status(client, machine) == 200
    # Another process: its own cache object on the shared Store, a change by raw SQL.
    other = ClientCache(platform.store, platform.settings.secret_key)
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE oidc_client SET disabled = :d WHERE client_id = :c"),
                     {"d": True, "c": machine.client_id})
    other.invalidate()
    assert token_status(client, machine) == 401


def test_rolled_back_change_keeps_the_version(platform, machine):
    before = platform.store.get(VERSION_KEY)
    with pytest.raises(RuntimeError), platform.db.session() as session:
        clients.disable(session, machine.client_id, actor="test")
        session.flush()
        raise RuntimeError("abort")
    assert platform.store.get(VERSION_KEY) == before


def test_unknown_client_is_not_served_from_cache_after_creation(client, platform):
    cache = platform.services["oidc.clients"]
    assert cache.get("not-yet", lambda cid: None) is None
    rp = register(platform, grant_types=["client_credentials"], scope="", redirect_uris=[])
    assert token_status(client, rp) == 200


@pytest.mark.parametrize("alg,key", [("ES256", ECKey.generate_key("P-256", private=True)),
                                     ("RS256", RSAKey.generate_key(2048, private=True))])
def test_compact_signatures_verify_with_joserfc_and_back(alg, key):
    signer = compact.Signer("k1", alg, key.private_key)
    token = signer.sign("at+jwt", {"sub": "s", "n": 1})
    public = RSAKey.import_key(key.as_dict(private=False)) if alg == "RS256" \
        else ECKey.import_key(key.as_dict(private=False))
    assert jwt.decode(token, public, algorithms=[alg]).claims == {"sub": "s", "n": 1}
    keys = {"k1": (alg, key.public_key)}
    verified = compact.verify(token, keys)
    assert isinstance(verified, compact.Verified)
    assert verified.header == {"alg": alg, "typ": "at+jwt", "kid": "k1"}


def test_compact_refuses_tampering_and_defers_unknown_shapes():
    key = ECKey.generate_key("P-256", private=True)
    keys = {"k1": ("ES256", key.public_key)}
    token = compact.Signer("k1", "ES256", key.private_key).sign("at+jwt", {"sub": "s"})
    head, body, sig = token.split(".")
    forged_body = compact.b64(b'{"sub":"admin"}').decode()
    assert compact.verify(f"{head}.{forged_body}.{sig}", keys) is None
    assert compact.verify(f"{head}.{body}.{sig[:-4]}AAAA", keys) is None
    other_kid = compact.Signer("k2", "ES256", key.private_key).sign("at+jwt", {"sub": "s"})
    assert compact.verify(other_kid, keys) is compact.UNSUPPORTED
    wrong_alg = {"k1": ("RS256", key.public_key)}
    assert compact.verify(token, wrong_alg) is compact.UNSUPPORTED
    assert compact.verify("not.a.jwt", keys) is compact.UNSUPPORTED
