"""The express lane (idp/oidc/express.py) answers exactly as the Flask path would.

Each request is sent twice: through the app as built (lane in front) and with the lane
taken out. The plain success cases must be answered by the lane — the point of it — with
the same status, headers in the same order, and body (tokens compared claim by claim, since
``jti``/``iat`` differ); every other request must be handed over, body intact, and get the
Flask path's answer. test_api_responses.py pins those answers themselves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.oidc import clients as client_service
from idp.oidc.express import ExpressLane
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.oidc.test_api_responses import access_token, machine, rp  # noqa: F401 - fixtures

CC = {"grant_type": "client_credentials"}


@contextmanager
def lane_off(app: Any) -> Iterator[None]:
    lane = app.wsgi_app
    app.wsgi_app = lane.wsgi_app
    try:
        yield
    finally:
        app.wsgi_app = lane


def lane_of(app: Any) -> ExpressLane:
    assert isinstance(app.wsgi_app, ExpressLane)
    return app.wsgi_app


def twice(app: Any, send: Callable[[], Any], *, answered: bool) -> tuple[Any, Any]:
    """The response with the lane and without it; ``answered``: whether the lane took it."""
    lane = lane_of(app)
    before = lane.answered
    fast = send()
    assert lane.answered == before + answered, "the lane should" + ("" if answered else " not")
    with lane_off(app):
        slow = send()
    return fast, slow


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, claims, _ = (p + "=" * (-len(p) % 4) for p in token.split("."))
    return json.loads(base64.urlsafe_b64decode(head)), json.loads(base64.urlsafe_b64decode(claims))


def assert_same(fast: Any, slow: Any, *, per_grant: tuple[str, ...] = ()) -> None:
    """Same status and headers (names, order, values); same body, tokens compared by their
    header and claims except the per-token ``jti``/``iat``/``exp``/``ctx`` (and ``per_grant``
    claims, with the refresh token, when the two come from different grants)."""
    assert fast.status == slow.status
    assert [k for k, _ in fast.headers.items()] == [k for k, _ in slow.headers.items()]
    for (name, a), (_, b) in zip(fast.headers.items(), slow.headers.items(), strict=True):
        if name != "Content-Length":
            assert a == b, name
    assert int(fast.headers.get("Content-Length", len(fast.data))) == len(fast.data)
    fast_text, slow_text = fast.get_data(as_text=True), slow.get_data(as_text=True)
    if "access_token" not in fast_text:
        assert fast_text == slow_text
        return
    a, b = json.loads(fast_text), json.loads(slow_text)
    assert list(a) == list(b)
    ha, ca = jwt_parts(a.pop("access_token"))
    hb, cb = jwt_parts(b.pop("access_token"))
    if per_grant:
        assert len(a.pop("refresh_token", "")) == len(b.pop("refresh_token", ""))
    assert a == b and ha == hb and list(ca) == list(cb)
    for claim in ("jti", "iat", "exp", "ctx", *per_grant):  # ctx: encrypted afresh per token
        ca.pop(claim, None), cb.pop(claim, None)
    assert ca == cb
    # The text is the same encoding (separators, key order) as the Flask path's.
    body = json.loads(fast_text)
    opaque = {k: "T" for k in ("access_token", "refresh_token") if k in body}
    for key in opaque:
        fast_text = fast_text.replace(body[key], "T")
    assert fast_text == json.dumps(body | opaque, sort_keys=True, ensure_ascii=False)


# -- answered by the lane -------------------------------------------------------------------


@pytest.mark.parametrize("data", [CC, {**CC, "scope": ""}], ids=["no-scope", "empty-scope"])
def test_client_credentials(app, client, machine, data):  # noqa: F811
    fast, slow = twice(app, lambda: client.post("/token", headers=machine.basic(), data=data),
                       answered=True)
    assert fast.status_code == 200
    assert_same(fast, slow)


@pytest.mark.parametrize("settings_overrides", [{"secure_cookies": True}])
def test_client_credentials_over_https_carries_hsts(app, client, machine):  # noqa: F811
    fast, slow = twice(app, lambda: client.post("/token", headers=machine.basic(), data=CC,
                                                base_url="https://localhost"), answered=True)
    assert fast.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_same(fast, slow)


def test_userinfo(app, client, access_token):  # noqa: F811
    fast, slow = twice(app, lambda: client.get(
        "/userinfo", headers={"Authorization": f"Bearer {access_token}"}), answered=True)
    assert fast.status_code == 200 and "sub" in fast.json
    assert_same(fast, slow)


def test_introspection_of_a_live_token(app, client, rp, access_token):  # noqa: F811
    fast, slow = twice(app, lambda: client.post(
        "/introspect", headers=rp.basic(),
        data={"token": access_token, "token_type_hint": "access_token"}), answered=True)
    assert fast.json["active"] is True and fast.json["client_id"] == rp.client_id
    assert_same(fast, slow)


def test_introspection_of_a_client_credentials_token(app, client, machine):  # noqa: F811
    token = client.post("/token", headers=machine.basic(), data=CC).json["access_token"]
    fast, slow = twice(app, lambda: client.post("/introspect", headers=machine.basic(),
                                                data={"token": token}), answered=True)
    assert fast.json["active"] is True and fast.json["sub"] == machine.client_id
    assert_same(fast, slow)


def test_introspection_answers_inactive(app, client, platform, rp, machine,  # noqa: F811
                                        access_token):  # noqa: F811
    """Someone else's token, a forged one and a revoked one: ``active: false``, told only to
    an authenticated caller (the lane authenticates before answering)."""
    forged = access_token[:-4] + ("AAAA" if not access_token.endswith("AAAA") else "BBBB")
    for caller, token in ((machine, access_token), (rp, forged)):
        fast, slow = twice(app, lambda c=caller, t=token: client.post(
            "/introspect", headers=c.basic(), data={"token": t}), answered=True)
        assert fast.json == {"active": False}
        assert_same(fast, slow)
    assert client.post("/revoke", headers=rp.basic(), data={"token": access_token}
                       ).status_code == 200
    fast, slow = twice(app, lambda: client.post("/introspect", headers=rp.basic(),
                                                data={"token": access_token}), answered=True)
    assert fast.json == {"active": False}
    assert_same(fast, slow)


def _grants(client: Any, platform: Any, citizen: Any, party: Any, scope: str,
            n: int = 2) -> list[dict[str, Any]]:
    sign_in(client, platform, citizen)
    issued = [tokens(client, party, Pkce(), scope=scope) for _ in range(n)]
    client.delete_cookie("idp_sso", domain="localhost")
    return issued


def _refresh(client: Any, party: Any, token: str, **extra: str) -> Any:
    return client.post("/token", headers=party.basic(),
                       data={"grant_type": "refresh_token", "refresh_token": token, **extra})


def _issue_audits(platform: Any) -> int:
    with platform.db.session() as session:
        return session.query(AuditRecord).filter_by(action="oidc:token:issue").count()


@pytest.mark.parametrize(("scope", "requested"), [
    ("openid offline_access", {}), ("openid profile offline_access", {"scope": "openid"}),
    ("openid offline_access", {"scope": ""})], ids=["rotation", "narrower-scope", "blank-scope"])
def test_refresh(app, client, platform, citizen, rp, scope, requested):  # noqa: F811
    """Two grants alike, one refreshed through the lane and one through Flask: the same
    answer; the lane's rotation is audited and retires the old token (reuse detection)."""
    first, second = _grants(client, platform, citizen, rp, scope)
    lane = lane_of(app)
    before, audits = lane.answered, _issue_audits(platform)
    fast = _refresh(client, rp, first["refresh_token"], **requested)
    assert fast.status_code == 200 and lane.answered == before + 1
    assert _issue_audits(platform) == audits + 1
    with lane_off(app):
        slow = _refresh(client, rp, second["refresh_token"], **requested)
    assert_same(fast, slow, per_grant=("gid",))
    assert ("refresh_token" in fast.json) == ("offline_access" in fast.json["scope"].split())
    # The retired token again: reuse — handed over, and the family is revoked.
    reused = _refresh(client, rp, first["refresh_token"])
    assert reused.status_code == 400 and reused.json["error"] == "invalid_grant"
    assert lane.answered == before + 1
    if "refresh_token" in fast.json:
        assert _refresh(client, rp, fast.json["refresh_token"]).json["error"] == "invalid_grant"


