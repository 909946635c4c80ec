"""Account-centre pages for legal persons' delegated authority (R-42; issue 4 item 4).

``/account/orgs``: my enterprises (as representative or grantee); each enterprise's tree
(the representative sees all of it, a grantee what they hold and gave); grant (the grantee
named by ID number or bound phone, confirmed by their masked name and phone before
anything is made), apply, approve or refuse, change, and cancel (after a confirmation
that says how many grants below it end too). Thin views over
`idp.delegation.service.Delegation`; every page re-checks the session.

Refusals show the message `DelegationError` carries in the page's language (its zh/en
pair; not duplicated into the gettext catalogue) with the status of
`overview.STATUS_BY_CODE`. Dates are read and shown as China time (UTC+8); an end date
means the end of that day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from idp.accounts.models import Person
from idp.db import utcnow
from idp.delegation import overview
from idp.delegation.errors import DelegationError
from idp.delegation.models import Grant, GrantStatus
from idp.delegation.scope import Scope
from idp.delegation.service import Delegation
from idp.delegation.tree import load_grant, scope_of, subtree
from idp.delegation.view import ROLE_NONE, GrantView, view
from idp.orgs.models import LegalPerson
from idp.orgs.service import OrgError, Orgs
from idp.platform import current_platform
from idp.web import flow

bp = Blueprint("delegation", __name__, url_prefix="/account/orgs")
CHINA = dt.timezone(dt.timedelta(hours=8))
DEFAULT_DAYS = 30
MAX_ITEMS = 200
Page = tuple[str, int] | BaseResponse


class BadForm(Exception):
    """A form field the service never saw: shown like a refusal, status 400."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.messages = {"zh": zh, "en": en}


def _lang() -> str:
    return "en" if str(get_locale() or "").startswith("en") else "zh"


def refusal_text(exc: DelegationError | OrgError | BadForm) -> str:
    return exc.messages[_lang()]


def _status(exc: DelegationError | OrgError | BadForm) -> int:
    return 400 if isinstance(exc, BadForm) else overview.status_for(exc.code)


# -- dates (China time) ----------------------------------------------------------------------

def local_date(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d")


def end_date(at: dt.datetime) -> str:
    """The day an end time belongs to (an end at midnight closes the day before)."""
    return local_date(at - dt.timedelta(seconds=1))


def _date(name: str) -> dt.date | None:
    raw = flow.form_text(name, 10)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadForm("日期格式无效,请按 年-月-日 填写", "Invalid date; use YYYY-MM-DD") from None


def until_from_form() -> dt.datetime:
    """The end of the chosen day, China time; the field is required."""
    day = _date("valid_until")
    if day is None:
        raise BadForm("请填写授权有效期的结束日期", "Enter the end date of the validity")
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), CHINA)


def from_from_form() -> dt.datetime | None:
    """The start of the chosen day, or None (now) for an empty field or today."""
    day = _date("valid_from")
    if day is None or day <= utcnow().astimezone(CHINA).date():
        return None
    return dt.datetime.combine(day, dt.time(), CHINA)


def scope_from_form(db: Session) -> Scope:
    """Checked items ``"<client_id> <item>"``; each must be offered by an enabled client."""
    values = request.form.getlist("item")
    if len(values) > MAX_ITEMS or any(len(v) > 200 for v in values):
        raise DelegationError("invalid_scope")
    pairs = [tuple(v.split(" ", 1)) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise DelegationError("invalid_scope")
    scope = Scope.of(pairs)  # type: ignore[arg-type]
    overview.check_known_items(db, scope)
    return scope


# -- shared page pieces ------------------------------------------------------------------------

def _signed_in(db: Session) -> Person | None:
    found = flow.signed_in_person(db)
    return found[1] if found is not None else None


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


def _delegation(db: Session) -> Delegation:
    return Delegation.from_platform(db, current_platform())


def _names(db: Session, views: list[GrantView]) -> dict[str, Any]:
    """Masked people and client names for rendering ``views``."""
    subs = {v.grantor_sub for v in views} | {v.grantee_sub for v in views}
    return {"people": overview.people(db, flow.accounts(db), subs),
            "clients": overview.client_names(db, {c for v in views for c, _ in v.scope})}


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, local_date=local_date, end_date=end_date,
                           **context), status


# -- my enterprises and one tree -------------------------------------------------------------

@bp.get("")
def orgs() -> Page:
    """Legal persons I represent, or hold or gave authority for."""
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        return _page("delegation_orgs.html", orgs=overview.my_orgs(db, person.id),
                     done=request.args.get("done", ""))


