"""Registration pages (R-10, R-12) and re-signing the agreement (issue 3 item 6).

Thin views over `idp.realname.registration`: the registration id lives in the signed
Flask session cookie (``reg``), its state in the Store. Every form is CSRF-protected
(idp/csrf.py). After the agreement is signed the person is signed in with a fresh SSO
session, exactly as a password login would (`flow.begin_session`), and continues to the
waiting department system, if any.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from werkzeug.wrappers import Response as BaseResponse

from idp.crypto import mask_phone
from idp.login_tx import LoginTransaction
from idp.platform import current_platform
from idp.realname import agreements, linked, messages
from idp.realname.factors import SPECS, Factor
from idp.realname.reg_state import Registration, RegistrationError
from idp.realname.registration import ONLINE_DOCUMENTS
from idp.realname.wiring import registrations, states, trusted_platforms
from idp.web import flow
from idp.web.sso import current_sso

bp = Blueprint("register", __name__)
RECOVERY_PATH = "/password/forgot"
_SESSION_KEY = "reg"
Page = tuple[str, int] | BaseResponse


def _lang() -> str:
    return "en" if str(get_locale() or "").startswith("en") else "zh"


def error_text(exc: RegistrationError) -> tuple[int, str]:
    """The page's status and message for an outcome, in the page's language."""
    status, zh, en = messages.texts(exc)
    return status, en if _lang() == "en" else zh


def _agreement_text(a: agreements.Agreement) -> str:
    return a.text_en if _lang() == "en" else a.text


def _tx(reg: Registration | None = None) -> LoginTransaction | None:
    tx_id = reg.tx if reg is not None else request.args.get("tx")
    return current_platform().login_txs.load(tx_id) if tx_id else None


def _service():  # type: ignore[no-untyped-def]
    return registrations(current_platform(), flow.client_address())


def _current() -> Registration | None:
    try:
        return states(current_platform()).load(session.get(_SESSION_KEY))
    except RegistrationError:
        return None


def _restart() -> BaseResponse:
    session.pop(_SESSION_KEY, None)
    return redirect(url_for("register.start"))


# -- step 1 -------------------------------------------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
def start():  # type: ignore[no-untyped-def]
    """Name, document type and number (R-10); the population registry checks them."""
    tx = _tx()
    form = {"name": "", "id_type": "resident_id", "id_number": ""}
    if request.method == "GET":
        return _start_page(tx, form)
    for key, limit in (("name", 64), ("id_type", 32), ("id_number", 64)):
        value = flow.form_text(key, limit)
        if value is None:
            return _start_page(tx, form, RegistrationError("field_format"))
        form[key] = value
    from idp.web import federated  # one account per person across regions (issue 6)

    if form["id_number"] and federated.registered_elsewhere(form["id_type"], form["id_number"]):
        return federated.offer_existing_account(tx, form["id_type"], form["id_number"])
    try:
        reg = _service().start(channel="web", tx=tx.id if tx else None, **form)
    except RegistrationError as exc:
        return _start_page(tx, form, exc)
    session[_SESSION_KEY] = reg.id
    return redirect(url_for("register.verify"))


def _start_page(tx: LoginTransaction | None, form: dict[str, str],
                exc: RegistrationError | None = None) -> tuple[str, int]:
    status, error = error_text(exc) if exc else (200, None)
    return render_template(
        "register_start.html", tx=tx, tx_args=flow.tx_args(tx), form=form, error=error,
        id_types=list(ONLINE_DOCUMENTS), recovery=exc is not None
        and exc.code == "already_registered", recovery_url=RECOVERY_PATH,
        platforms=trusted_platforms(current_platform()).values()), status


# -- steps 2..n ---------------------------------------------------------------------------------

@bp.get("/register/verify")
def verify():  # type: ignore[no-untyped-def]
    """The further factors: at least two, any order (R-10)."""
    reg = _current()
    if reg is None:
        return _restart()
    if reg.linked is not None:
        return redirect(url_for("register.password"))
    return _verify_page(reg)


def _verify_page(reg: Registration, exc: RegistrationError | None = None,
                 active: str | None = None, values: dict[str, str] | None = None,
                 info: str | None = None) -> tuple[str, int]:
    status, error = error_text(exc) if exc else (200, None)
    return render_template(
        "register_verify.html", reg=reg, factors=[f.value for f in Factor],
        pending_phone=mask_phone(reg.phone_pending) if reg.phone_pending else None,
        error=error, active=active, values=values or {}, info=info,
        expires=states(current_platform()).expires_in(reg)), status


@bp.post("/register/verify/<factor>")
def submit_factor(factor: str):  # type: ignore[no-untyped-def]
    reg = _current()
    if reg is None:
        return _restart()
    try:
        kind = Factor(factor)
    except ValueError:
        return _verify_page(reg, RegistrationError("factor_unknown"))
    values = {}
    for name in SPECS[kind].fields:
        value = flow.form_text(name, 64)
        if value is None:
            return _verify_page(reg, RegistrationError("field_format"), factor)
        values[name] = value
    try:
        reg = _service().submit_factor(reg.id, factor, values)
    except RegistrationError as exc:
        return _verify_page(_current() or reg, exc, factor, values)
    if kind is Factor.PHONE:
        return _verify_page(reg, active="phone", info=_sent_text(reg))
    return redirect(url_for("register.verify"))


def _sent_text(reg: Registration) -> str:
    phone = mask_phone(reg.phone_pending or "")
    if _lang() == "en":
        return f"A code was sent to {phone}."
    return f"验证码已发送至 {phone}。"


@bp.post("/register/verify/phone/confirm")
def confirm_phone():  # type: ignore[no-untyped-def]
    reg = _current()
    if reg is None:
        return _restart()
    try:
        _service().confirm_phone(reg.id, flow.form_text("code", 16) or "")
    except RegistrationError as exc:
        return _verify_page(_current() or reg, exc, "phone")
    return redirect(url_for("register.verify"))


# -- password and agreement ---------------------------------------------------------------------

@bp.route("/register/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    reg = _current()
    if reg is None:
        return _restart()
    if not reg.factors_done:
        return redirect(url_for("register.verify"))
    if request.method == "GET":
        return render_template("register_password.html", reg=reg)
    new = flow.form_text("new_password", 256, strip=False) or ""
    confirm = flow.form_text("confirm_password", 256, strip=False) or ""
    try:
        if new and new != confirm:
            raise RegistrationError("password_mismatch")
        _service().set_password(reg.id, new)
    except RegistrationError as exc:
        status, error = error_text(exc)
        return render_template("register_password.html", reg=reg, error=error), status
    return redirect(url_for("register.agreement"))


@bp.route("/register/agreement", methods=["GET", "POST"])
def agreement():  # type: ignore[no-untyped-def]
    """Sign the agreement last; only then does the account exist (R-10)."""
    reg = _current()
    if reg is None:
        return _restart()
    if reg.password_hash is None:
        return redirect(url_for("register.password"))
    current = agreements.load(current_platform().settings.agreement_version)
    if request.method == "GET":
        return _agreement_page("register_agreement.html", current, reg=reg)
    try:
        if flow.form_text("accept", 8) != "yes":
            raise RegistrationError("agreement_unchecked")
        done = _service().finish(reg.id, flow.form_text("version", 32))
    except RegistrationError as exc:
        if exc.code in ("already_registered", "not_found"):
            session.pop(_SESSION_KEY, None)
            return _start_page(_tx(reg), {"name": "", "id_type": reg.id_type,
                                          "id_number": ""}, exc)
        return _agreement_page("register_agreement.html", current, exc, reg=reg)
    session.pop(_SESSION_KEY, None)
    with current_platform().db.session() as db:
        person = flow.accounts(db).get(done.person_id)
        assert person is not None
        return flow.begin_session(db, person, ["pwd"], _tx(reg))


def _agreement_page(template: str, current: agreements.Agreement,
                    exc: RegistrationError | None = None, **context: object) -> tuple[str, int]:
    status, error = error_text(exc) if exc else (200, None)
    return render_template(template, agreement=current, text=_agreement_text(current),
                           error=error, **context), status


# -- linked registration (R-12) -----------------------------------------------------------------

@bp.get("/register/linked/<name>")
def linked_start(name: str):  # type: ignore[no-untyped-def]
    entry = trusted_platforms(current_platform()).get(name)
    if entry is None:
        return _start_page(_tx(), {"name": "", "id_type": "resident_id", "id_number": ""},
                           RegistrationError("linked_refused"))
    tx = _tx()
    try:
        url = linked.begin(current_platform().store, entry, _callback_url(),
                           tx.id if tx else None)
    except RegistrationError as exc:
        return _start_page(tx, {"name": "", "id_type": "resident_id", "id_number": ""}, exc)
    return redirect(url)


def _callback_url() -> str:
    return current_platform().settings.issuer.rstrip("/") + url_for("register.linked_callback")


@bp.get("/register/linked/callback")
def linked_callback():  # type: ignore[no-untyped-def]
    """The trusted platform's answer: an identity starts a registration at the password."""
    p = current_platform()
    state = request.args.get("state")
    entry = trusted_platforms(p).get(linked.pending_platform(p.store, state) or "")
    blank = {"name": "", "id_type": "resident_id", "id_number": ""}
    if entry is None:
        return _start_page(None, blank, RegistrationError("linked_expired"))
    if request.args.get("error"):
        p.store.delete(f"linked:{state}")
        return _start_page(None, blank, RegistrationError("linked_refused"))
    try:
        reg = linked.complete(p.store, entry, _service(), state=state,
                              code=request.args.get("code"), redirect_uri=_callback_url())
    except RegistrationError as exc:
        return _start_page(None, blank, exc)
    session[_SESSION_KEY] = reg.id
    return redirect(url_for("register.password"))


