"""Delegated authority over the JSON API (R-42, R-54; issue 4 items 4 and 7).

Grant, apply (the grantor approves or refuses), change, cancel (cascades) and view, for
the platform's own apps only (the ``qr_app_clients`` setting, as for ``/me/...``): a
department system holding a person's token must not hand out an enterprise's authority.
Thin views over `idp.delegation.service.Delegation` and `idp.delegation.view.view`;
refusals keep their stable code as the problem type (``urn:idp:problem:<code>``) with the
status of `overview.STATUS_BY_CODE`, and nothing is changed.

Times are RFC 3339 with an offset; a grantee is named by ID number or bound phone and
answered with their masked name only. A person outside a legal person's tree gets 404
for it, as for an unknown credit code (except to apply, which needs only the code).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import Session

from idp.api.auth import require_bearer
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.delegation import overview
from idp.delegation.errors import DelegationError
from idp.delegation.models import Grant
from idp.delegation.scope import Scope
from idp.delegation.service import Delegation
from idp.delegation.tree import load_grant
from idp.delegation.view import ROLE_NONE, GrantView, TreeView, view
from idp.oidc.models import Client
from idp.orgs.models import LegalPerson
from idp.orgs.service import OrgError, Orgs
from idp.platform import current_platform

bp = Blueprint("delegation_api", __name__, url_prefix="/api/v1")
TAG = "Delegation 法人授权"

_PERSON = {"type": "object", "properties": {
    "sub": {"type": "string"}, "name": {"type": "string", "description": "masked"},
    "phone": {"type": "string", "description": "masked"}}}
_ITEM = {"type": "object", "required": ["client_id", "item"], "properties": {
    "client_id": {"type": "string", "maxLength": 64},
    "item": {"type": "string", "maxLength": 128, "description": "a service item, or * "
             "for the whole department system"}}}
_GRANT = schema("Grant", {"type": "object", "properties": {
    "id": {"type": "integer"}, "level": {"type": "integer", "minimum": 1, "maximum": 3},
    "parent_id": {"type": ["integer", "null"]}, "status": {"type": "string"},
    "credit_code": {"type": "string"}, "grantor": _PERSON, "grantee": _PERSON,
    "scope": {"type": "array", "items": _ITEM},
    "valid_from": {"type": "string", "format": "date-time"},
    "valid_until": {"type": "string", "format": "date-time"},
    "may_redelegate": {"type": "boolean"},
    "review_deadline": {"type": ["string", "null"], "format": "date-time"}}})
_GRANTS = {"type": "array", "items": _GRANT}
_TREE = schema("GrantTree", {"type": "object", "required": ["role"], "properties": {
    "role": {"type": "string", "enum": ["representative", "delegate"]},
    "org": {"type": "object"}, "tree": _GRANTS, "held": _GRANTS, "given": _GRANTS}})
_NEW_GRANT = schema("GrantRequest", {
    "type": "object", "required": ["grantee", "scope", "valid_until"], "properties": {
        "grantee": {"type": "string", "maxLength": 64, "description": "ID number or phone"},
        "scope": {"type": "array", "items": _ITEM, "maxItems": 200},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
        "may_redelegate": {"type": "boolean"},
        "parent_grant_id": {"type": "integer", "description": "the grant re-delegated"}}})
_APPLICATION = schema("GrantApplication", {
    "type": "object", "required": ["scope", "valid_until"], "properties": {
        "scope": {"type": "array", "items": _ITEM, "maxItems": 200},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
        "may_redelegate": {"type": "boolean"},
        "parent_grant_id": {"type": "integer", "description": "ask its holder, not the "
                            "representative"}}})
_CHANGE = schema("GrantChange", {"type": "object", "properties": {
    "scope": {"type": "array", "items": _ITEM, "maxItems": 200},
    "valid_from": {"type": "string", "format": "date-time"},
    "valid_until": {"type": "string", "format": "date-time"},
    "may_redelegate": {"type": "boolean"}}})
_AFFECTED = schema("GrantsAffected", {"type": "object", "properties": {
    "affected": {"type": "array", "items": {"type": "integer"}}}})
_ITEMS = schema("ServiceItems", {"type": "object", "properties": {
    "clients": {"type": "array", "items": {"type": "object", "properties": {
        "client_id": {"type": "string"}, "name": {"type": "string"},
        "items": {"type": "array", "items": {"type": "string"}},
        "names": {"type": "object", "description": "declared items: code → [zh-CN name, "
                  "English name]", "additionalProperties": {
                      "type": "array", "items": {"type": "string"}}}}}}}})
_POLICY = schema("ClientAccessPolicy", {"type": "object", "properties": {
    "client_id": {"type": "string"}, "name": {"type": "string"},
    "account_kinds": {"type": "array", "items": {"type": "string"}},
    "min_realname_level": {"type": "integer"}, "require_mfa": {"type": "boolean"},
    "service_items": {"type": "array", "items": {"type": "string"}}}})
_MINE = schema("MyGrants", {"type": "object", "properties": {
    "orgs": {"type": "array", "items": {"type": "object"}}, "held": _GRANTS,
    "given": _GRANTS}})


# -- plumbing --------------------------------------------------------------------------------

def _caller() -> int:
    """The person; only the platform's own apps may manage delegated authority."""
    raw = str(getattr(current_platform().settings, "qr_app_clients", "") or "")
    if g.api_caller.client_id not in {c for c in raw.replace(",", " ").split() if c}:
        raise ApiProblem(403, "client_not_allowed", "该应用不能管理法人授权",
                         "Only the platform's own apps may manage delegated authority.")
    return int(g.api_caller.person_id)


