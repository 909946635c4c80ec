"""The integration self-check page (issue 7 item 6, R-60; docs/integration §11).

A department developer enters their ``client_id`` and signs in as a TEST citizen through
the platform's login pages, under the client's name and real policy (minimum level, second
factor, account kinds). Instead of a code for the client, the browser comes back here and
sees the decoded ID token, userinfo and enterprise claims the client would receive
(`preview`), with the registration checks of `selfcheck`.

Safe by construction: the page is off unless ``IDP_SELFCHECK_TEST_ACCOUNTS`` names test
citizens, only they are shown anything, no code or signed token is ever made, and every
use (and refusal) is audited.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from idp.audit import service as audit
from idp.integration.preview import preview
from idp.integration.selfcheck import check_registration
from idp.login_tx import LoginTransaction
from idp.oidc import clients as client_service
from idp.oidc.models import Client
from idp.platform import current_platform
from idp.web import flow

bp = Blueprint("selfcheck", __name__, url_prefix="/integration/selfcheck",
               template_folder="templates")
RESULT_PATH = "/integration/selfcheck/result"
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_CREDIT_CODE = re.compile(r"[0-9A-Z]{18}")
# The rules of `selfcheck.check_registration` in the page's language (its details are English).
URI_KINDS = {"redirect": _l("回调地址"), "post-logout": _l("退出后跳转地址"),
             "backchannel": _l("退出通知地址")}
RULES = {"https": _l("使用 HTTPS(本机回环地址可用 HTTP)"), "no-fragment": _l("不含 # 片段"),
         "exact": _l("完整地址,不含通配符"), "absolute": _l("绝对地址"),
         "registered": _l("已登记"), "reachable": _l("平台可以访问"),
         "rejects-invalid": _l("对无效的退出令牌返回 400")}


def rule_label(rule: str) -> str:
    kind, _sep, check = rule.partition(":")
    return f"{URI_KINDS.get(kind, kind)}:{RULES.get(check, check)}"


def test_accounts() -> set[str]:
    """The ID numbers of the test citizens (upper-case: an X check digit matches either way)."""
    raw = current_platform().settings.selfcheck_test_accounts
    return {n.strip().upper() for n in re.split(r"[\s,]+", raw) if n.strip()}


@bp.before_request
def _enabled() -> None:
    if not test_accounts():
        abort(404)  # off (production default): the page does not exist


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def _usable_client(client_id: str | None) -> Client | None:
    if not client_id or not _CLIENT_ID.fullmatch(client_id):
        return None
    with current_platform().db.session() as db:
        client = client_service.get(db, client_id)
        if client is None or client.disabled:
            return None
        db.expunge(client)
        return client


@bp.get("")
def start() -> tuple[str, int]:
    return _page("selfcheck_start.html")


@bp.post("")
def begin() -> BaseResponse | tuple[str, int]:
    """Check the client, then sign in as a test citizen under its name and policy."""
    client_id = flow.form_text("client_id", 64)
    org = (flow.form_text("org", 32) or "").upper()
    client = _usable_client(client_id)
    if client is None:
        return _page("selfcheck_start.html", 400, client_id=client_id or "",
                     error=_("没有这个应用,或应用已停用。请核对 client_id。"))
    if org and not _CREDIT_CODE.fullmatch(org):
        return _page("selfcheck_start.html", 400, client_id=client_id,
                     error=_("统一社会信用代码应为 18 位数字或大写字母。"))
    tx = current_platform().login_txs.create(
        client_id=client.client_id, client_name=client.name, params={},
        min_level=max(client.min_realname_level, 1), force_login=True,
        need_mfa=client.require_mfa,
        # No redirect_uri in params: /authorize/resume can never issue a code for this.
        extra={"kind": "login", "selfcheck": True, "resume": RESULT_PATH, "org": org,
               "login_after": int(time.time()),
               "account_kinds": list(client.allowed_account_kinds or ["natural"])})
    return redirect(url_for("login.password_login", tx=tx.id))


def _selfcheck_tx() -> LoginTransaction | None:
    tx = current_platform().login_txs.load(request.args.get("tx"))
    return tx if tx is not None and tx.extra.get("selfcheck") is True else None


@bp.get("/result")
def result() -> BaseResponse | tuple[str, int]:
    """The decoded tokens for the freshly signed-in test citizen (single use per sign-in)."""
    platform = current_platform()
    tx = _selfcheck_tx()
    if tx is None:
        return _page("selfcheck_start.html", 400,
                     error=_("自检请求已过期,请重新开始。"))
    with platform.db.session() as db:
        found = flow.signed_in_person(db)
        if found is None or found[0].auth_time < int(tx.extra.get("login_after", 0)):
            return flow.to_login(tx)  # only a sign-in made for this self-check counts
        sso, person = found
        client = client_service.get(db, tx.client_id)
        actor, target = f"person:{person.id}", f"client:{tx.client_id}"
        address = flow.client_address()
        if flow.accounts(db).id_number(person).upper() not in test_accounts():
            audit.record(db, actor=actor, action="integration:selfcheck", target=target,
                         outcome="refused", address=address,
                         details={"reason": "not_a_test_account"})
            platform.login_txs.finish(tx.id)
            return _page("selfcheck_start.html", 403, client_id=tx.client_id,
                         error=_("自检只能使用测试账号登录。请退出后用测试账号重新开始。"))
        if client is None or client.disabled:
            platform.login_txs.finish(tx.id)
            return _page("selfcheck_start.html", 400,
                         error=_("没有这个应用,或应用已停用。请核对 client_id。"))
        shown = preview(platform, db, client, person, sso, org_hint=tx.extra.get("org"))
        registration = client_service.describe(client)
        audit.record(db, actor=actor, action="integration:selfcheck", target=target,
                     address=address, details={"denials": shown.denials,
                                               "acting": bool(shown.enterprise)})
    platform.login_txs.finish(tx.id)
    checks = check_registration(registration)
    return _page("selfcheck_result.html", client=registration, preview=shown, checks=checks,
                 failed=[c for c in checks if not c.ok], rule_label=rule_label)