REFRESH_CASES: dict[str, Callable[[Any, Any, str], dict[str, Any]]] = {
    "broader-scope": lambda c, _other, t: dict(headers=c.basic(), data={
        "grant_type": "refresh_token", "refresh_token": t, "scope": "openid phone"}),
    "other-client": lambda _c, other, t: dict(headers=other.basic(), data={
        "grant_type": "refresh_token", "refresh_token": t}),
    "unknown-token": lambda c, _other, t: dict(headers=c.basic(), data={
        "grant_type": "refresh_token", "refresh_token": t + "x"}),
    "missing-token": lambda c, _other, _t: dict(headers=c.basic(), data={
        "grant_type": "refresh_token"}),
    "client-id-in-body-too": lambda c, _other, t: dict(headers=c.basic(), data={
        "grant_type": "refresh_token", "refresh_token": t, "client_id": c.client_id}),
    "wrong-secret": lambda c, _other, t: dict(headers=_basic(f"{c.client_id}:x"), data={
        "grant_type": "refresh_token", "refresh_token": t}),
}


@pytest.mark.parametrize("case", REFRESH_CASES.values(), ids=REFRESH_CASES.keys())
def test_refresh_requests_the_lane_hands_over(app, client, platform, citizen, rp,  # noqa: F811
                                              case):
    """Each is refused or answered by the Flask path exactly as with the lane off (the
    token is not used up by a refusal, so both get the same one)."""
    (issued,) = _grants(client, platform, citizen, rp, "openid offline_access", n=1)
    other = register(platform, grant_types=["authorization_code", "refresh_token"])
    kwargs = case(rp, other, issued["refresh_token"])
    if "client_id" in kwargs["data"]:  # answered by Flask: it rotates, so no second send
        before = lane_of(app).answered
        assert client.post("/token", **kwargs).status_code == 200
        assert lane_of(app).answered == before
        return
    fast, slow = twice(app, lambda: client.post("/token", **kwargs), answered=False)
    assert fast.status_code in (400, 401)
    assert_same(fast, slow)