def refusal(exc: DelegationError | OrgError) -> ApiProblem:
    return ApiProblem(overview.status_for(exc.code), exc.code, exc.messages["zh"],
                      exc.messages["en"])


def _not_found(code: str, zh: str, en: str) -> ApiProblem:
    return ApiProblem(404, code, zh, en)


def _run(work: Callable[[Session, Delegation, int], Any]) -> Any:
    """One unit of work for the caller; a refusal rolls everything back."""
    person_id = _caller()
    platform = current_platform()
    try:
        with platform.db.session() as db:
            return work(db, Delegation.from_platform(db, platform), person_id)
    except (DelegationError, OrgError) as exc:
        raise refusal(exc) from None


def _no_store(resp: Response, status: int = 200) -> Response:
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _org(db: Session, credit_code: str) -> LegalPerson:
    org = Orgs(db).by_code(credit_code[:64])
    if org is None:
        raise DelegationError("org_not_found")
    return org


def _grant_of(db: Session, org: LegalPerson, grant_id: int) -> Grant:
    grant = load_grant(db, grant_id)
    if grant.legal_person_id != org.id:
        raise DelegationError("grant_not_found")
    return grant


def _time(body: dict[str, Any], name: str) -> dt.datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiProblem(422, "validation", "请求内容有误", f"{name} is not an RFC 3339 time "
                         "with an offset.", errors=[{"field": name, "code": "format"}])
    return value


def _scope(db: Session, raw: list[Any] | None) -> Scope | None:
    """Items as ``[{"client_id", "item"}]``; each must be offered by an enabled client."""
    if raw is None:
        return None
    # Scope.of refuses anything but pairs of valid strings (invalid_scope, 422).
    pairs: list[Any] = [(x.get("client_id"), x.get("item")) if isinstance(x, dict) else x
                        for x in raw]
    scope = Scope.of(pairs)
    overview.check_known_items(db, scope)
    return scope


# -- serialisation -----------------------------------------------------------------------------

