"""Register and edit department systems from the console (issue 5 item 6; R-54, R-60).

No Flask. Input comes from a page form or a JSON body as one plain mapping; `parse` turns it
into typed values and reports every bad field at once (`FieldErrors`, like the JSON API's
422 ``errors``). The rules themselves are not repeated here: each field is checked by
building a `ClientSpec` holding just that field and running `idp.oidc.clients.validate`
on it (so an error names its field), then the whole registration is validated once more for
rules that join fields (the code grant needs a redirect URI; private_key_jwt needs keys).

Registration, secret rotation and disabling are `idp.oidc.clients`' own operations; the
one missing there, `update`, is here. It changes the ``Client`` row through the ORM, so the
commit replaces the client cache version (`idp.oidc.client_cache.watch`) and the next
``/authorize`` or ``/token`` in every process sees the new policy (R-54: "access policies
can be changed per application without disturbing connected applications").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.oidc import clients, service_items
from idp.oidc.clients import ClientError, ClientSpec
from idp.oidc.models import CONFIDENTIAL_METHODS, Client

MAX_URIS = 20
MAX_JWKS_CHARS = 20_000
TEXT = {"name": 200, "backchannel_logout_uri": 500, "token_endpoint_auth_method": 32,
        "id_token_signed_response_alg": 8, "subject_type": 16}
LISTS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "allowed_account_kinds",
         "exchange_audiences")
FLAGS = ("public", "require_mfa", "skip_consent", "allow_idcard")
# Fixed at registration: changing them would change how the client proves who it is.
IMMUTABLE = ("public", "token_endpoint_auth_method")
EDITABLE = (*(f for f in TEXT if f not in IMMUTABLE), *LISTS, "scope", "min_realname_level",
            "jwks", "service_items", *(f for f in FLAGS if f not in IMMUTABLE))
_PROBE_URI = "https://probe.invalid/cb"


class FieldErrors(ClientError):
    """Bad fields: ``errors`` is ``[{"field", "code"}]``; ``detail`` is the rule's message."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['code']}" for e in errors))
        self.errors = errors


# -- parsing ---------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _Bad("type")
    if len(value) > limit:
        raise _Bad("too_long")
    return value.strip()


def _list(value: Any) -> list[str]:
    """A list of strings (a form's textarea is split into lines by the page)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad("type")
    items = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(items) > MAX_URIS:
        raise _Bad("too_many")
    if any(len(v) > 500 for v in items):
        raise _Bad("too_long")
    return items


def _scope(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = " ".join(value)
    return " ".join(_text(value, 500).split())


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("on", "true", "1", "yes", ""):
        return value != ""
    raise _Bad("type")


def _level(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 3:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad("type")
    return value


def _jwks(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > MAX_JWKS_CHARS:
            raise _Bad("too_long")
        try:
            return clients.load_jwks(value)
        except ClientError:
            raise _Bad("invalid") from None
    if not isinstance(value, dict) or len(json.dumps(value)) > MAX_JWKS_CHARS:
        raise _Bad("type")
    return value


def _service_items(value: Any) -> list[Any]:
    """Declared items: JSON ``[{code, name, name_en}]`` or form lines ``code=名称|English``;
    their rules are `idp.oidc.service_items.parse`'s (run by `check`)."""
    if isinstance(value, str):
        value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list) or len(value) > service_items.MAX_ITEMS:
        raise _Bad("type" if not isinstance(value, list) else "too_many")
    return value


