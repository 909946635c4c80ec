"""CAS endpoints: a thin Flask blueprint (CAS Protocol 3.0 §2).

``/cas/login`` decides between a ticket, the login pages (``/login?tx=…``, which come back
to ``/cas/login/resume``) and, for ``gateway``, a ticketless return; ``/cas/logout`` ends
the SSO session with single logout; the validation endpoints answer XML or JSON.
Unregistered services get an error page and never a redirect (no open redirect).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.sessions import SsoSession
from idp.audit import service as audit
from idp.cas import acting, policy, slo
from idp.cas import responses as r
from idp.cas import services as registry
from idp.cas.models import CasService
from idp.cas.tickets import ServiceTicket, ServiceTickets, ticket_ttl
from idp.cas.validate import is_set, parse, record_failure, response_format, validate
from idp.login_tx import LoginTransaction
from idp.oidc import logout
from idp.platform import current_platform
from idp.web.sso import clear_sso_cookie, current_sso

log = logging.getLogger(__name__)
bp = Blueprint("cas", __name__, url_prefix="/cas")
RESUME_PATH = "/cas/login/resume"
LOGIN_PARAMS = ("service", "renew", "gateway", "method")


def _address() -> str:
    return request.remote_addr or "-"


def error_page(message: str, status: int = 400) -> Response:
    html = render_template("error.html", title=_("请求无效"), message=message, status=status)
    return Response(html, status=status, mimetype="text/html")


def _single(names: tuple[str, ...]) -> dict[str, str] | None:
    """The named query parameters, or None when one is repeated or oversized."""
    found = {}
    for name in names:
        values = request.args.getlist(name)
        if len(values) > 1 or (values and len(values[0]) > registry.MAX_SERVICE_URL):
            return None
        if values:
            found[name] = values[0]
    return found


def with_ticket(url: str, ticket: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}ticket={ticket}"


# -- login (§2.1, §2.2) ------------------------------------------------------------------------


@bp.get("/login")
def login() -> Response:
    args = _single(LOGIN_PARAMS)
    if args is None:
        return error_page(_("登录请求无效。"))
    url = args.get("service")
    if not url:  # §2.1.1: no service — simply the platform's own login / account centre
        return redirect("/login")  # type: ignore[return-value]
    with current_platform().db.session() as db:
        service = registry.find(db, url)
        if service is None:
            log.info("cas login refused: unregistered service")
            return error_page(_("该应用未登记,已拒绝本次登录请求。"), 403)
        return _answer(db, service, url, is_set(args.get("renew")),
                       is_set(args.get("gateway")), None)


@bp.get("/login/resume")
def login_resume() -> Response:
    """Where the login pages send the browser back (login_tx.py ``extra["resume"]``)."""
    platform = current_platform()
    tx = platform.login_txs.load(request.args.get("tx"))
    if tx is None or tx.extra.get("kind") != "cas_login":
        return error_page(_("登录已过期,请返回原网站重新发起登录。"))
    url = tx.params.get("service", "")
    with platform.db.session() as db:
        service = registry.find(db, url)
        if service is None or service.client_key != tx.client_id:
            platform.login_txs.finish(tx.id)
            return error_page(_("该应用未登记,已拒绝本次登录请求。"), 403)
        return _answer(db, service, url, tx.params.get("renew") == "1", False, tx)


def _answer(db: Session, service: CasService, url: str, renew: bool, gateway: bool,
            tx: LoginTransaction | None) -> Response:
    """A ticket, a login, a ticketless return (gateway) or a refusal."""
    sso = current_sso()
    person = db.get(Person, sso.person_id) if sso else None
    login_after = tx.extra.get("login_after") if tx else None
    need = policy.login_need(service, sso, person, renew=renew, login_after=login_after)
    if need and tx is not None and sso is not None:
        denial = policy.denial_after_login(need)
        if denial:
            return _deny(db, service, sso, denial, tx)
    if need and gateway and tx is None:
        return redirect(url)  # type: ignore[return-value]  # §2.1.1 gateway: no credentials
    if need and sso is not None and policy.refused_before_login(need, sso):
        return _deny(db, service, sso, "account_kind_not_allowed", tx)
    if need:
        return _start_login(service, url, renew, need)
    assert sso is not None and person is not None
    authority = acting.for_ticket(db, service, sso)
    if sso.acting_for and acting.serves_acting(service) and authority is None:
        return _deny(db, service, sso, "no_authority", tx)
    fresh = login_after is not None and sso.auth_time >= login_after
    st = ServiceTicket(service.id, url, person.id, person.sub, sso.sid, sso.epoch,
                       sso.auth_time, sso.acr, list(sso.amr), from_new_login=fresh,
                       acting=acting.ActingRef.of(authority).dump() if authority else None)
    platform = current_platform()
    ticket = ServiceTickets(platform.store, ticket_ttl(platform.settings)).issue(st)
    slo.remember(platform, sso.sid, service, url, ticket)
    audit.record(db, actor=f"person:{person.id}", action="cas:ticket:issued",
                 target=service.client_key, address=_address(),
                 details={"acr": sso.acr, "amr": list(sso.amr), "renew": renew,
                         **({"org": authority.credit_code, "role": authority.role}
                            if authority else {})})
    if tx is not None:
        platform.login_txs.finish(tx.id)
    return redirect(with_ticket(url, ticket))  # type: ignore[return-value]


def _deny(db: Session, service: CasService, sso: SsoSession, reason: str,
          tx: LoginTransaction | None) -> Response:
    """A refusal page (CAS has no error redirect), audited, with a reason people can act on."""
    if tx is not None:
        current_platform().login_txs.finish(tx.id)
    audit.record(db, actor=f"person:{sso.person_id}", action="cas:login:denied",
                 outcome="failure", target=service.client_key, address=_address(),
                 details={"reason": reason})
    if reason == "account_kind_not_allowed" and sso.acting_for:
        message = _("您当前使用企业证书登录(代表企业办事),该应用只为个人办事提供服务。"
                    "请退出后以个人身份登录。")
    elif reason == "account_kind_not_allowed":
        message = _("该应用只接受代表企业办事的登录,请使用企业证书登录。")
    elif reason == "no_authority":
        message = _("您已无权代表该企业使用此应用。")
    else:
        message = _("您的账号不满足该应用的访问要求(实名等级或二次验证)。")
    return error_page(message, 403)


def _start_login(service: CasService, url: str, renew: bool, need: policy.LoginNeed) -> Response:
    tx = current_platform().login_txs.create(
        client_id=service.client_key, client_name=service.name,
        params={"service": url, "renew": "1" if renew else ""},
        min_level=need.min_level, force_login=need.force_login,
        need_mfa="mfa" in need.reasons,
        extra={"kind": "cas_login", "resume": RESUME_PATH, "login_after": int(time.time()),
               "reasons": need.reasons,
               "account_kinds": list(service.allowed_account_kinds or ["natural"])})
    log.info("cas login needed service=%s reasons=%s", service.client_key,
             ",".join(need.reasons))
    return redirect(f"/login?tx={tx.id}")  # type: ignore[return-value]


# -- logout (§2.3) -----------------------------------------------------------------------------


@bp.get("/logout")
def logout_view() -> Response:
    """End the SSO session; single logout to every service and client (§2.3.3)."""
    args = _single(("service", "url"))
    platform = current_platform()
    sso = current_sso(include_pending=True)
    notices: list[logout.LogoutNotice] = []
    target = None
    with platform.db.session() as db:
        if sso is not None:
            notices = logout.end_browser_session(platform, db, sso.sid, "cas_logout",
                                                 address=_address())
            audit.record(db, actor=f"person:{sso.person_id}", action="cas:logout",
                         target=f"person:{sso.person_id}", address=_address(),
                         details={"services": sorted(n.client_id for n in notices)})
        url = (args or {}).get("service") or (args or {}).get("url")
        service = registry.find(db, url) if url else None
        if service is not None and service.allow_logout_redirect:
            target = url
    logout.send_notices(platform, notices)
    resp: Response = (redirect(target) if target  # type: ignore[assignment]
                      else Response(render_template("oidc/logged_out.html"),
                                    mimetype="text/html"))
    clear_sso_cookie(resp)
    return resp


# -- validation (§2.5-§2.8) --------------------------------------------------------------------


def _xml_or_json(body: str, fmt: str) -> Response:
    mimetype = "application/json" if fmt == "JSON" else "application/xml"
    resp = Response(body, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _validate(*, proxy: bool, attributes: bool) -> Response:
    multi = {k: request.args.getlist(k) for k in request.args}
    fmt = response_format(multi)
    try:
        with current_platform().db.session() as db:
            try:
                req = parse(multi)
                user, attrs = validate(current_platform(), db, req, proxy=proxy,
                                       attributes=attributes, address=_address())
                return _xml_or_json(r.success(user, attrs, fmt), fmt)
            except r.CasError as error:
                record_failure(db, error, _address())
                return _xml_or_json(r.failure(error, fmt), fmt)
    except Exception:  # §2.5.3 INTERNAL_ERROR: a store or database failure, never a 500
        log.exception("cas validation failed")
        internal = r.CasError(r.INTERNAL_ERROR, "An internal error occurred during validation.")
        return _xml_or_json(r.failure(internal, fmt), fmt)


@bp.get("/serviceValidate")
def service_validate() -> Response:
    return _validate(proxy=False, attributes=False)


@bp.get("/proxyValidate")
def proxy_validate() -> Response:
    return _validate(proxy=True, attributes=False)


@bp.get("/p3/serviceValidate")
def p3_service_validate() -> Response:
    return _validate(proxy=False, attributes=True)


@bp.get("/p3/proxyValidate")
def p3_proxy_validate() -> Response:
    return _validate(proxy=True, attributes=True)


@bp.get("/proxy")
def proxy() -> Response:
    """§2.7: no proxy-granting tickets are issued, so every proxy request is refused."""
    multi = {k: request.args.getlist(k) for k in request.args}
    fmt = response_format(multi)
    if [len(multi.get(k, [])) for k in ("pgt", "targetService")] != [1, 1]:
        error = r.CasError(r.INVALID_REQUEST, "'pgt' and 'targetService' are required.")
    else:
        error = r.CasError(r.UNAUTHORIZED_SERVICE_PROXY, "Proxy authentication is not enabled.")
    return _xml_or_json(r.failure(error, fmt, "proxyFailure"), fmt)