# -- re-signing a new version (issue 3 item 6) --------------------------------------------------

@bp.route("/agreement", methods=["GET", "POST"])
def resign():  # type: ignore[no-untyped-def]
    """The pending ``agreement`` step of a login: sign the current version to continue."""
    tx = flow.load_tx()
    s = current_sso(include_pending=True)
    if s is None:
        return flow.to_login(tx)
    if "agreement" not in s.pending:
        return redirect(flow.next_url(s, tx))
    p = current_platform()
    current = agreements.load(p.settings.agreement_version)
    if request.method == "GET":
        return _agreement_page("agreement.html", current, tx_args=flow.tx_args(tx))
    if flow.form_text("accept", 8) != "yes" or flow.form_text("version", 32) != current.version:
        code = "agreement_unchecked" if flow.form_text("accept", 8) != "yes" else \
            "agreement_version"
        return _agreement_page("agreement.html", current, RegistrationError(code),
                               tx_args=flow.tx_args(tx))
    with p.db.session() as db:
        person = flow.accounts(db).get(s.person_id)
        if person is None:
            return flow.to_login(tx)
        agreements.accept(db, person.id, current, "web")
        from idp.accounts.lockout import record

        record(db, "agreement:accept", person=person, address=flow.client_address(),
               version=current.version)
    p.sessions.complete_step(s, "agreement")
    return redirect(flow.next_url(s, tx))