def _tree_page(db: Session, person: Person, credit_code: str, status: int = 200,
               error: str = "", done: str = "") -> Page:
    try:
        org = _org(db, credit_code)
    except DelegationError as exc:
        return _page("delegation_orgs.html", 404, orgs=overview.my_orgs(db, person.id),
                     error=refusal_text(exc))
    tv = view(db, person.id, org.id, include_ended=request.args.get("ended") == "1")
    if tv.role == ROLE_NONE:  # outside the tree: as if unknown
        return _page("delegation_orgs.html", 404, orgs=overview.my_orgs(db, person.id),
                     error=refusal_text(DelegationError("org_not_found")))
    children: dict[int | None, list[GrantView]] = {}
    for v in tv.tree:
        children.setdefault(v.parent_id, []).append(v)
    return _page("delegation_tree.html", status, org=org, tv=tv, me=person.sub,
                 children=children, error=error, done=done,
                 ended=request.args.get("ended") == "1",
                 **_names(db, [*tv.tree, *tv.held, *tv.given]))


@bp.get("/<credit_code>")
def tree(credit_code: str) -> Page:
    """The authority tree: nested for the representative; held and given for a grantee."""
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        return _tree_page(db, person, credit_code, done=request.args.get("done", ""))


# -- grant and apply ---------------------------------------------------------------------------

def _parent_arg() -> int | None:
    raw = request.values.get("parent", "")
    return int(raw) if raw.isdigit() and len(raw) < 18 else None


def _form_state() -> dict[str, Any]:
    """What the person typed, to show the form again unchanged."""
    return {"identifier": flow.form_text("identifier", 64) or "",
            "checked": set(request.form.getlist("item")[:MAX_ITEMS]),
            "valid_until": flow.form_text("valid_until", 10) or "",
            "valid_from": flow.form_text("valid_from", 10) or "",
            "may_redelegate": request.form.get("may_redelegate") == "1"}


def _default_state() -> dict[str, Any]:
    until = utcnow().astimezone(CHINA).date() + dt.timedelta(days=DEFAULT_DAYS)
    return {"identifier": "", "checked": set(), "valid_until": until.isoformat(),
            "valid_from": "", "may_redelegate": False}


@bp.route("/<credit_code>/grant", methods=["GET", "POST"])
def grant(credit_code: str) -> Page:
    """Grant authority; ``?parent=`` re-delegates a grant I hold. Two steps: the first
    POST shows the grantee's masked name and phone, the second (``confirm``) grants."""
    parent = _parent_arg()
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        try:
            org = _org(db, credit_code)
        except DelegationError as exc:
            return _tree_page(db, person, credit_code, 404, refusal_text(exc))
        offered = overview.offered_items(db, org, person.id, parent)
        if not offered:
            return _tree_page(db, person, credit_code, 403,
                              refusal_text(DelegationError("not_authorised")))
        context: dict[str, Any] = {"org": org, "offered": offered, "parent": parent}
        if request.method == "GET":
            return _page("delegation_grant.html", state=_default_state(), **context)
        state = _form_state()
        try:
            grantee_id, grantee = _grantee(db, person, state["identifier"])
            scope = scope_from_form(db)
            until, start = until_from_form(), from_from_form()
            if request.form.get("action") != "confirm":
                return _page("delegation_grant.html", state=state, confirm=grantee, **context)
            made = _delegation(db).grant(
                person.id, org.id, grantee_id, scope, until, valid_from=start,
                may_redelegate=state["may_redelegate"], parent_grant_id=parent,
                address=flow.client_address())
            made_id = made.id
        except (DelegationError, OrgError, BadForm) as exc:
            db.rollback()
            return _page("delegation_grant.html", _status(exc), state=state,
                         error=refusal_text(exc), **context)
    return redirect(url_for("delegation.tree", credit_code=org.credit_code,
                            done="granted", _anchor=f"g{made_id}"))


def _grantee(db: Session, person: Person, identifier: str
             ) -> tuple[int, overview.PersonSummary]:
    """The person named by ID number or bound phone, masked for the confirmation."""
    if not identifier:
        raise BadForm("请填写被授权人的证件号码或手机号",
                      "Enter the grantee's ID number or phone")
    if overview.lookup_allowed(current_platform().limiter, person.id):
        raise BadForm(*overview.LOOKUPS_LIMITED)
    found = flow.accounts(db).by_identifier(identifier)
    if found is None:
        raise BadForm(*overview.PERSON_NOT_FOUND)
    return found.id, overview.summary(flow.accounts(db), found)


@bp.route("/apply", methods=["GET", "POST"])
def apply() -> Page:
    """Ask an enterprise's representative for authority; they approve or refuse."""
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        offered = overview.all_items(db)
        if request.method == "GET":
            return _page("delegation_apply.html", offered=offered, state=_default_state(),
                         credit_code="")
        state = _form_state()
        credit_code = flow.form_text("credit_code", 64) or ""
        try:
            org = _org(db, credit_code)
            made = _delegation(db).apply(
                person.id, org.id, scope_from_form(db), until_from_form(),
                valid_from=from_from_form(), may_redelegate=state["may_redelegate"],
                address=flow.client_address())
            code, made_id = org.credit_code, made.id
        except (DelegationError, OrgError, BadForm) as exc:
            db.rollback()
            return _page("delegation_apply.html", _status(exc), offered=offered, state=state,
                         credit_code=credit_code, error=refusal_text(exc))
    return redirect(url_for("delegation.tree", credit_code=code, done="applied",
                            _anchor=f"g{made_id}"))


