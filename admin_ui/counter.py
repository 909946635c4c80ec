"""Console pages for counter services: read the card, register, reset, print (R-11, R-40, R-50).

Issue 5 items 2 and 3. The card-reader agent posts card reads to the JSON API
(`admin_ui.counter_api`); this page lists the clerk's open cases, and offers manual entry
when there is no reader. Each step is one POST guarded by its action in
`admin_ui.permissions`; the work is done by `idp.accounts.counter.CounterDesk`.

A new password is shown once, on the answer to the POST that made it (``no-store``), and
printed from there on a slip (``counter_print.css``); it is kept nowhere.
"""

from __future__ import annotations

from flask import make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin_ui import agreement_access as access
from admin_ui.agreement_pdf import load_signed, pdf_response
from admin_ui.auth import address, console, current_staff, staff_required
from admin_ui.counter_phone import PhoneDesk, needs_approval
from admin_ui.counter_phone_approval import PhoneApprovals
from admin_ui.counter_text import FIELD_LABELS, MESSAGES, STATUS, field_message
from admin_ui.views import bp
from idp.accounts.counter import CounterCase, CounterError
from idp.accounts.counter_card import CARD_DOCUMENTS, TEXT_FIELDS, CardError, parse_card
from idp.accounts.service import Accounts
from idp.crypto import mask_phone
from idp.platform import current_platform
from idp.realname import agreements


def desk() -> PhoneDesk:
    s = current_staff()
    assert s is not None and s.complete  # staff_required ran first
    return PhoneDesk(current_platform(), member_id=s.member_id, actor=s.actor,
                     address=address(), hall=s.department)


