"""Consent: asked once per client and scope set, again with prompt=consent (§3.1.2.4)."""

from __future__ import annotations

from tests.oidc.helpers import Pkce, auth_params, authorize, query, register, sign_in


def _consent_tx(resp):
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "授权确认" in html, html
    return html.split('name="tx" value="')[1].split('"')[0]


def _csrf(client):
    with client.session_transaction() as s:
        return s["csrf"]


def _decide(client, tx, decision):
    return client.post("/authorize/consent",
                       data={"tx": tx, "decision": decision, "csrf_token": _csrf(client)})


def test_consent_asked_once_then_remembered(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    params = auth_params(rp, Pkce(), scope="openid phone")
    tx = _consent_tx(authorize(client, params))
    got = query(_decide(client, tx, "allow").location)
    assert "code" in got and got["state"] == params["state"]
    again = authorize(client, auth_params(rp, Pkce(), scope="openid phone"))
    assert "code" in query(again.location)
    more = authorize(client, auth_params(rp, Pkce(), scope="openid phone realname"))
    assert more.status_code == 200  # a new scope: asked again


def test_prompt_consent_asks_again(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    _decide(client, _consent_tx(authorize(client, auth_params(rp, Pkce()))), "allow")
    assert authorize(client, auth_params(rp, Pkce(), prompt="consent")).status_code == 200


def test_consent_denied_is_access_denied(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    tx = _consent_tx(authorize(client, auth_params(rp, Pkce())))
    assert query(_decide(client, tx, "deny").location)["error"] == "access_denied"


def test_prompt_none_without_consent_is_consent_required(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    got = query(authorize(client, auth_params(rp, Pkce(), prompt="none")).location)
    assert got["error"] == "consent_required"


def test_consent_form_needs_csrf_token(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    tx = _consent_tx(authorize(client, auth_params(rp, Pkce())))
    resp = client.post("/authorize/consent", data={"tx": tx, "decision": "allow"})
    assert resp.status_code == 400 and resp.location is None


def test_consent_page_in_english_with_ui_locales(client, platform, citizen):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    resp = authorize(client, auth_params(rp, Pkce(), ui_locales="en"))
    assert 'lang="en"' in resp.get_data(as_text=True)