# -- approve, refuse, change, cancel -----------------------------------------------------------

def _act(credit_code: str, grant_id: int, work: Any, done: str) -> Page:
    """Run ``work(delegation, person, grant)``; back to the tree with the outcome."""
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        try:
            org = _org(db, credit_code)
            _grant_of(db, org, grant_id)
            work(_delegation(db), person, grant_id)
        except (DelegationError, OrgError) as exc:
            db.rollback()
            return _tree_page(db, person, credit_code, _status(exc), refusal_text(exc))
    return redirect(url_for("delegation.tree", credit_code=org.credit_code, done=done))


@bp.post("/<credit_code>/grants/<int:grant_id>/approve")
def approve(credit_code: str, grant_id: int) -> Page:
    return _act(credit_code, grant_id, lambda d, p, g: d.approve(
        p.id, g, address=flow.client_address()), "approved")


@bp.post("/<credit_code>/grants/<int:grant_id>/refuse")
def refuse(credit_code: str, grant_id: int) -> Page:
    return _act(credit_code, grant_id, lambda d, p, g: d.refuse(
        p.id, g, address=flow.client_address()), "refused")


@bp.route("/<credit_code>/grants/<int:grant_id>/cancel", methods=["GET", "POST"])
def cancel(credit_code: str, grant_id: int) -> Page:
    """Confirm first: the page says how many grants below this one end with it."""
    if request.method == "POST":
        return _act(credit_code, grant_id, lambda d, p, g: d.cancel(
            p.id, g, address=flow.client_address()), "cancelled")
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        try:
            org, v, g = _visible(db, person, credit_code, grant_id)
        except DelegationError as exc:
            return _tree_page(db, person, credit_code, _status(exc), refusal_text(exc))
        below = len(subtree(db, g)) if g.status in (GrantStatus.ACTIVE.value,) else 0
        return _page("delegation_cancel.html", org=org, g=v, below=below, me=person.sub,
                     **_names(db, [v]))


def _visible(db: Session, person: Person, credit_code: str, grant_id: int
             ) -> tuple[LegalPerson, GrantView, Grant]:
    """The live grant as the person may see it; a grant they cannot see is unknown."""
    org = _org(db, credit_code)
    grant = _grant_of(db, org, grant_id)
    tv = view(db, person.id, org.id)
    found = [v for v in (*tv.tree, *tv.held, *tv.given) if v.id == grant_id]
    if not found:
        raise DelegationError("grant_not_found")
    return org, found[0], grant


@bp.route("/<credit_code>/grants/<int:grant_id>/change", methods=["GET", "POST"])
def change(credit_code: str, grant_id: int) -> Page:
    """Change scope, end date and the right to re-delegate; narrowing cascades at once."""
    with current_platform().db.session() as db:
        person = _signed_in(db)
        if person is None:
            return flow.to_login()
        try:
            org, v, g = _visible(db, person, credit_code, grant_id)
        except DelegationError as exc:
            return _tree_page(db, person, credit_code, _status(exc), refusal_text(exc))
        # Widening is bounded by the grantor's authority: offer what the grantor could give.
        grantor = org.representative_person_id if g.parent_grant_id is None \
            else load_grant(db, g.parent_grant_id).grantee_person_id
        offered = overview.offered_items(db, org, grantor, g.parent_grant_id)
        current = {"identifier": "", "checked": {f"{c} {i}" for c, i in scope_of(g).pairs()},
                   "valid_until": end_date(g.valid_until), "valid_from": "",
                   "may_redelegate": g.may_redelegate}
        context: dict[str, Any] = {"org": org, "g": v, "offered": offered,
                                   **_names(db, [v])}
        if request.method == "GET":
            return _page("delegation_change.html", state=current, **context)
        state = _form_state()
        try:
            until = None if state["valid_until"] == current["valid_until"] \
                else until_from_form()
            _delegation(db).change(person.id, grant_id, scope=scope_from_form(db),
                                   valid_until=until, may_redelegate=state["may_redelegate"],
                                   address=flow.client_address())
        except (DelegationError, OrgError, BadForm) as exc:
            db.rollback()
            return _page("delegation_change.html", _status(exc), state=state,
                         error=refusal_text(exc), **context)
    return redirect(url_for("delegation.tree", credit_code=org.credit_code, done="changed"))