def _no_store(body: str, status: int = 200):  # type: ignore[no-untyped-def]
    resp = make_response(body, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _error(exc: CounterError) -> str:
    text = _(MESSAGES.get(exc.code, "办理失败,请重试。"))
    if exc.code == "code_wrong" and exc.remaining is not None:
        text += " " + _("还可尝试 %(n)s 次。", n=exc.remaining)
    return text


def _home(errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
          error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    return _no_store(render_template(
        "admin/counter_home.html", cases=desk().cases(), errors=errors or {},
        form=form or {}, error=error, labels=FIELD_LABELS, doc_types=list(CARD_DOCUMENTS)),
        status)


@bp.get("/counter")
@staff_required("counter.card_read")
def counter():  # type: ignore[no-untyped-def]
    return _home()


@bp.post("/counter/card")
@staff_required("counter.card_read")
def counter_manual_card():  # type: ignore[no-untyped-def]
    """Manual entry, the fallback when the card reader is broken (R-11)."""
    form = {name: request.form.get(name, "")[:256] for name in TEXT_FIELDS}
    try:
        card = parse_card(form, source="manual")
        case = desk().read_card(card)
    except CardError as exc:
        return _home({e["field"]: _(field_message(e["code"])) for e in exc.errors}, form,
                     status=422)
    except CounterError as exc:
        return _home(form=form, error=_error(exc), status=STATUS.get(exc.code, 400))
    return redirect(url_for("admin.counter_case", case_id=case.id))


def _account_summary(case: CounterCase) -> dict[str, object] | None:
    if case.person_id is None:
        return None
    with current_platform().db.session() as session:
        p = current_platform()
        person = Accounts(session, p.protector, p.hasher).get(case.person_id)
        if person is None:
            return None
        return {"level": person.realname_level, "status": person.status,
                "has_phone": person.phone_index is not None}


def _case_page(case_id: str, error: str = "", status: int = 200,
               notice: str = ""):  # type: ignore[no-untyped-def]
    try:
        case = desk().load(case_id)
    except CounterError as exc:
        return _home(error=_error(exc), status=404)
    return _no_store(render_template(
        "admin/counter_case.html", case=case, card=case.card, account=_account_summary(case),
        masked_phone=mask_phone(case.phone) if case.phone else "",
        version=current_platform().settings.agreement_version, error=error,
        notice=notice), status)


@bp.get("/counter/cases/<case_id>")
@staff_required("counter.card_read")
def counter_case(case_id: str):  # type: ignore[no-untyped-def]
    return _case_page(case_id)


@bp.post("/counter/cases/<case_id>/sms")
@staff_required("counter.register")
def counter_send_code(case_id: str):  # type: ignore[no-untyped-def]
    try:
        desk().send_code(case_id, request.form.get("phone", "")[:32])
    except CounterError as exc:
        return _case_page(case_id, _error(exc), STATUS.get(exc.code, 400))
    return _case_page(case_id, notice=_("验证码已发送,请申请人读出或在键盘上输入。"))


@bp.post("/counter/cases/<case_id>/verify")
@staff_required("counter.register")
def counter_verify_code(case_id: str):  # type: ignore[no-untyped-def]
    try:
        desk().verify_code(case_id, request.form.get("code", "")[:16])
    except CounterError as exc:
        return _case_page(case_id, _error(exc), STATUS.get(exc.code, 400))
    return _case_page(case_id, notice=_("手机验证通过。"))


@bp.post("/counter/cases/<case_id>/activate")
@staff_required("counter.register")
def counter_activate(case_id: str):  # type: ignore[no-untyped-def]
    """Open (or upgrade) the account; a new password is shown on this answer only."""
    try:
        done = desk().activate(case_id, agreement_signed=request.form.get("signed") == "yes",
                               agreement_version=request.form.get("version", "")[:32])
    except CounterError as exc:
        return _case_page(case_id, _error(exc), STATUS.get(exc.code, 400))
    return _no_store(render_template("admin/counter_done.html", kind="register", done=done))


@bp.post("/counter/cases/<case_id>/password-reset")
@staff_required("counter.password_reset")
def counter_password_reset(case_id: str):  # type: ignore[no-untyped-def]
    """R-40: a new random password handed over, every session ended."""
    try:
        done = desk().reset_password(case_id)
    except CounterError as exc:
        return _case_page(case_id, _error(exc), STATUS.get(exc.code, 400))
    return _no_store(render_template("admin/counter_done.html", kind="reset", done=done))


@bp.post("/counter/cases/<case_id>/phone-change")
@staff_required("counter.phone_change")
def counter_phone_change(case_id: str):  # type: ignore[no-untyped-def]
    """R-41 counter route: bind the verified new number; every session ends."""
    d = desk()
    try:
        if needs_approval(d.check_ready(case_id)):  # typed-in card: a colleague signs off
            PhoneApprovals(current_platform()).request(d, case_id)
            return _case_page(case_id, status=202, notice=_(
                "手工录入证件的换绑已提交复核:请同厅另一位工作人员或主管在“换绑复核”中"
                "核对证件原件后确认。"))
        done = d.change_phone(case_id)
    except CounterError as exc:
        return _case_page(case_id, _error(exc), STATUS.get(exc.code, 400))
    return _no_store(render_template("admin/counter_done.html", kind="phone", done=done))


@bp.get("/counter/cases/<case_id>/agreement")
@staff_required("counter.print_agreement")
def counter_case_agreement(case_id: str):  # type: ignore[no-untyped-def]
    """The current agreement with the applicant's masked details, to print and sign."""
    try:
        case = desk().load(case_id)
    except CounterError as exc:
        return _home(error=_error(exc), status=404)
    agreement = agreements.load(current_platform().settings.agreement_version)
    s = current_staff()
    assert s is not None
    with current_platform().db.session() as session:  # the clerk's own open case
        access.record(session, actor=s.actor, address=address(), fmt="blank",
                      why={"basis": "case"}, target=f"case:{case.id[:8]}")
    return _no_store(render_template(
        "admin/counter_agreement.html", agreement=agreement, accepted=None,
        account={"id_number": case.masked_number, "name": case.masked_name,
                 "id_type": case.card["id_type"],
                 "phone": mask_phone(case.phone) if case.phone else ""}))


def _print(person_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """(signed agreement, reprint reason) when ``current_staff`` may print it (audited),
    else the answer: 403 asking for a reprint reason, 422 for a bad one, 404 (R-50)."""
    s = current_staff()
    assert s is not None
    p = current_platform()
    reason = request.args.get("reason", "")[:256]
    try:
        with p.db.session() as session:
            why = access.basis(session, s.actor, person_id, reason)
            signed = load_signed(session, p.protector, p.hasher, person_id,
                                 p.settings.agreement_version)
            if signed is not None:
                access.record(session, actor=s.actor, address=address(), fmt=fmt, why=why,
                              target=f"person:{person_id}")
    except access.PrintRefused as exc:
        if exc.code == "not_own_case":
            console().deny(s, access.ACTION, exc.code, address())
        return None, _no_store(render_template(
            "admin/counter_reprint.html", person_id=person_id, fmt=fmt,
            bad_reason=exc.code == "reason"), 403 if exc.code == "not_own_case" else 422)
    if signed is None:
        return None, _home(error=_("账号不存在。"), status=404)
    return signed, why.get("reason")


@bp.get("/counter/persons/<int:person_id>/agreement")
@staff_required("counter.print_agreement")
def counter_agreement(person_id: int):  # type: ignore[no-untyped-def]
    """R-50: the print view of the signed agreement with the account's masked details.

    For a person whose case this clerk handled; others only with ``?reason=`` (reprint)."""
    signed, other = _print(person_id, "view")
    if signed is None:
        return other
    return _no_store(render_template("admin/counter_agreement.html", agreement=signed.agreement,
                                     accepted=signed.accepted, account=signed.account,
                                     person_id=person_id, reprint_reason=other))


@bp.get("/counter/persons/<int:person_id>/agreement.pdf")
@staff_required("counter.print_agreement")
def counter_agreement_pdf(person_id: int):  # type: ignore[no-untyped-def]
    """R-50: the same agreement as a PDF download (masked details only), same rule."""
    signed, other = _print(person_id, "pdf")
    if signed is None:
        return other
    s = current_staff()
    assert s is not None
    return pdf_response(signed, clerk=f"{s.display_name} · {s.department}", person_id=person_id)
