"""Review of the previous representative's grants over the JSON API (R-21; issue 4 item 3).

After a change of legal representative, the new one lists the grants awaiting review (each
level-1 grant with its subtree and deadline) and keeps them; cancelling is the ordinary
``DELETE /api/v1/orgs/{credit_code}/grants/{grant_id}`` (it cascades). Un-kept grants stop
working at the deadline (`idp.delegation.authority.authority_of`). Same callers, refusals
and serialisation as `idp.delegation.api`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from idp.api.auth import require_bearer
from idp.api.openapi import operation, schema
from idp.delegation.api import TAG, _address, _grant_of, _grants_json, _no_store, _one, _org, _run
from idp.delegation.errors import DelegationError
from idp.delegation.representative import keep_grant, pending_review
from idp.delegation.service import Delegation
from idp.delegation.tree import subtree
from idp.delegation.view import view

bp = Blueprint("delegation_review_api", __name__, url_prefix="/api/v1")

_REVIEW = schema("GrantReview", {"type": "object", "required": ["review"], "properties": {
    "review": {"type": "array", "description": "level-1 grants of a previous representative "
               "awaiting keep or cancel, each with the grants below it", "items": {
                   "type": "object", "properties": {
                       "grant": {"$ref": "#/components/schemas/Grant"},
                       "below": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Grant"}}}}}}})
_KEPT = schema("GrantKept", {"type": "object", "properties": {
    "grant": {"$ref": "#/components/schemas/Grant"}}})


def _as_representative(me: int, org: Any) -> Any:
    """Only the current representative reviews; anyone else learns nothing (404)."""
    if me != org.representative_person_id:
        raise DelegationError("org_not_found")  # no hint that the enterprise exists
    return org


def under_review(db: Session, d: Delegation, me: int, org: Any) -> list[dict[str, Any]]:
    """Grants awaiting the representative's review, each with its live subtree."""
    _as_representative(me, org)
    pending = pending_review(d, org.id)
    views = {v.id: v for v in view(db, me, org.id).tree}
    out = []
    for grant in pending:
        below = [views[g.id] for g in subtree(db, grant) if g.id in views]
        out.append({"grant": _grants_json(db, (views[grant.id],), org.credit_code)[0],
                    "below": _grants_json(db, tuple(below), org.credit_code)})
    return out


@bp.get("/orgs/<credit_code>/review")
@operation("/api/v1/orgs/{credit_code}/review", "GET",
           summary="Grants of the previous representative awaiting review", tag=TAG,
           response=_REVIEW, problems=(403, 404))
@require_bearer("openid", person=True)
def inherited_grants(credit_code: str) -> Response:
    """For the current representative only; each grant stays valid until its
    ``review_deadline`` unless kept."""
    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        return {"review": under_review(db, d, me, _org(db, credit_code))}

    return _no_store(jsonify(_run(work)))


@bp.post("/orgs/<credit_code>/grants/<int:grant_id>/keep")
@operation("/api/v1/orgs/{credit_code}/grants/{grant_id}/keep", "POST",
           summary="Keep a grant of the previous representative", tag=TAG, response=_KEPT,
           problems=(403, 404, 409))
@require_bearer("openid", person=True)
def keep_inherited_grant(credit_code: str, grant_id: int) -> Response:
    """The grant becomes the new representative's, with no deadline; its subtree stays.
    To cancel instead: ``DELETE /api/v1/orgs/{credit_code}/grants/{grant_id}``."""
    def work(db: Session, d: Delegation, me: int) -> dict[str, Any]:
        org = _as_representative(me, _org(db, credit_code))
        _grant_of(db, org, grant_id)
        return {"grant": _one(db, org, keep_grant(d, me, grant_id, address=_address()), me)}

    return _no_store(jsonify(_run(work)))
