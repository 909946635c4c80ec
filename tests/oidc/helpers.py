"""What a relying party does, over HTTP through the Flask test client (tests/oidc)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import event, select

from idp.accounts.sessions import COOKIE_NAME, SsoSession
from idp.db import DriverStatement
from idp.oidc import clients as client_service
from idp.oidc import refresh
from idp.oidc.models import RefreshToken
from idp.platform import Platform
from idp.web.sso import acr_for_level

REDIRECT = "https://rp.example.gov.cn/callback"


@dataclass
class Rp:
    """A registered client and its credentials."""

    client_id: str
    secret: str | None
    redirect_uri: str = REDIRECT

    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def register(platform: Platform, **overrides: Any) -> Rp:
    values: dict[str, Any] = dict(
        name="社保服务", redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile phone realname offline_access", skip_consent=True)
    values.update(overrides)
    if "legal_acting" in values.get("allowed_account_kinds", []):
        # Registration requires back-channel logout for it (clients.validate); an explicit
        # ``backchannel_logout_uri=None`` still tests the refusal.
        values.setdefault("backchannel_logout_uri", "https://rp.example.gov.cn/backchannel")
    spec = client_service.ClientSpec(**values)
    with platform.db.session() as session:
        client, secret = client_service.create(session, platform.settings.secret_key, spec,
                                               actor="test")
    return Rp(client.client_id, secret, spec.redirect_uris[0] if spec.redirect_uris else "")


def sign_in(client: FlaskClient, platform: Platform, citizen: Any, *, level: int = 1,
            amr: list[str] | None = None, age: int = 0,
            acting_for: str | None = None) -> SsoSession:
    """Create an SSO session as the login pages would, and give the browser its cookie."""
    with platform.db.session() as session:
        from idp.accounts.models import Person

        person = session.get(Person, citizen.person_id)
        epoch = person.security_epoch
    s = platform.sessions.start(person_id=citizen.person_id, sub=citizen.sub, epoch=epoch,
                                amr=amr or ["pwd"], acr=acr_for_level(level))
    if age or acting_for:
        s.auth_time -= age
        s.acting_for = acting_for
        platform.sessions.update(s)
    client.set_cookie(COOKIE_NAME, s.sid, domain="localhost")
    return s


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def auth_params(rp: Rp, pkce: Pkce | None = None, **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile", "state": "st-" + secrets.token_hex(4),
              "nonce": "n-" + secrets.token_hex(4)}
    if pkce:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize(client: FlaskClient, params: dict[str, str], method: str = "GET") -> Any:
    if method == "POST":
        return client.post("/authorize", data=params)
    return client.get("/authorize", query_string=params)


def get_code(client: FlaskClient, rp: Rp, pkce: Pkce | None = None, **extra: str) -> str:
    params = auth_params(rp, pkce, **extra)
    resp = authorize(client, params)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    got = query(resp.location)
    assert got.get("state") == params["state"], got
    assert "code" in got, got
    return got["code"]


def redeem(client: FlaskClient, rp: Rp, code: str, pkce: Pkce | None = None,
           **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    if pkce:
        data["code_verifier"] = pkce.verifier
    data.update(extra)
    headers = rp.basic() if rp.secret else {}
    if not rp.secret:
        data["client_id"] = rp.client_id
    return client.post("/token", data=data, headers=headers)


def tokens(client: FlaskClient, rp: Rp, pkce: Pkce | None = None, **extra: str) -> dict:
    resp = redeem(client, rp, get_code(client, rp, pkce, **extra), pkce)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def jwks(client: FlaskClient) -> KeySet:
    return KeySet.import_key_set(client.get("/jwks").get_json())


def verify_id_token(client: FlaskClient, rp: Rp, id_token: str) -> dict[str, Any]:
    """Verify as an RP would: signature against the published JWKS, then the claims."""
    token = jwt.decode(id_token, jwks(client), algorithms=["ES256", "RS256"])
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": "http://localhost"},
                                     aud={"essential": True, "value": rp.client_id},
                                     exp={"essential": True}, iat={"essential": True},
                                     sub={"essential": True})
    registry.validate(token.claims)
    assert token.claims["exp"] > time.time()
    return dict(token.claims)


def introspect(client: FlaskClient, rp: Rp, token: str) -> dict[str, Any]:
    resp = client.post("/introspect", data={"token": token}, headers=rp.basic())
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def exchange(client: FlaskClient, rp: Rp, subject_token: str, **extra: Any) -> Any:
    """RFC 8693 token exchange at ``/token`` by ``rp`` (None values are left out)."""
    from idp.oidc.clients import TOKEN_EXCHANGE
    from idp.oidc.exchange import ACCESS_TOKEN_TYPE

    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE, **extra}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/token", data=data, headers=rp.basic())


STORE_METHODS = ("get", "mget", "set", "add", "pop", "replace", "write", "delete", "incr",
                 "ttl", "sadd", "smembers", "watched_get", "watched_mget", "announce",
                 "announce_add")


def record_store_calls(store: Any, monkeypatch: Any) -> list[str]:
    """The names of the Store methods called from now on, in order: one round trip each,
    except the watched reads (``watched_get``, ``watched_mget``), which a Redis-backed
    process answers from memory while its subscription proves them current."""
    calls: list[str] = []
    for name in STORE_METHODS:
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _f=original, _n=name, **kw: (
            calls.append(_n), _f(*a, **kw))[1])
    return calls


@contextmanager
def sql_statements(platform: Platform) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs and those run on the driver
    (`driver_statements`), in order, whitespace-normalised and lower-cased (BEGIN/COMMIT
    are not statements)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(platform.db.engine, "before_cursor_execute", record)
    try:
        with driver_statements(lambda driven: record(None, None, driven.sql)):
            yield seen
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", record)


@contextmanager
def driver_statements(note: Callable[[DriverStatement], None] | None = None
                      ) -> Iterator[list[DriverStatement]]:
    """The `DriverStatement`s run while the block runs (one round trip each, in
    autocommit), in order; each also given to ``note``."""
    run: list[DriverStatement] = []
    original = DriverStatement.rows

    def rows(statement: DriverStatement, *args: Any) -> Any:
        run.append(statement)
        if note is not None:
            note(statement)
        return original(statement, *args)

    DriverStatement.rows = rows  # type: ignore[method-assign,assignment]
    try:
        yield run
    finally:
        DriverStatement.rows = original  # type: ignore[method-assign]


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` in a thread; its result, or the exception it raised, lands in the
    list. Returns after half a second, for the thread to block where it must."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    return thread, out


def stored_refresh_token(platform: Platform, token: str) -> dict[str, Any]:
    """The refresh-token row of ``token`` (found by its digest), column by column."""
    with platform.db.session() as session:
        row = session.scalars(select(RefreshToken).where(
            RefreshToken.token_digest == refresh.digest(platform.settings.secret_key,
                                                         token))).one()
        return {c.name: getattr(row, c.name) for c in RefreshToken.__table__.columns}


# Refresh-token columns that differ between any two tokens (the family is the grant's).
PER_TOKEN = ("id", "token_digest", "family_id", "issued_at", "expires_at")


def refresh_rows_alike(platform: Platform, token: str, other: str) -> dict[str, Any]:
    """Assert the two tokens' rows agree in all but `PER_TOKEN`, lifetime included, and
    hold ``amr`` as JSON; return ``token``'s row."""
    row, other_row = (stored_refresh_token(platform, t) for t in (token, other))
    assert row["amr"] == ["pwd", "otp"] and row["acting"] is None
    assert {k: v for k, v in row.items() if k not in PER_TOKEN} \
        == {k: v for k, v in other_row.items() if k not in PER_TOKEN}
    assert row["expires_at"] - row["issued_at"] == other_row["expires_at"] - other_row["issued_at"]
    return row