def test_refresh_after_a_ban_is_handed_over(app, client, platform, citizen, rp):  # noqa: F811
    (issued,) = _grants(client, platform, citizen, rp, "openid offline_access", n=1)
    with platform.db.session() as session:
        person = session.get(Person, citizen.person_id)
        person.security_epoch += 1  # what a ban or a password reset does
    fast, slow = twice(app, lambda: _refresh(client, rp, issued["refresh_token"]),
                       answered=False)
    assert fast.status_code == 400 and fast.json["error"] == "invalid_grant"  # RFC 6749 §5.2
    assert_same(fast, slow)


@pytest.mark.parametrize("settings_overrides", [{"proxy_fix": 1, "secure_cookies": True}])
def test_behind_a_proxy_the_lane_sees_the_forwarded_scheme(app, client, machine):  # noqa: F811
    """ProxyFix is outermost, so the lane judges the transport as the Flask path does."""
    assert isinstance(app.wsgi_app.app, ExpressLane)  # ProxyFix(ExpressLane(Flask))
    lane = app.wsgi_app.app
    before = lane.answered
    resp = client.post("/token", headers={**machine.basic(), "X-Forwarded-Proto": "https",
                                          "Host": "idp.example.gov.cn"}, data=CC)
    assert resp.status_code == 200 and lane.answered == before + 1
    assert "Strict-Transport-Security" in resp.headers
    plain = client.post("/token", headers={**machine.basic(), "Host": "idp.example.gov.cn"},
                        data=CC)  # plain http from a non-loopback host: refused, by Flask
    assert plain.status_code == 400 and lane.answered == before + 1


@pytest.mark.parametrize("settings_overrides", [{"express_lane": False}])
def test_the_lane_can_be_turned_off(app, client, machine):  # noqa: F811
    assert not isinstance(app.wsgi_app, ExpressLane)
    assert client.post("/token", headers=machine.basic(), data=CC).status_code == 200


# -- handed over to the Flask path ------------------------------------------------------------