def _grants_json(db: Session, views: tuple[GrantView, ...], credit_code: str
                 ) -> list[dict[str, Any]]:
    p = current_platform()
    from idp.accounts.service import Accounts

    subs = {v.grantor_sub for v in views} | {v.grantee_sub for v in views}
    people = overview.people(db, Accounts(db, p.protector, p.hasher), subs)
    blank = {"sub": "", "name": "", "phone": ""}
    return [{"id": v.id, "level": v.level, "parent_id": v.parent_id, "status": v.status,
             "credit_code": credit_code,
             "grantor": vars(people[v.grantor_sub]) if v.grantor_sub in people else blank,
             "grantee": vars(people[v.grantee_sub]) if v.grantee_sub in people else blank,
             "scope": [{"client_id": c, "item": i} for c, i in v.scope],
             "valid_from": v.valid_from.isoformat(), "valid_until": v.valid_until.isoformat(),
             "may_redelegate": v.may_redelegate,
             "review_deadline": v.review_deadline.isoformat() if v.review_deadline else None}
            for v in views]


def _org_json(org: LegalPerson) -> dict[str, str]:
    return {"credit_code": org.credit_code, "name": org.name, "kind": org.kind,
            "status": org.status}


def _tree_json(db: Session, org: LegalPerson, tv: TreeView) -> dict[str, Any]:
    return {"role": tv.role, "org": _org_json(org),
            "tree": _grants_json(db, tv.tree, org.credit_code),
            "held": _grants_json(db, tv.held, org.credit_code),
            "given": _grants_json(db, tv.given, org.credit_code)}


def _one(db: Session, org: LegalPerson, grant: Grant, person_id: int) -> dict[str, Any]:
    tv = view(db, person_id, org.id, include_ended=True)
    found = [v for v in (*tv.tree, *tv.held, *tv.given) if v.id == grant.id][:1]
    return _grants_json(db, tuple(found), org.credit_code)[0] if found else {"id": grant.id}


# -- reading -------------------------------------------------------------------------------------

@bp.get("/me/grants")
@operation("/api/v1/me/grants", "GET", summary="My enterprises and grants", tag=TAG,
           response=_MINE, problems=(403,))
@require_bearer("openid", person=True)
def my_grants() -> Response:
    """Legal persons I represent or hold or gave live authority for, and those grants."""
    def work(db: Session, _d: Delegation, me: int) -> dict[str, Any]:
        orgs, held, given = [], [], []
        for o in overview.my_orgs(db, me):
            orgs.append({"credit_code": o.credit_code, "name": o.name, "kind": o.kind,
                         "status": o.status, "role": o.role})
            tv = view(db, me, o.id)
            held += _grants_json(db, tv.held, o.credit_code)
            given += _grants_json(db, tv.given, o.credit_code)
        return {"orgs": orgs, "held": held, "given": given}

    return _no_store(jsonify(_run(work)))


@bp.get("/orgs/<credit_code>/grants")
@operation("/api/v1/orgs/{credit_code}/grants", "GET", summary="View an enterprise's grants",
           tag=TAG, response=_TREE, problems=(403, 404))