class _Bad(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


def _parser(name: str) -> Callable[[Any], Any]:
    if name in TEXT:
        return lambda v: _text(v, TEXT[name])
    if name in LISTS:
        return _list
    if name in FLAGS:
        return _flag
    return {"scope": _scope, "min_realname_level": _level, "jwks": _jwks,
            "service_items": _service_items}[name]


def parse(values: Mapping[str, Any], *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Typed values of the fields present in ``values``; unknown fields are refused."""
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in allowed:
            errors.append({"field": str(name)[:64], "code": "unknown"})
            continue
        try:
            out[name] = _parser(name)(value)
        except _Bad as bad:
            errors.append({"field": name, "code": bad.code})
    if "backchannel_logout_uri" in out and not out["backchannel_logout_uri"]:
        out["backchannel_logout_uri"] = None
    if errors:
        raise FieldErrors(errors)
    return out


# -- validation through ClientSpec ---------------------------------------------------------------


def _probe(name: str, value: Any) -> ClientSpec | None:
    """A registration valid in every field but ``name`` (None: nothing to check alone)."""
    base: dict[str, Any] = {"name": "probe", "grant_types": []}
    if name == "grant_types":
        base["redirect_uris"] = [_PROBE_URI]
    if name == "jwks":
        if value is None:
            return None
        base["token_endpoint_auth_method"] = "private_key_jwt"
    if name == "token_endpoint_auth_method":
        return None if value in CONFIDENTIAL_METHODS else ClientSpec(
            **base, token_endpoint_auth_method=value)
    if name in FLAGS:
        return None
    if name == "scope":  # ``idcard`` needs allow_idcard: a rule joining fields, checked later
        base["allow_idcard"] = True
    if name == "allowed_account_kinds":  # legal_acting needs back-channel logout (likewise)
        base["backchannel_logout_uri"] = _PROBE_URI
    return ClientSpec(**{**base, name: value})


_CROSS_FIELD = (("authorization_code grant needs", "redirect_uris", "required"),
                ("public client cannot use client_credentials", "grant_types", "invalid"),
                ("private_key_jwt needs", "jwks", "required"),
                ("JWKS cannot be read", "jwks", "invalid"),
                ("idcard scope needs allow_idcard", "allow_idcard", "required"),
                ("legal_acting needs a back-channel", "backchannel_logout_uri", "required"))


def check(spec: ClientSpec, fields: tuple[str, ...]) -> None:
    """`clients.validate` field by field (errors name their field), then as a whole."""
    errors = []
    for name in fields:
        probe = _probe(name, getattr(spec, name))
        if probe is None:
            continue
        try:
            clients.validate(probe)
        except ClientError:
            errors.append({"field": name, "code": "invalid"})
    if errors:
        raise FieldErrors(errors)
    try:
        clients.validate(spec)
    except ClientError as exc:
        for text, name, code in _CROSS_FIELD:
            if text in str(exc):
                raise FieldErrors([{"field": name, "code": code}]) from exc
        raise FieldErrors([{"field": "registration", "code": "invalid"}]) from exc


# -- operations ------------------------------------------------------------------------------


def register(session: Session, secret_key: str, values: Mapping[str, Any], *,
             actor: str) -> tuple[Client, str | None]:
    """Check and register a client (`clients.create`); its secret is returned once."""
    parsed = parse(values, allowed=(*EDITABLE, *IMMUTABLE))
    if "name" not in parsed:
        raise FieldErrors([{"field": "name", "code": "missing"}])
    spec = ClientSpec(**parsed)
    if spec.public:
        spec.token_endpoint_auth_method = None
    check(spec, tuple(parsed))
    return clients.create(session, secret_key, spec, actor=actor)


def spec_of(client: Client) -> ClientSpec:
    """The registration of an existing client, as `ClientSpec` (to edit and re-check)."""
    return ClientSpec(
        name=client.name, redirect_uris=list(client.redirect_uris), public=client.is_public,
        grant_types=list(client.grant_types), scope=client.scope,
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        backchannel_logout_uri=client.backchannel_logout_uri,
        token_endpoint_auth_method=None if client.is_public
        else client.token_endpoint_auth_method,
        jwks=client.jwks, id_token_signed_response_alg=client.id_token_signed_response_alg,
        subject_type=client.subject_type, skip_consent=client.skip_consent,
        allow_idcard=client.allow_idcard,
        allowed_account_kinds=list(client.allowed_account_kinds),
        min_realname_level=client.min_realname_level, require_mfa=client.require_mfa,
        service_items=list(client.service_items or []),
        exchange_audiences=list(client.exchange_audiences or []))


def update(session: Session, client_id: str, values: Mapping[str, Any], *,
           actor: str) -> tuple[Client, list[str]]:
    """Change a client's registration and policy; returns it and the changed fields.

    Nothing is written unless every field is valid. Unchanged values are not counted; the
    audit record ``oidc:client:update`` lists the changed field names (values of URIs and
    keys are in the registration itself, shown to client administrators).
    """
    client = clients.get(session, client_id)
    if client is None:
        raise LookupError(client_id)
    parsed = parse(values, allowed=EDITABLE)
    current = spec_of(client)
    spec = dataclasses.replace(current, **parsed)
    check(spec, tuple(parsed))
    changed = [name for name in parsed if getattr(spec, name) != getattr(current, name)]
    if not changed:
        return client, []
    for name in changed:
        setattr(client, name, _stored(spec, name))
    audit.record(session, actor=actor, action="oidc:client:update",
                 target=f"client:{client_id}", details={"changed": changed})
    session.flush()
    return client, changed


def _stored(spec: ClientSpec, name: str) -> Any:
    """A field as `clients.create` stores it (name trimmed, scope normalised)."""
    value = getattr(spec, name)
    if name == "name":
        return value.strip()
    if name == "scope":
        return " ".join(value.split())
    if name == "grant_types":
        return list(dict.fromkeys(value))
    return list(value) if isinstance(value, list) else value


def enable(session: Session, client_id: str, *, actor: str) -> Client:
    """Re-enable a disabled client (R-54): the reverse of `idp.oidc.clients.disable`.

    Through the ORM like `update`, so every process's client cache sees it on the next
    request. Tokens issued before the disabling stay dead; only new requests are accepted.
    """
    client = clients.get(session, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r}")
    if client.disabled:
        client.disabled = False
        audit.record(session, actor=actor, action="oidc:client:enable",
                     target=f"client:{client_id}")
    return client
