"""The "act for whom?" step of an authorization (issue 4 item 5; R-42, R-54).

Between login and consent, when the client's policy serves ``legal_acting``: offer
"myself" (if the client also serves natural persons) and every legal person the person
may act for at this client, live from `grants_for_client`. ``org_hint=<credit code>``
presets a covering choice; anything else shows the chooser — never act silently. The
choice is kept in the login transaction (then the consent transaction, then the code),
so it belongs to this one authorization; two clients in one SSO session act apart.

An enterprise certificate sign-in (R-23, ``SsoSession.acting_for``) proved its enterprise
and nothing else (the key's holder need not be the representative): it acts for that
enterprise only — never "myself", never another legal person the representative holds.
When the enterprise covers the client, no chooser; an ``org_hint`` naming another one shows
the chooser with the certificate's enterprise alone (an unknown hint is ignored); not
covering: ``access_denied``.
(At natural-person-only clients such a session is refused, `idp.oidc.policy`.)
The choice is audited once, when it is made: not again when the consent page resumes it.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.core.errors import AccountSelectionRequiredError
from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.delegation.authority import Authority
from idp.delegation.notify import local_time
from idp.login_tx import LoginTransaction
from idp.oidc import acting
from idp.oidc.acting import Acting
from idp.platform import current_platform
from idp.web.sso import current_sso

bp = Blueprint("acting", __name__)
SELF = "self"
_CHOICE_LIMIT = 32
NO_AUTHORITY = "No authority to act for a legal person at this client."
CERTIFICATE_NOT_COVERING = ("The enterprise certificate's organisation has no authority at "
                            "this client; sign in personally (prompt=login) to act otherwise.")


def decide(db: Session, client: Any, person: Person, data: dict[str, str],
           tx: LoginTransaction | None, prompt: set[str], sid: str,
           login_after: int | None, address: str,
           certificate_org: str | None = None) -> Acting | Response | None:
    """The authority this authorization acts under, None for "myself", or the chooser.

    ``certificate_org``: the credit code an enterprise certificate sign-in proved.
    """
    if not acting.serves_acting(client):
        return None
    found = acting.options(db, person.id, client.client_id)
    natural = acting.serves_natural(client)
    chosen = tx.extra.get("acting") if tx is not None else None
    if certificate_org:  # scoped to the certificate's enterprise (module docstring)
        others = {a.credit_code for a in found} - {certificate_org}
        found = [a for a in found if a.credit_code == certificate_org]
        natural = False
        if found and data.get("org_hint") in others and chosen is None:
            # The client asked for another enterprise the representative holds: say which
            # one this sign-in can act for instead of silently swapping it.
            if "none" in prompt:
                raise AccountSelectionRequiredError()
            return _chooser(client, data, found, sid, login_after, allow_self=False)
    if chosen == SELF and natural:
        return None
    for how, hint in (("chooser", chosen), ("org_hint", data.get("org_hint")),
                      ("certificate", certificate_org)):
        picked = acting.by_hint(found, hint if isinstance(hint, str) else None)
        if picked is not None:
            resumed = tx is not None and tx.extra.get("kind") == "consent"
            return _chosen(db, person, client, picked, address, how, audited=resumed)
    if not found:
        if natural:
            return None
        raise AccessDeniedError(CERTIFICATE_NOT_COVERING if certificate_org else NO_AUTHORITY)
    if "none" in prompt:
        raise AccountSelectionRequiredError()
    return _chooser(client, data, found, sid, login_after, allow_self=natural)


def _chosen(db: Session, person: Person, client: Any, authority: Authority, address: str,
            how: str, *, audited: bool) -> Acting:
    if not audited:  # the consent page resumes a choice already recorded
        audit.record(db, actor=f"person:{person.sub}", action="oidc:acting_for",
                     target=f"org:{authority.credit_code}", address=address,
                     details={"client": client.client_id, "role": authority.role,
                              "level": authority.level, "grant": authority.grant_id,
                              "via": how})
    return Acting.of(authority, client, current_platform().settings.secret_key)


def _chooser(client: Any, data: dict[str, str], found: list[Authority], sid: str,
             login_after: int | None, *, allow_self: bool) -> Response:
    from idp.oidc.authorize import MAX_HINT_LENGTH, set_locale

    tx = current_platform().login_txs.create(
        client_id=client.client_id, client_name=client.name, params=dict(data),
        ui_locales=(data.get("ui_locales") or "")[:MAX_HINT_LENGTH],
        extra={"kind": "acting", "sid": sid, "login_after": login_after})
    set_locale(tx.ui_locales)
    html = render_template("acting_choose.html", tx=tx, client=client, options=found,
                           allow_self=allow_self,
                           hinted=bool(data.get("org_hint")), local_time=local_time)
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/authorize/acting")
def choose() -> Response:
    """The chooser form (CSRF-checked like every page form); resumes the authorization."""
    from idp.oidc import authorize
    from idp.oidc.views import _in_transaction, server

    platform = current_platform()
    tx = platform.login_txs.load(request.form.get("tx"))
    sso = current_sso()
    choice = request.form.get("choice") or ""
    if tx is None or tx.extra.get("kind") != "acting" or sso is None \
            or sso.sid != tx.extra.get("sid") or len(choice) > _CHOICE_LIMIT:
        return authorize.error_page(_("选择页面已过期,请返回原网站重试。"))
    platform.login_txs.finish(tx.id)
    tx.extra["acting"] = choice or SELF
    multi = {k: [v] for k, v in tx.params.items() if isinstance(v, str)}
    return _in_transaction(lambda: authorize.handle(server(), multi, tx))
