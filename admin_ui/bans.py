"""Console pages for banning and unbanning accounts (issue 5 item 4; R-51, R-52).

A manager finds an account by document number or bound phone (a POST, so the number stays
out of URLs and access logs), sees it masked with its history, and bans it with a reason
and a legal basis, or asks for an unban. A department head of the managing department
approves or refuses pending requests (`unban_requests` lists them). The rules live in
`idp.accounts.bans`; these views only translate forms and outcomes, and audit refusals.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin_ui.auth import address, console, current_staff, refuse, staff_required
from admin_ui.permissions import PermissionDenied
from admin_ui.sessions import StaffSession
from admin_ui.timefmt import local_time
from admin_ui.views import bp
from idp.accounts import bans
from idp.accounts.ban_models import REASON_MAX, UnbanStatus
from idp.accounts.service import Accounts
from idp.platform import current_platform
from idp.staff.directory import N_

MESSAGES = {
    "not_found": N_("未找到该账号。"),
    "validation": N_("请检查填写的内容。"),
    "no_department": N_("您的目录账号未登记所属部门,不能执行封禁。"),
    "wrong_department": N_("只有该账号管理部门的负责人可以审批。"),
    "already_banned": N_("该账号已被封禁。"),
    "account_closed": N_("该账号已注销,不能封禁。"),
    "not_banned": N_("该账号未被封禁。"),
    "no_ban_record": N_("该账号没有封禁记录,请联系平台管理员。"),
    "request_pending": N_("该账号已有待审批的解封申请。"),
    "no_pending_request": N_("该账号没有待审批的解封申请。"),
    "already_decided": N_("该解封申请已经审批。"),
}
FIELD_MESSAGES = {
    "identifier": N_("请输入证件号码或绑定手机号。"),
    "reason": N_("请填写原因(4 至 200 个字)。"),
    "legal_basis": N_("请填写法律依据(2 至 200 个字)。"),
}
DONE = {"ban": N_("账号已封禁。"), "request": N_("解封申请已提交,等待部门负责人审批。"),
        "approve": N_("已批准解封,账号恢复正常。"), "refuse": N_("已驳回解封申请。")}
STATUS_LABELS = {"active": N_("正常"), "banned": N_("已封禁"), "closed": N_("已注销"),
                 UnbanStatus.PENDING.value: N_("待审批"),
                 UnbanStatus.APPROVED.value: N_("已批准"),
                 UnbanStatus.REFUSED.value: N_("已驳回")}


def staff_ref(s: StaffSession) -> bans.StaffRef:
    return bans.StaffRef(s.member_id, s.actor, s.department)


def _staff() -> StaffSession:
    s = current_staff()
    assert s is not None  # staff_required guarantees a complete session
    return s


def _accounts(session):  # type: ignore[no-untyped-def]
    p = current_platform()
    return Accounts(session, p.protector, p.hasher)


def _form(name: str) -> str:
    return request.form.get(name, "")[:1000]


@bp.get("/accounts")
@staff_required("account.view_history")
def accounts():  # type: ignore[no-untyped-def]
    return render_template("admin/bans_find.html")


@bp.post("/accounts")
@staff_required("account.view_history")
def accounts_find():  # type: ignore[no-untyped-def]
    """Find by document number or phone; audited with the masked result only (R-70)."""
    s = _staff()
    try:
        with current_platform().db.session() as session:
            person_id = bans.find_account(_accounts(session), _form("identifier")).id
    except bans.BanError as exc:
        console().record(s, "admin:account:lookup", address(), outcome="failure",
                         details={"reason": exc.code})
        message = FIELD_MESSAGES["identifier"] if exc.field else MESSAGES[exc.code]
        return render_template("admin/bans_find.html", error=_(message)), exc.status
    console().record(s, "admin:account:lookup", address(), target=f"person:{person_id}")
    return redirect(url_for("admin.account", person_id=person_id))


def _page(person_id: int, status: int = 200, error: str = "", field: str = "",
          form: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        try:
            h = bans.history(_accounts(session), person_id)
        except bans.BanError:
            return render_template("admin/bans_account.html", missing=True), 404
        return render_template(
            "admin/bans_account.html", h=h, error=error, field=field, form=form or {},
            done=DONE.get(request.args.get("done", "")), sms=request.args.get("sms"),
            failed=request.args.get("failed"), labels=STATUS_LABELS, when=local_time,
            max_reason=REASON_MAX), status


@bp.get("/accounts/<int:person_id>")
@staff_required("account.view_history")
def account(person_id: int):  # type: ignore[no-untyped-def]
    return _page(person_id)


def _refused(person_id: int, action: str, exc: bans.BanError):  # type: ignore[no-untyped-def]
    """Re-show the account with the reason; department refusals are audited as denials."""
    if exc.code in ("wrong_department", "no_department"):
        console().deny(_staff(), action, exc.code, address())
    message = FIELD_MESSAGES[exc.field] if exc.field else MESSAGES[exc.code]
    return _page(person_id, exc.status, _(message), exc.field,
                 {k: _form(k)[:REASON_MAX] for k in ("reason", "legal_basis")})


def _done(person_id: int, what: str, delivery: bans.Delivery | None = None):  # type: ignore[no-untyped-def]
    extra: dict[str, Any] = {} if delivery is None else {
        "sms": int(delivery.sms_sent), "failed": len(delivery.failed_clients)}
    return redirect(url_for("admin.account", person_id=person_id, done=what, **extra))


@bp.post("/accounts/<int:person_id>/ban")
@staff_required("account.ban")
def ban(person_id: int):  # type: ignore[no-untyped-def]
    p = current_platform()
    try:
        with p.db.session() as session:
            outcome = bans.ban(p, session, person_id, by=staff_ref(_staff()),
                               reason=_form("reason"), legal_basis=_form("legal_basis"),
                               address=address())
    except bans.BanError as exc:
        return _refused(person_id, "account.ban", exc)
    return _done(person_id, "ban", bans.deliver(p, outcome))


@bp.post("/accounts/<int:person_id>/unban-request")
@staff_required("account.request_unban")
def unban_request(person_id: int):  # type: ignore[no-untyped-def]
    try:
        with current_platform().db.session() as session:
            bans.request_unban(session, person_id, by=staff_ref(_staff()),
                               reason=_form("reason"), address=address())
    except bans.BanError as exc:
        return _refused(person_id, "account.request_unban", exc)
    return _done(person_id, "request")


def _decide(person_id: int, approve: bool):  # type: ignore[no-untyped-def]
    action = bans.APPROVE if approve else bans.REFUSE
    raw_id = _form("request_id")
    request_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 12 else None
    if request_id is None:
        return _refused(person_id, action, bans.BanError("no_pending_request"))
    p = current_platform()
    try:
        with p.db.session() as session:
            outcome = bans.decide_unban(p, session, person_id, by=staff_ref(_staff()),
                                        approve=approve, reason=_form("reason"),
                                        address=address(), request_id=request_id)
    except PermissionDenied as exc:
        return refuse(_staff(), action, exc.reason)
    except bans.BanError as exc:
        return _refused(person_id, action, exc)
    return _done(person_id, "approve" if approve else "refuse", bans.deliver(p, outcome))


@bp.post("/accounts/<int:person_id>/unban-request/approve")
@staff_required("account.approve_unban")
def unban_approve(person_id: int):  # type: ignore[no-untyped-def]
    return _decide(person_id, approve=True)


@bp.post("/accounts/<int:person_id>/unban-request/refuse")
@staff_required("account.refuse_unban")
def unban_refuse(person_id: int):  # type: ignore[no-untyped-def]
    return _decide(person_id, approve=False)


@bp.get("/unban-requests")
@staff_required("account.approve_unban")
def unban_requests():  # type: ignore[no-untyped-def]
    """Pending requests of the head's own managing department, oldest first."""
    with current_platform().db.session() as session:
        accounts_ = _accounts(session)
        rows = [(req, accounts_.view(accounts_.get(req.person_id)))
                for req in bans.pending_for_department(session, _staff().department)]
        return render_template("admin/bans_requests.html", rows=rows, when=local_time)