def _basic(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


TOKEN_CASES: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "query-string": lambda m, _o: dict(query_string="x=1", headers=m.basic(), data=CC),
    "json-body": lambda m, _o: dict(headers=m.basic(), json=CC),
    "multipart-body": lambda m, _o: dict(headers=m.basic(), data=CC,
                                         content_type="multipart/form-data"),
    "repeated-parameter": lambda m, _o: dict(
        headers=m.basic(), data="grant_type=client_credentials&grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded"),
    "client-id-in-body-too": lambda m, _o: dict(headers=m.basic(),
                                                data={**CC, "client_id": m.client_id}),
    "unknown-parameter": lambda m, _o: dict(headers=m.basic(), data={**CC, "audience": "x"}),
    "large-body": lambda m, _o: dict(headers=m.basic(), data={**CC, "pad": "x" * 9000}),
    "not-utf8": lambda m, _o: dict(headers=m.basic(), data="grant_type=client_credentials&"
                                   "scope=%ff", content_type="application/x-www-form-urlencoded"),
    "no-authorization": lambda _m, _o: dict(data=CC),
    "bearer-not-basic": lambda _m, _o: dict(headers={"Authorization": "Bearer x"}, data=CC),
    "basic-not-base64": lambda _m, _o: dict(headers={"Authorization": "Basic *?*"}, data=CC),
    "basic-without-colon": lambda m, _o: dict(headers=_basic(m.client_id), data=CC),
    "empty-secret": lambda m, _o: dict(headers=_basic(f"{m.client_id}:"), data=CC),
    "wrong-secret": lambda m, _o: dict(headers=_basic(f"{m.client_id}:wrong"), data=CC),
    "unknown-client": lambda _m, _o: dict(headers=_basic("nobody:secret"), data=CC),
    "client-without-the-grant": lambda _m, o: dict(headers=o.basic(), data=CC),
    "person-scope": lambda m, _o: dict(headers=m.basic(), data={**CC, "scope": "openid"}),
    "unsupported-scope": lambda m, _o: dict(headers=m.basic(), data={**CC, "scope": "x"}),
    "other-grant": lambda m, _o: dict(headers=m.basic(), data={"grant_type": "password"}),
    "insecure-transport": lambda m, _o: dict(headers={**m.basic(), "Host": "idp.example"},
                                             data=CC),
    "odd-host": lambda m, _o: dict(headers={**m.basic(), "Host": "idp_example:1"}, data=CC),
    # Hosts werkzeug reads otherwise than a first glance (review of d7c472f): port 0 or with
    # leading zeros (no host: plain http then counts as insecure), empty or overlong labels
    # (400 from routing).
    "port-zero": lambda m, _o: dict(headers={**m.basic(), "Host": "localhost:0"}, data=CC),
    "port-leading-zero": lambda m, _o: dict(headers={**m.basic(), "Host": "localhost:080"},
                                            data=CC),
    "empty-label": lambda m, _o: dict(headers={**m.basic(), "Host": "idp..example.gov"},
                                      data=CC, base_url="https://localhost"),
    "long-label": lambda m, _o: dict(headers={**m.basic(), "Host": "a" * 64 + ".gov"},
                                     data=CC, base_url="https://localhost"),
    # Lengths werkzeug reads otherwise: a signed number is no length; chunked wins over it.
    "signed-length": lambda m, _o: dict(headers=m.basic(), data=CC,
                                        environ_overrides={"CONTENT_LENGTH": "+29"}),
    "chunked": lambda m, _o: dict(headers={**m.basic(), "Transfer-Encoding": "chunked"},
                                  data=CC),
}


@pytest.mark.parametrize("case", TOKEN_CASES.values(), ids=TOKEN_CASES.keys())
def test_token_requests_the_lane_hands_over(app, client, machine, rp, case):  # noqa: F811
    kwargs = case(machine, rp)
    fast, slow = twice(app, lambda: client.post("/token", **kwargs), answered=False)
    assert_same(fast, slow)


def test_a_handed_over_request_keeps_its_body(app, client, machine):  # noqa: F811
    """Read by the lane, then answered by Flask: the body must still be there."""
    fast, _ = twice(app, lambda: client.post(
        "/token", headers=machine.basic(), data={**CC, "client_id": machine.client_id}),
        answered=False)
    assert fast.status_code == 200 and fast.json["token_type"] == "Bearer"


def test_a_disabled_client_is_handed_over(app, client, platform, machine):  # noqa: F811
    assert client.post("/token", headers=machine.basic(), data=CC).status_code == 200
    with platform.db.session() as session:
        client_service.disable(session, machine.client_id, actor="test")
    fast, slow = twice(app, lambda: client.post("/token", headers=machine.basic(), data=CC),
                       answered=False)
    assert fast.status_code == 401
    assert_same(fast, slow)


