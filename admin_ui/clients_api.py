"""Department systems through the console's JSON API (issue 5 item 6; R-54, R-60).

The same operations and role rules as the pages of `admin_ui.clients`: ``client.view`` to
read, ``client.create`` / ``client.update`` / ``client.rotate_secret`` / ``client.disable``
to change. Bodies use the field names of OIDC Dynamic Client Registration §2 where one
exists; a secret is returned once, in the answer to the call that made it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from admin_ui import client_edit, stats
from admin_ui.api_auth import staff_api
from admin_ui.client_edit import FieldErrors
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.oidc import clients as client_service
from idp.oidc.claims import SUPPORTED_SCOPES
from idp.oidc.clients import ACCOUNT_KINDS, GRANT_TYPES, ClientError
from idp.platform import current_platform

bp = Blueprint("admin_clients_api", __name__, url_prefix="/api/v1/admin")
TAG = "Console 管理后台"
_URIS = {"type": "array", "maxItems": client_edit.MAX_URIS,
         "items": {"type": "string", "format": "uri", "maxLength": 500}}
_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 200},
    "redirect_uris": _URIS, "post_logout_redirect_uris": _URIS,
    "backchannel_logout_uri": {"type": ["string", "null"], "format": "uri", "maxLength": 500},
    "grant_types": {"type": "array", "items": {"enum": list(GRANT_TYPES)}},
    "scope": {"type": "string", "description": "space-separated, among "
              + " ".join(SUPPORTED_SCOPES)},
    "allowed_account_kinds": {"type": "array", "items": {"enum": list(ACCOUNT_KINDS)}},
    "min_realname_level": {"enum": [1, 2, 3]},
    "require_mfa": {"type": "boolean"}, "skip_consent": {"type": "boolean"},
    "allow_idcard": {"type": "boolean"},
    "jwks": {"type": ["object", "null"], "description": "public keys for private_key_jwt"},
    "id_token_signed_response_alg": {"enum": ["ES256", "RS256"]},
    "subject_type": {"enum": ["public", "pairwise"]},
    "service_items": {
        "type": "array", "maxItems": 100, "description": "service items offered (R-54); the "
        "units of delegated authority", "items": {
            "type": "object", "required": ["code", "name"], "additionalProperties": False,
            "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,128}$"},
                           "name": {"type": "string", "maxLength": 100},
                           "name_en": {"type": "string", "maxLength": 100}}}},
    "exchange_audiences": {
        "type": "array", "maxItems": client_edit.MAX_URIS, "description": "client ids whose "
        "APIs this client may exchange a person's token for (RFC 8693)",
        "items": {"type": "string", "maxLength": 64}},
}
_CREATE = schema("ClientRegistration", {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "properties": {**_FIELDS, "public": {"type": "boolean"},
                   "token_endpoint_auth_method": {"enum": ["client_secret_basic",
                                                           "client_secret_post",
                                                           "private_key_jwt"]}}})
_UPDATE = schema("ClientChanges", {"type": "object", "additionalProperties": False,
                                   "properties": _FIELDS})
_CLIENT = schema("RegisteredClient", {
    "type": "object", "required": ["client_id", "name", "disabled"],
    "properties": {"client_id": {"type": "string"}, "name": {"type": "string"},
                   "disabled": {"type": "boolean"}, "public": {"type": "boolean"},
                   **_FIELDS}})
_USAGE = {"type": "object", "properties": {
    "days": {"type": "array", "items": {"type": "string", "format": "date"}},
    "tokens": {"type": "array", "items": {"type": "integer"}},
    "authorizations": {"type": "array", "items": {"type": "integer"}},
    "last_use": {"type": ["string", "null"], "format": "date-time"}}}


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "请求体必须是 JSON 对象",
                         "The body must be a JSON object.")
    return data


def _invalid(exc: FieldErrors) -> ApiProblem:
    return ApiProblem(422, "validation", "请求内容有误", "Some fields are invalid.",
                      errors=exc.errors)


def _not_found() -> ApiProblem:
    return ApiProblem(404, "not_found", "应用不存在", "No such client.")


def _client(session: Any, client_id: str) -> Any:
    """The registered client, or the 404 problem."""
    client = client_service.get(session, client_id[:64])
    if client is None:
        raise _not_found()
    return client


@bp.get("/clients")
@operation("/api/v1/admin/clients", "GET", summary="List department systems", tag=TAG,
           problems=(403,), response=schema("ClientList", {
               "type": "object", "required": ["clients"],
               "properties": {"clients": {"type": "array", "items": _CLIENT}}}))
@staff_api("client.view")
def list_clients() -> Response:
    """Every registration, with tokens issued in the last 30 days and the last one's time."""
    with current_platform().db.session() as session:
        usage = stats.usage_summary(session)
        rows = []
        for c in client_service.list_clients(session):
            count, last = usage.get(c.client_id, (0, None))
            rows.append({**client_service.describe(c), "tokens_30d": count,
                         "last_use": last.isoformat(timespec="seconds") if last else None})
    return _no_store(jsonify(clients=rows))


