"""Legal-person pages: open an enterprise account online, change its representative (R-20,
R-21, R-23) — for a signed-in real-name person; the service is idp/orgs/opening.py.

``/org`` lists what I represent; ``/org/verify/<method>`` proves the enterprise by one of
four methods; ``/org/confirm/<verification>`` shows the result and the agreement, and opens
the account or changes the representative; ``/org/<code>`` shows an account to its
representative, with the previous representative's grants awaiting review (keep here, or
cancel through the delegation pages' confirmation) and the licence images, downloadable only
as attachments.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from idp.accounts.models import Person
from idp.delegation import overview
from idp.delegation.errors import DelegationError
from idp.delegation.notify import local_time
from idp.delegation.representative import keep_grant, pending_review
from idp.delegation.service import Delegation
from idp.delegation.tree import load_grant, subtree
from idp.orgs import licence
from idp.orgs.opening import Evidence, OpeningError, for_platform
from idp.orgs.service import Orgs
from idp.platform import current_platform
from idp.realname import agreements
from idp.web import flow
from idp.web.delegation import refusal_text

bp = Blueprint("orgs", __name__, url_prefix="/org")
METHODS = ("registry", "licence", "elicence", "certificate")
UPLOAD_SLACK = 64 * 1024


@bp.url_value_preprocessor
def _allow_licence_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the app's CSRF check parses the form: let the licence image through.
    if endpoint == "orgs.verify" and (values or {}).get("method") == "licence" \
            and request.method == "POST":
        request.max_content_length = (
            current_platform().settings.licence_image_max_bytes + UPLOAD_SLACK)


def _lang() -> str:
    return "en" if str(get_locale() or "").startswith("en") else "zh"


def _error(exc: OpeningError) -> str:
    return exc.messages[_lang()]


def _signed_in() -> Any:
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
    return found[1] if found else None


@bp.get("")
def home():  # type: ignore[no-untyped-def]
    """The legal persons I represent, and the ways to open one."""
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        orgs = Orgs(db).represented_by(found[1].id)
        return render_template("org_home.html", orgs=orgs, methods=METHODS)


@bp.route("/verify/<method>", methods=["GET", "POST"])
def verify(method: str):  # type: ignore[no-untyped-def]
    """Prove the enterprise by one method; success goes to the confirmation page."""
    if method not in METHODS:
        abort(404)
    person = _signed_in()
    if person is None:
        return flow.to_login()
    service = for_platform(current_platform(), flow.client_address())
    if request.method == "GET":
        challenge = service.certificate_challenge(person.id) if method == "certificate" else ""
        return render_template("org_verify.html", method=method, challenge=challenge, form={})
    form = {k: flow.form_text(k, 65536 if k == "chain" else 2048)
            for k in ("credit_code", "name", "representative", "licence", "chain",
                      "challenge", "signature")}
    if any(v is None for v in form.values()):
        abort(400)  # a repeated or oversized field: an ambiguous form is a client error
    try:
        ev = _run(service, method, person.id, form)
    except OpeningError as exc:
        challenge = service.certificate_challenge(person.id) if method == "certificate" else ""
        return render_template("org_verify.html", method=method, challenge=challenge,
                               form=form, error=_error(exc)), exc.status
    return redirect(url_for("orgs.confirm", evidence_id=ev.id))


def _run(service: Any, method: str, person_id: int, form: dict[str, Any]) -> Evidence:
    if method == "registry":
        return service.by_registry(person_id, form["credit_code"])  # type: ignore[no-any-return]
    if method == "licence":
        upload = request.files.get("image")
        return service.by_licence(  # type: ignore[no-any-return]
            person_id, form["credit_code"], form["name"], form["representative"],
            upload.read() if upload else None)
    if method == "elicence":
        return service.by_elicence(person_id, form["licence"])  # type: ignore[no-any-return]
    return service.by_certificate(  # type: ignore[no-any-return]
        person_id, form["chain"], form["challenge"], form["signature"])


@bp.route("/confirm/<evidence_id>", methods=["GET", "POST"])
def confirm(evidence_id: str):  # type: ignore[no-untyped-def]
    """Show what was verified and the agreement; open, or change the representative."""
    person = _signed_in()
    if person is None:
        return flow.to_login()
    service = for_platform(current_platform(), flow.client_address())
    try:
        ev = service.evidence(person.id, evidence_id)
    except OpeningError as exc:
        return render_template("org_home.html", orgs=[], methods=METHODS,
                               error=_error(exc)), exc.status
    existing = service.existing(ev)
    action = "open" if existing is None else (
        "none" if existing.representative_person_id == person.id else "change")
    agreement = agreements.load(current_platform().settings.agreement_version)
    text = agreement.text_en if _lang() == "en" else agreement.text
    page = dict(ev=ev, action=action, agreement=agreement, text=text)
    if request.method == "GET":
        return render_template("org_confirm.html", **page)
    if flow.form_text("accept", 8) != "yes" or flow.form_text("version", 32) != agreement.version:
        return render_template("org_confirm.html", error=_("请阅读并同意服务协议后继续。"),
                               **page), 400
    try:
        if action == "change":
            done = service.change(person.id, ev.id, channel="web")
        else:
            done = service.open(person.id, ev.id, channel="web")
    except OpeningError as exc:
        return render_template("org_confirm.html", error=_error(exc), **page), exc.status
    return redirect(url_for("orgs.detail", credit_code=done.org.credit_code,
                            done="changed" if done.changed else "opened"))


def _represented(db: Any, credit_code: str) -> tuple[Any, Any] | None:
    """The signed-in person and the account they represent (None: not signed in); 404 for
    anyone but its current representative, so the page never hints that it exists."""
    found = flow.signed_in_person(db)
    if found is None:
        return None
    org = Orgs(db).by_code(credit_code)
    if org is None or org.representative_person_id != found[1].id:
        abort(404)
    return found[1], org


@bp.get("/<credit_code>")
def detail(credit_code: str):  # type: ignore[no-untyped-def]
    """One account, to its current representative only (anyone else: 404)."""
    p = current_platform()
    with p.db.session() as db:
        mine = _represented(db, credit_code)
        if mine is None:
            return flow.to_login()
        return _detail_page(db, mine[1], request.args.get("done", ""))


def _detail_page(db: Any, org: Any, done: str, error: str = "",
                 status: int = 200) -> tuple[str, int]:
    review = pending_review(Delegation.from_platform(db, current_platform()), org.id)
    return render_template("org_detail.html", org=org, review=review_rows(db, review),
                           images=licence.images_of(db, org.id), done=done,
                           error=error, local_time=local_time), status


def review_rows(db: Any, review: list[Any]) -> list[dict[str, Any]]:
    """Each grant awaiting review and the grants below it, with grantees (masked)."""
    below = {g.id: subtree(db, g) for g in review}
    everyone = {x.grantee_person_id for g in review for x in (g, *below[g.id])}
    subs = dict(db.execute(select(Person.id, Person.sub).where(
        Person.id.in_(everyone))).all()) if everyone else {}
    names = overview.people(db, flow.accounts(db), set(subs.values()))

    def name(grant: Any) -> str:
        found = names.get(subs.get(grant.grantee_person_id, ""))
        return found.name if found is not None else ""

    return [{"g": g, "grantee": name(g),
             "below": [{"g": x, "grantee": name(x)} for x in below[g.id]]} for g in review]


@bp.post("/<credit_code>/review/<int:grant_id>/keep")
def keep(credit_code: str, grant_id: int):  # type: ignore[no-untyped-def]
    """保留: the new representative keeps a previous representative's grant (R-21)."""
    p = current_platform()
    with p.db.session() as db:
        mine = _represented(db, credit_code)
        if mine is None:
            return flow.to_login()
        person, org = mine
        try:
            if load_grant(db, grant_id).legal_person_id != org.id:
                raise DelegationError("grant_not_found")
            keep_grant(Delegation.from_platform(db, p), person.id, grant_id,
                       address=flow.client_address())
        except DelegationError as exc:
            db.rollback()
            return _detail_page(db, org, "", refusal_text(exc),
                                overview.status_for(exc.code))
        code = org.credit_code
    return redirect(url_for("orgs.detail", credit_code=code, done="kept"))


@bp.get("/<credit_code>/licence/<public_id>")
def licence_image(credit_code: str, public_id: str):  # type: ignore[no-untyped-def]
    """The stored licence image as a download, never rendered inline or as HTML."""
    with current_platform().db.session() as db:
        mine = _represented(db, credit_code)
        if mine is None:
            return flow.to_login()
        org = mine[1]
        image = licence.find(db, org.id, public_id[:64])
        if image is None:
            abort(404)
        name = f"licence-{org.credit_code}.{licence.extension_of(image.content_type)}"
        resp = Response(image.data, mimetype=image.content_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers.update(licence.ATTACHMENT_HEADERS)
    return resp
