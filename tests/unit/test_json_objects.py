"""What sessions and codes write to the Store: `as_json_object` is ``dataclasses.asdict``
without the deep copy (bench/README.md round 6), so the stored JSON is unchanged."""

from __future__ import annotations

import json
from dataclasses import asdict

from idp.accounts.sessions import SsoSession
from idp.oidc.codes import AuthorizationCode


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def test_session_json_unchanged():
    s = SsoSession(sid="s", person_id=1, sub="u", epoch=2, auth_time=3, amr=["pwd"],
                   acr="urn:idp:acr:realname:1", created=3, last_seen=4, pending=["totp"],
                   acting_for="91350200MA")
    assert _dumps(s.as_json_object()) == _dumps(asdict(s))


def test_code_json_unchanged():
    code = AuthorizationCode(client_id="c", redirect_uri="https://rp/cb", scope="openid",
                             person_id=7, epoch=0, sid=None, auth_time=1, acr="a",
                             amr=["pwd", "otp"], nonce="n",
                             acting={"org": "x", "items": ["*"], "nested": {"a": [1]}})
    code.gid = "g"  # set after construction, as `CodeStore.save` does
    assert _dumps(code.as_json_object()) == _dumps(asdict(code))
    assert AuthorizationCode(**json.loads(_dumps(code.as_json_object()))) == code