@bp.post("/clients")
@operation("/api/v1/admin/clients", "POST", summary="Register a department system", tag=TAG,
           status=201, problems=(400, 403, 422), request=_CREATE,
           response=schema("ClientCreated", {
               "type": "object", "required": ["client"],
               "properties": {"client": _CLIENT, "client_secret": {
                   "type": ["string", "null"],
                   "description": "shown once; null for public and private_key_jwt clients"}}}))
@staff_api("client.create")
def create_client() -> tuple[Response, int]:
    """Check every field (OIDC Registration §2 rules) and register; the secret is shown once."""
    try:
        with current_platform().db.session() as session:
            client, secret = client_edit.register(
                session, current_platform().settings.secret_key, _body(), actor=g.staff.actor)
            described = client_service.describe(client)
    except FieldErrors as exc:
        raise _invalid(exc) from exc
    return _no_store(jsonify(client=described, client_secret=secret)), 201


@bp.get("/clients/<client_id>")
@operation("/api/v1/admin/clients/{client_id}", "GET", summary="A department system and its "
           "usage over 30 days", tag=TAG, problems=(403, 404), response=schema("ClientDetail", {
               "type": "object", "required": ["client", "usage"],
               "properties": {"client": _CLIENT, "usage": _USAGE}}))
@staff_api("client.view")
def get_client(client_id: str) -> Response:
    """Registration (never a secret) and tokens/authorizations per day with the last use."""
    with current_platform().db.session() as session:
        client = _client(session, client_id)
        described = client_service.describe(client)
        usage = stats.client_usage(session, client.client_id)
    return _no_store(jsonify(client=described, usage=usage.as_dict()))


@bp.patch("/clients/<client_id>")
@operation("/api/v1/admin/clients/{client_id}", "PATCH", summary="Change a department "
           "system's registration or access policy", tag=TAG, problems=(400, 403, 404, 422),
           request=_UPDATE, response=schema("ClientUpdated", {
               "type": "object", "required": ["client", "changed"],
               "properties": {"client": _CLIENT,
                              "changed": {"type": "array", "items": {"type": "string"}}}}))
@staff_api("client.update")
def update_client(client_id: str) -> Response:
    """Only the fields sent change; the next /authorize in every process applies them (R-54).

    ``public`` and ``token_endpoint_auth_method`` are fixed at registration (422).
    """
    body = _body()
    try:
        with current_platform().db.session() as session:
            client, changed = client_edit.update(session, client_id[:64], body,
                                                 actor=g.staff.actor)
            described = client_service.describe(client)
    except LookupError as exc:
        raise _not_found() from exc
    except FieldErrors as exc:
        raise _invalid(exc) from exc
    return _no_store(jsonify(client=described, changed=changed))


@bp.post("/clients/<client_id>/secret")
@operation("/api/v1/admin/clients/{client_id}/secret", "POST", summary="Rotate a department "
           "system's secret (shown once)", tag=TAG, problems=(403, 404, 409),
           response=schema("ClientSecret", {
               "type": "object", "required": ["client_id", "client_secret"],
               "properties": {"client_id": {"type": "string"},
                              "client_secret": {"type": "string"}}}))
@staff_api("client.rotate_secret")
def rotate_secret(client_id: str) -> Response:
    """The old secret stops working at once; public and private_key_jwt clients: 409."""
    with current_platform().db.session() as session:
        _client(session, client_id)
    try:
        with current_platform().db.session() as session:
            secret = client_service.rotate_secret(
                session, current_platform().settings.secret_key, client_id,
                actor=g.staff.actor)
    except ClientError as exc:
        raise ApiProblem(409, "no_secret", "该应用不使用密钥认证",
                         "This client does not authenticate with a secret.") from exc
    return _no_store(jsonify(client_id=client_id, client_secret=secret))


@bp.post("/clients/<client_id>/disable")
@operation("/api/v1/admin/clients/{client_id}/disable", "POST", summary="Disable a "
           "department system", tag=TAG, problems=(403, 404),
           response=schema("ClientDisabled", {"type": "object", "required": ["client"],
                                              "properties": {"client": _CLIENT}}))
@staff_api("client.disable")
def disable_client(client_id: str) -> Response:
    """No authorization, token or introspection for it from the next request on."""
    with current_platform().db.session() as session:
        client = _client(session, client_id)
        if not client.disabled:
            client = client_service.disable(session, client_id, actor=g.staff.actor)
        described = client_service.describe(client)
    return _no_store(jsonify(client=described))


@bp.post("/clients/<client_id>/enable")
@operation("/api/v1/admin/clients/{client_id}/enable", "POST", summary="Re-enable a "
           "disabled department system", tag=TAG, problems=(403, 404),
           response=schema("ClientEnabled", {"type": "object", "required": ["client"],
                                             "properties": {"client": _CLIENT}}))
@staff_api("client.enable")
def enable_client(client_id: str) -> Response:
    """Idempotent: enabling an enabled client changes nothing and records nothing."""
    with current_platform().db.session() as session:
        client = client_edit.enable(session, _client(session, client_id).client_id,
                                    actor=g.staff.actor)
        described = client_service.describe(client)
    return _no_store(jsonify(client=described))
