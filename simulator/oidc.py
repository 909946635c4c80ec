"""A minimal OpenID Provider standing in for the trusted official platform (R-12).

Enough for a relying party to run a real authorization-code flow (OIDC Core §3.1): discovery
(OIDC Discovery §4), an authorize endpoint that auto-approves the seeded identity named by
``login_hint`` or picked in a tiny form, the token endpoint with PKCE S256 (RFC 7636) and
client_secret_basic/post, userinfo, and a JWKS; ID tokens are signed ES256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
)
from joserfc import jwt

from simulator.records import Person

bp = Blueprint("oidc", __name__, url_prefix="/oidc")

CODE_TTL = 60
TOKEN_TTL = 600

_FORM = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>可信平台(模拟)</title><h1>可信平台(模拟)— 选择身份</h1>
<form method="post">{% for k, v in params.items() %}
<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
<select name="person">{% for p in people %}
<option value="{{ p.subject }}">{{ p.key }} {{ p.name }} ({{ p.acr }})</option>{% endfor %}
</select> <button type="submit">同意并返回</button></form></html>"""


def _sim() -> Any:
    return current_app.extensions["simulator"]


def issuer() -> str:
    return _sim().config.issuer or request.url_root.rstrip("/") + "/oidc"


@bp.before_request
def failure_mode() -> tuple[Response, int] | None:
    mode = _sim().modes.get("trusted_platform")
    if mode == "down":
        return jsonify(error="temporarily_unavailable"), 503
    if mode == "slow":
        time.sleep(_sim().config.slow_seconds)
    return None


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    base = issuer()
    return jsonify({
        "issuer": base, "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks", "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile", "phone", "realname"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "name", "acr", "phone_number", "id_document_type",
                             "id_document_number"],
    })


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify({"keys": [_sim().signing_key.as_dict(private=False)]})


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """Validate the request; approve the chosen identity at once (there is no real user)."""
    params = {k: v for k, v in request.values.items() if k != "person"}
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if client_id not in _sim().config.oidc_clients or not _redirect_ok(redirect_uri):
        # Never redirect to an unverified URI (RFC 6749 §4.1.2.1).
        return Response("unknown client or redirect_uri", 400, mimetype="text/plain")
    problem = _request_problem(params)
    if problem:
        return _back(redirect_uri, params, error=problem)
    hint = request.form.get("person") if request.method == "POST" else params.get("login_hint")
    person = _sim().records.by_login_hint(hint) if hint else None
    if person is None:
        people = [p for p in _sim().records.people if p.status == "active"]
        return render_template_string(_FORM, params=params, people=people)
    if person.status != "active":
        return _back(redirect_uri, params, error="access_denied")
    code = secrets.token_urlsafe(24)
    _sim().codes.put(code, {**params, "subject": person.subject, "auth_time": int(time.time())},
                     CODE_TTL)
    return _back(redirect_uri, params, code=code)


def _redirect_ok(uri: str) -> bool:
    allowed = _sim().config.oidc_redirect_uris
    if allowed:
        return uri in allowed
    parts = urlsplit(uri)  # simulator default: any absolute http(s) URI without fragment
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _request_problem(params: dict[str, str]) -> str:
    if params.get("response_type") != "code":
        return "unsupported_response_type"
    if "openid" not in params.get("scope", "").split():
        return "invalid_scope"
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return "invalid_request"
    return ""


def _back(redirect_uri: str, params: dict[str, str], **values: str) -> Response:
    if params.get("state"):
        values["state"] = params["state"]
    sep = "&" if urlsplit(redirect_uri).query else "?"
    return redirect(f"{redirect_uri}{sep}{urlencode(values)}", code=302)


@bp.post("/token")
def token() -> tuple[Response, int]:
    """Redeem a code (RFC 6749 §4.1.3) and issue an ES256 ID token and an access token."""
    client_id = _client()
    if client_id is None:
        return jsonify(error="invalid_client"), 401
    form = request.form
    if form.get("grant_type") != "authorization_code":
        return jsonify(error="unsupported_grant_type"), 400
    grant = _sim().codes.get(form.get("code", ""), consume=True)
    if (grant is None or grant["client_id"] != client_id
            or grant["redirect_uri"] != form.get("redirect_uri")
            or not _pkce_ok(grant, form.get("code_verifier", ""))):
        return jsonify(error="invalid_grant"), 400
    person = _sim().records.by_login_hint(grant["subject"])
    scopes = set(grant.get("scope", "").split())
    access_token = secrets.token_urlsafe(32)
    _sim().tokens.put(access_token, _claims(person, scopes), TOKEN_TTL)
    resp = jsonify(access_token=access_token, token_type="Bearer", expires_in=TOKEN_TTL,
                   scope=grant.get("scope", ""), id_token=_id_token(person, grant, scopes))
    resp.headers["Cache-Control"] = "no-store"
    return resp, 200


def _client() -> str | None:
    """client_secret_basic (RFC 6749 §2.3.1, form-encoded parts) or client_secret_post."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = unquote(auth.username or ""), unquote(auth.password or "")
    else:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    expected = _sim().config.oidc_clients.get(client_id)
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        return None
    return client_id


def _pkce_ok(grant: dict[str, str], verifier: str) -> bool:
    challenge = grant.get("code_challenge")
    if not challenge:
        return not verifier
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return hmac.compare_digest(computed, challenge)


def _claims(person: Person, scopes: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": person.subject}
    if scopes & {"profile", "realname"}:
        claims["name"] = person.name
    if "realname" in scopes:
        claims["id_document_type"] = person.document_type
        claims["id_document_number"] = person.document_number
    if scopes & {"phone", "realname"}:
        claims["phone_number"] = person.phone
    return claims


def _id_token(person: Person, grant: dict[str, Any], scopes: set[str]) -> str:
    now = int(time.time())
    claims = {**_claims(person, scopes), "iss": issuer(), "aud": grant["client_id"],
              "iat": now, "exp": now + TOKEN_TTL, "auth_time": grant["auth_time"],
              "acr": person.acr}
    if grant.get("nonce"):
        claims["nonce"] = grant["nonce"]
    key = _sim().signing_key
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key)


@bp.get("/userinfo")
def userinfo() -> tuple[Response, int]:
    """OIDC Core §5.3; Bearer token in the Authorization header (RFC 6750 §2.1)."""
    auth = request.headers.get("Authorization", "")
    claims = _sim().tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
    if claims is None:
        resp = jsonify(error="invalid_token")
        resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp, 401
    return jsonify(claims), 200