@require_bearer("openid", person=True)
def org_grants(credit_code: str) -> Response:
    """The representative sees the whole tree; a grantee what they hold and what they gave.
    ``?ended=1`` includes ended grants and refused applications."""
    ended = request.args.get("ended") == "1"

    def work(db: Session, _d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        tv = view(db, me, org.id, include_ended=ended)
        if tv.role == ROLE_NONE:
            raise DelegationError("org_not_found")
        return _tree_json(db, org, tv)

    return _no_store(jsonify(_run(work)))


@bp.get("/orgs/<credit_code>/service-items")
@operation("/api/v1/orgs/{credit_code}/service-items", "GET",
           summary="Service items I may grant", tag=TAG, response=_ITEMS, problems=(403, 404))
@require_bearer("openid", person=True)
def grantable_items(credit_code: str) -> Response:
    """For the representative every enabled system; with ``?parent_grant_id=`` what that
    grant's chain allows (empty when the caller does not hold it)."""
    raw = request.args.get("parent_grant_id")
    if raw is not None and not (raw.isdigit() and len(raw) < 18):
        raise ApiProblem(422, "validation", "请求内容有误", "Bad parent_grant_id.",
                         errors=[{"field": "parent_grant_id", "code": "type"}])

    def work(db: Session, _d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        offered = overview.offered_items(db, org, me, int(raw) if raw else None)
        return {"clients": [vars(c) | {"items": list(c.items)} for c in offered]}

    return _no_store(jsonify(_run(work)))


@bp.get("/clients/<client_id>/service-items")
@operation("/api/v1/clients/{client_id}/service-items", "GET",
           summary="A department system's access policy and service items", tag=TAG,
           response=_POLICY, problems=(403, 404))
@require_bearer("openid", person=True)
def client_policy(client_id: str) -> Response:
    """Account kinds served, minimum real-name level, second factor, service items (R-54)."""
    def work(db: Session, _d: Delegation, _me: int) -> dict[str, Any]:
        from sqlalchemy import select

        client = db.scalars(select(Client).where(Client.client_id == client_id[:64],
                                                 Client.disabled.is_(False))).one_or_none()
        if client is None:
            raise _not_found("client_not_found", "未找到该应用", "No such client.")
        return {"client_id": client.client_id, "name": client.name,
                "account_kinds": list(client.allowed_account_kinds),
                "min_realname_level": client.min_realname_level,
                "require_mfa": client.require_mfa,
                "service_items": list(overview.client_items(client))}

    return _no_store(jsonify(_run(work)))


# -- writing -------------------------------------------------------------------------------------

_WINDOW = {"valid_from": (str, 40), "valid_until": (str, 40), "may_redelegate": (bool, 1),
           "parent_grant_id": (int, 0)}


def find_grantee(db: Session, me: int, identifier: str) -> int:
    """The person named by ID number or bound phone; lookups are limited per caller."""
    from idp.accounts.service import Accounts

    p = current_platform()
    retry_in = overview.lookup_allowed(p.limiter, me)
    if retry_in:
        raise ApiProblem(429, "lookup_limited", *overview.LOOKUPS_LIMITED,
                         retry_after=retry_in)
    person = Accounts(db, p.protector, p.hasher).by_identifier(identifier)
    if person is None:
        raise _not_found("person_not_found", *overview.PERSON_NOT_FOUND)
    return person.id


@bp.post("/orgs/<credit_code>/grants")
@operation("/api/v1/orgs/{credit_code}/grants", "POST", summary="Grant authority", tag=TAG,
           request=_NEW_GRANT, response=_GRANT, status=201,
           problems=(403, 404, 409, 422, 429))
@require_bearer("openid", person=True)
def grant(credit_code: str) -> Response:
    """Level 1 by the representative; with ``parent_grant_id`` a re-delegation (R-42)."""
    body = json_body({"grantee": (str, 64), "scope": (list, 200), **_WINDOW},
                     optional=frozenset(_WINDOW))

    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        scope = _scope(db, body["scope"])
        grantee = find_grantee(db, me, body["grantee"])
        until = _time(body, "valid_until")
        made = d.grant(me, org.id, grantee, scope, until,  # type: ignore[arg-type]
                       valid_from=_time(body, "valid_from"),
                       may_redelegate=bool(body["may_redelegate"]),
                       parent_grant_id=body["parent_grant_id"], address=_address())
        return _one(db, org, made, me)

    return _no_store(jsonify(_run(work)), 201)


@bp.post("/orgs/<credit_code>/grants/applications")
@operation("/api/v1/orgs/{credit_code}/grants/applications", "POST",
           summary="Apply for a grant", tag=TAG, request=_APPLICATION, response=_GRANT,
           status=201, problems=(403, 404, 409, 422))
@require_bearer("openid", person=True)
def apply(credit_code: str) -> Response:
    """Ask the representative (or the holder of ``parent_grant_id``); they are told by SMS."""
    body = json_body({"scope": (list, 200), **_WINDOW}, optional=frozenset(_WINDOW))

    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        made = d.apply(me, org.id, _scope(db, body["scope"]),  # type: ignore[arg-type]
                       _time(body, "valid_until"),  # type: ignore[arg-type]
                       valid_from=_time(body, "valid_from"),
                       may_redelegate=bool(body["may_redelegate"]),
                       parent_grant_id=body["parent_grant_id"], address=_address())
        return _one(db, org, made, me)

    return _no_store(jsonify(_run(work)), 201)


def _decide(credit_code: str, grant_id: int, approve: bool) -> Response:
    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        _grant_of(db, org, grant_id)
        done = d.approve(me, grant_id, address=_address()) if approve \
            else d.refuse(me, grant_id, address=_address())
        return _one(db, org, done, me)

    return _no_store(jsonify(_run(work)))


@bp.post("/orgs/<credit_code>/grants/<int:grant_id>/approve")
@operation("/api/v1/orgs/{credit_code}/grants/{grant_id}/approve", "POST",
           summary="Approve an application", tag=TAG, response=_GRANT,
           problems=(403, 404, 409))
@require_bearer("openid", person=True)
def approve(credit_code: str, grant_id: int) -> Response:
    """The grantor approves; every rule is checked again on today's tree."""
    return _decide(credit_code, grant_id, True)


@bp.post("/orgs/<credit_code>/grants/<int:grant_id>/refuse")
@operation("/api/v1/orgs/{credit_code}/grants/{grant_id}/refuse", "POST",
           summary="Refuse an application", tag=TAG, response=_GRANT,
           problems=(403, 404, 409))
@require_bearer("openid", person=True)
def refuse(credit_code: str, grant_id: int) -> Response:
    """The grantor refuses; the applicant is told by SMS."""
    return _decide(credit_code, grant_id, False)


@bp.patch("/orgs/<credit_code>/grants/<int:grant_id>")
@operation("/api/v1/orgs/{credit_code}/grants/{grant_id}", "PATCH", summary="Change a grant",
           tag=TAG, request=_CHANGE, response=_AFFECTED, problems=(403, 404, 409, 422))
@require_bearer("openid", person=True)
def change(credit_code: str, grant_id: int) -> Response:
    """Narrowing takes effect at once and cascades; widening is bounded by the grantor."""
    fields = {"scope": (list, 200), "valid_from": (str, 40), "valid_until": (str, 40),
              "may_redelegate": (bool, 1)}
    body = json_body(fields, optional=frozenset(fields))

    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        _grant_of(db, org, grant_id)
        affected = d.change(me, grant_id, scope=_scope(db, body["scope"]),
                            valid_from=_time(body, "valid_from"),
                            valid_until=_time(body, "valid_until"),
                            may_redelegate=body["may_redelegate"], address=_address())
        return {"affected": [g.id for g in affected]}

    return _no_store(jsonify(_run(work)))


@bp.delete("/orgs/<credit_code>/grants/<int:grant_id>")
@operation("/api/v1/orgs/{credit_code}/grants/{grant_id}", "DELETE",
           summary="Cancel a grant and everything below it", tag=TAG, response=_AFFECTED,
           problems=(403, 404, 409))
@require_bearer("openid", person=True)
def cancel(credit_code: str, grant_id: int) -> Response:
    """By a grantor above it; by the grantee to renounce it or withdraw an application."""
    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _org(db, credit_code)
        _grant_of(db, org, grant_id)
        return {"affected": [g.id for g in d.cancel(me, grant_id, address=_address())]}

    return _no_store(jsonify(_run(work)))


def _address() -> str:
    return request.remote_addr or "-"