USERINFO_CASES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "post-with-header": lambda t, _m: dict(method="POST",
                                           headers={"Authorization": f"Bearer {t}"}),
    "post-with-body": lambda t, _m: dict(method="POST", data={"access_token": t}),
    "query-string": lambda t, _m: dict(query_string="x=1",
                                       headers={"Authorization": f"Bearer {t}"}),
    "missing-token": lambda _t, _m: dict(),
    "malformed-header": lambda t, _m: dict(headers={"Authorization": f"Token {t}"}),
    "invalid-token": lambda t, _m: dict(headers={"Authorization": f"Bearer {t}x"}),
    "no-openid-scope": lambda _t, m: dict(headers={"Authorization": f"Bearer {m}"}),
    "empty-host-label": lambda t, _m: dict(headers={"Authorization": f"Bearer {t}",
                                                    "Host": "idp..example.gov"}),
}


@pytest.mark.parametrize("case", USERINFO_CASES.values(), ids=USERINFO_CASES.keys())
def test_userinfo_requests_the_lane_hands_over(app, client, machine, access_token,  # noqa: F811
                                               case):
    machine_token = client.post("/token", headers=machine.basic(),
                                data=CC).json["access_token"]
    kwargs = {"method": "GET", **case(access_token, machine_token)}
    fast, slow = twice(app, lambda: client.open("/userinfo", **kwargs), answered=False)
    assert_same(fast, slow)


INTROSPECT_CASES: dict[str, Callable[[Any, str, str], dict[str, Any]]] = {
    "refresh-token": lambda c, _t, r: dict(headers=c.basic(), data={"token": r}),
    "unsupported-hint": lambda c, t, _r: dict(headers=c.basic(), data={
        "token": t, "token_type_hint": "id_token"}),
    "missing-token": lambda c, _t, _r: dict(headers=c.basic(), data={"x": "1"}),
    "wrong-secret": lambda c, t, _r: dict(headers=_basic(f"{c.client_id}:no"),
                                           data={"token": t}),
    "no-authorization": lambda _c, t, _r: dict(data={"token": t}),
    "client-in-body": lambda c, t, _r: dict(data={"token": t, "client_id": c.client_id,
                                                   "client_secret": c.secret}),
    "query-string": lambda c, t, _r: dict(headers=c.basic(), query_string="a=b",
                                           data={"token": t}),
}


@pytest.mark.parametrize("case", INTROSPECT_CASES.values(), ids=INTROSPECT_CASES.keys())
def test_introspection_requests_the_lane_hands_over(app, client, platform, citizen, rp,  # noqa: F811
                                                    case):
    sign_in(client, platform, citizen)
    issued = tokens(client, rp, Pkce(), scope="openid offline_access")
    client.delete_cookie("idp_sso", domain="localhost")
    kwargs = case(rp, issued["access_token"], issued["refresh_token"])
    fast, slow = twice(app, lambda: client.post("/introspect", **kwargs), answered=False)
    assert_same(fast, slow)


def test_debug_mode_is_left_to_flask(app, client, machine):  # noqa: F811
    """Debug responses are pretty-printed by Flask; the lane stands aside."""
    app.debug = True
    try:
        fast, slow = twice(app, lambda: client.post("/token", headers=machine.basic(), data=CC),
                           answered=False)
    finally:
        app.debug = False
    assert fast.status_code == 200



def test_a_fault_in_the_lane_is_answered_by_flask_without_a_second_try(
        app, client, platform, machine, monkeypatch, caplog):  # noqa: F811
    """Redis down: one attempt (not the lane's and then Flask's), the usual 500 with a
    reference, and the error in the log (review of d7c472f)."""
    app.testing = False  # errors answered by the handlers, as in production
    calls: list[str] = []

    def down(*_args: Any) -> None:
        calls.append("store")
        raise ConnectionError("store down")

    for read in ("get", "mget", "watched_get"):
        monkeypatch.setattr(platform.store, read, down)
    resp = client.post("/token", headers={**machine.basic(), "Accept": "application/json"},
                       data=CC)
    assert resp.status_code == 500 and "reference" in resp.json["detail"]
    assert calls == ["store"]
    assert any(r.levelname == "ERROR" and "unexpected error" in r.getMessage()
               for r in caplog.records)
