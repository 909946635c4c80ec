"""A password change ends the person's other sessions, and the department systems signed in
through them are told by back-channel logout (DESIGN.md step 6; OIDC BCL 1.0 §2.4)."""

from __future__ import annotations

from joserfc import jwt

from idp.accounts.sessions import public_sid
from tests.oidc.helpers import Pkce, jwks, register, sign_in, tokens
from tests.oidc.test_logout import BCL, posted  # noqa: F401 - fixture

NEW_PASSWORD = "Brand-New-Passw0rd"


def test_changing_password_logs_out_other_browsers_and_their_systems(app, client, platform,
                                                                     citizen, posted):  # noqa: F811
    rp = register(platform, backchannel_logout_uri=BCL)
    other_browser = app.test_client()
    other = sign_in(other_browser, platform, citizen)
    tokens(other_browser, rp, Pkce())
    mine = sign_in(client, platform, citizen)
    with client.session_transaction() as ui:
        ui["csrf"] = "t"

    resp = client.post("/account/password", data={
        "csrf_token": "t", "current_password": citizen.password,
        "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert resp.status_code == 302
    assert platform.sessions.load(other.sid) is None
    assert platform.sessions.load(mine.sid) is not None  # this browser stays signed in
    assert [url for url, _ in posted] == [BCL]
    claims = jwt.decode(posted[0][1], jwks(client)).claims
    assert claims["sid"] == public_sid(platform.settings.secret_key, other.sid)
    assert claims["sub"] == citizen.sub
