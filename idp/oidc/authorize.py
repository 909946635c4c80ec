"""The authorization endpoint's flow (OIDC Core §3.1.2; DESIGN.md "How a login flows").

authlib validates the request; this module decides whether the browser must go to the
login pages (``/login?tx=…``), to the consent page, or back to the client with a code.
The same flow re-runs from a stored login transaction at ``/authorize/resume`` (or within
the login's last step, `idp.web.flow.onward`).
Requests that cannot be answered safely at the client (unknown client, unregistered
redirect URI) get an error page and no redirect (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Response, g, redirect, render_template
from flask_babel import gettext as _

from idp.audit import service as audit
from idp.login_tx import LoginTransaction
from idp.oidc import acting_logout, consent, hints
from idp.oidc.code import read_person
from idp.oidc.policy import (
    AuthorizationContext,
    LoginNeed,
    login_need,
    parse_max_age,
    prompts,
    refused_before_login,
    unmet_after_login,
)
from idp.oidc.server import IdpAuthorizationServer
from idp.oidc.tokens import AuthorizedPerson
from idp.platform import current_platform
from idp.store import Batch, batch
from idp.web import acting as acting_page
from idp.web.sso import current_sso

log = logging.getLogger(__name__)
MAX_PARAMS = 64
MAX_VALUE_LENGTH = 4096
MAX_HINT_LENGTH = 64


class PageError(Exception):
    """An authorization error that must not be sent to the (unverified) redirect URI."""


class ParamsPayload(OAuth2Payload):
    def __init__(self, multi: dict[str, list[str]]) -> None:
        self._multi = defaultdict(list, multi)
        self._data = {k: v[0] for k, v in multi.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._multi


class ParamsRequest(OAuth2Request):
    """An authorization request from any source: the query, a form, or a stored transaction."""

    def __init__(self, method: str, uri: str, multi: dict[str, list[str]]) -> None:
        super().__init__(method, uri, headers={})
        self.payload = ParamsPayload(multi)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


def handle(server: IdpAuthorizationServer, multi: dict[str, list[str]],
           tx: LoginTransaction | None = None, consent_given: bool | None = None) -> Response:
    """Answer one authorization request (fresh, resumed after login, or after consent)."""
    try:
        _check_size(multi)
        req = ParamsRequest("GET", server.settings.issuer.rstrip("/") + "/authorize", multi)
        return _run(server, req, tx, consent_given)
    except PageError as exc:
        return error_page(str(exc))
    except OAuth2Error as error:
        if error.redirect_uri and not error.state:
            error.state = multi.get("state", [None])[0]
        return _error_response(server, error)
    except ValueError:  # e.g. authlib refusing to echo a non-ASCII description
        return error_page(_("授权请求无效。"))


def _check_size(multi: dict[str, list[str]]) -> None:
    if len(multi) > MAX_PARAMS or any(len(v) > 4 or any(len(x) > MAX_VALUE_LENGTH for x in v)
                                      for v in multi.values()):
        raise PageError(_("授权请求过大。"))


def _error_response(server: IdpAuthorizationServer, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        resp = server.handle_response(*error())
        server.issuer_parameter.add_issuer_parameter(server, resp)
        return resp
    return error_page(_("授权请求无效(%(code)s)。", code=error.error or "invalid_request"))


def error_page(message: str, status: int = 400) -> Response:
    html = render_template("error.html", title=_("请求无效"), message=message, status=status)
    return Response(html, status=status, mimetype="text/html")


class RequestServer:
    """The authorization server as the grant of one authorization request sees it.

    authlib looks the client up again at each validation step (twice more per request);
    `query_client` answers those with the client this request already validated, so the
    client cache's version is read once per request — a disabled client is still refused
    from the next request on (client_cache.py). ``writes`` collects the request's Store
    writes (the code, the finished login transaction, the session's client list), sent
    in one round trip before the answer leaves (issue 2 "Performance").
    """

    def __init__(self, server: IdpAuthorizationServer, client: Any, writes: Batch) -> None:
        self._server = server
        self._client = client
        self.writes = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def query_client(self, client_id: Any) -> Any:
        if client_id == self._client.client_id:
            return self._client
        return self._server.query_client(client_id)


def _validated_client(server: IdpAuthorizationServer, req: ParamsRequest) -> Any:
    # The client cache's version is a watched key (store_watch.py): no round trip.
    client = server.query_client(req.payload.client_id)
    if client is None:
        raise PageError(_("未知的应用,或该应用已停用。"))
    redirect_uri = req.payload.redirect_uri
    if redirect_uri is not None and not client.check_redirect_uri(redirect_uri):
        raise PageError(_("回调地址未登记,已拒绝本次请求。"))
    if redirect_uri is None:
        raise PageError(_("缺少回调地址。"))
    return client


def _run(server: IdpAuthorizationServer, req: ParamsRequest, tx: LoginTransaction | None,
         consent_given: bool | None) -> Response:
    client = _validated_client(server, req)
    grant = server.get_authorization_grant(req)
    with batch(current_platform().store) as writes:
        grant.server = RequestServer(server, client, writes)
        return _decide(server, grant, req, client, tx, consent_given)


def _decide(server: IdpAuthorizationServer, grant: Any, req: ParamsRequest, client: Any,
            tx: LoginTransaction | None, consent_given: bool | None) -> Response:
    grant.validate_no_multiple_request_parameter(req)
    redirect_uri = grant.validate_authorization_request()
    data = req.payload.data
    try:
        prompt = prompts(data.get("prompt"))
        max_age = parse_max_age(data.get("max_age"))
        sso = current_sso()
        person = read_person(server.db(), sso.person_id) if sso else None
        mismatch = hints.id_token_hint_mismatch(server, data.get("id_token_hint"), client,
                                                person)
        login_after = tx.extra.get("login_after") if tx else None
        need = login_need(AuthorizationContext(sso, person, client, prompt, max_age,
                                               data.get("acr_values"), mismatch,
                                               login_after, int(time.time())))
        if need and tx is not None and tx.extra.get("kind") == "login":
            denial = unmet_after_login(need, client, data.get("acr_values"), sso)
            if denial:
                raise AccessDeniedError(denial)
            need.reasons = [r for r in need.reasons if r != "level"]  # acr_values: voluntary
        refusal = refused_before_login(need)
        if refusal:
            raise AccessDeniedError(refusal)
        if need:
            if "none" in prompt:
                raise LoginRequiredError()
            return _start_login(client, data, need)
        assert sso is not None and person is not None
        if consent_given is False:
            raise AccessDeniedError("The user denied the request.")
        # Issue 4 item 5: whom this authorization acts for (the chooser page, or a preset).
        chosen = acting_page.decide(server.db(), client, person, data, tx, prompt, sso.sid,
                                    login_after, server.remote_addr(),
                                    certificate_org=sso.acting_for)
        if isinstance(chosen, Response):
            return chosen
        if not consent_given and consent.needs_consent(server.db(), person.id, client,
                                                       req.scope or "", prompt):
            if "none" in prompt:
                raise ConsentRequiredError()
            return _ask_consent(client, data, req.scope or "", sso.sid, login_after,
                                chosen.authority.credit_code if chosen else "self")
    except OAuth2Error as error:
        error.redirect_uri = redirect_uri
        raise
    user = AuthorizedPerson(person, sso.sid, sso.auth_time, sso.acr, list(sso.amr),
                            sub=server.subject(client, person), acting=chosen)
    resp = server.create_authorization_response(req, grant_user=user, grant=grant)
    _after_code(server, resp, client.client_id, user, tx, grant.server.writes)
    return resp


def _after_code(server: IdpAuthorizationServer, resp: Response, client_id: str,
                user: AuthorizedPerson, tx: LoginTransaction | None, writes: Batch) -> None:
    platform = current_platform()
    if tx is not None:
        platform.login_txs.finish(tx.id, writes)
    if resp.status_code != 302 or "code=" not in (resp.location or ""):
        return
    if user.sid:  # back-channel logout must know who holds tokens of this session
        platform.sessions.add_client(user.sid, client_id, writes)
        if user.acting is not None:  # told by back-channel logout if the authority ends
            acting_logout.remember(platform, user.sid, client_id, user.person.id,
                                   user.acting.ref)
    audit.record(server.db(), actor=f"person:{user.person.id}", action="oidc:authorize",
                 target=f"client:{client_id}", address=server.remote_addr(),
                 details={"acr": user.acr, "amr": user.amr})


def _start_login(client: Any, data: dict[str, str], need: LoginNeed) -> Response:
    """Hand the request to the login pages (login_tx.py); they come back to resume."""
    tx = current_platform().login_txs.create(
        client_id=client.client_id, client_name=client.name, params=dict(data),
        min_level=need.min_level, force_login=need.force_login,
        need_mfa="mfa" in need.reasons,
        login_hint=(data.get("login_hint") or "")[:MAX_HINT_LENGTH],
        ui_locales=(data.get("ui_locales") or "")[:MAX_HINT_LENGTH],
        extra={"kind": "login", "login_after": int(time.time()), "reasons": need.reasons,
               "account_kinds": list(client.allowed_account_kinds or ["natural"])})
    log.info("login needed client=%s reasons=%s", client.client_id, ",".join(need.reasons))
    return redirect(f"/login?tx={tx.id}")


def _ask_consent(client: Any, data: dict[str, str], scope: str, sid: str,
                 login_after: int | None, acting_choice: str) -> Response:
    tx = current_platform().login_txs.create(
        client_id=client.client_id, client_name=client.name, params=dict(data),
        ui_locales=(data.get("ui_locales") or "")[:MAX_HINT_LENGTH],
        extra={"kind": "consent", "sid": sid, "scope": scope, "login_after": login_after,
               "acting": acting_choice})
    set_locale(tx.ui_locales)
    html = render_template("oidc/consent.html", tx=tx, client=client,
                           scopes=[s for s in scope.split() if s != "openid"])
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def set_locale(ui_locales: str) -> None:
    """Honour ``ui_locales`` (OIDC Core §3.1.2.1) on pages rendered after a redirect."""
    for tag in ui_locales.split():
        tag = tag.lower()
        if tag.startswith("zh"):
            g.locale = "zh_CN"
            return
        if tag.startswith("en"):
            g.locale = "en"
            return
