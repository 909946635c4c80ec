"""Console pages for auditors: search, CSV export, chain check, full-number reveal (R-53).

Issue 5 item 5. Each page is guarded by its action in `admin_ui.permissions`, and each
use is itself audited (who looked at the log, with which filter, what was exported, which
number was revealed and why).
"""

from __future__ import annotations

import datetime as dt

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _

from admin_ui import audit_search
from admin_ui.audit_search import AuditFilter, FilterError
from admin_ui.auth import address, console, current_staff, staff_required
from admin_ui.reveal import MAX_REASON, RevealError, masked_id_number, reveal_id_number
from admin_ui.views import bp
from idp.accounts.service import Accounts
from idp.audit.service import verify_chain
from idp.platform import current_platform
from idp.staff.directory import N_

_FIELD_MESSAGES = {
    "too_long": N_("内容过长。"), "characters": N_("含有不允许的字符。"),
    "format": N_("格式不正确。"), "date": N_("日期格式应为 年-月-日。"),
    "range": N_("数值超出范围。"), "before_since": N_("结束日期不能早于开始日期。"),
}


def _accounts(session):  # type: ignore[no-untyped-def]
    p = current_platform()
    return Accounts(session, p.protector, p.hasher)


def _parse() -> tuple[AuditFilter | None, dict[str, str]]:
    try:
        return audit_search.parse_filter(request.args), {}
    except FilterError as exc:
        messages = {e["field"]: _FIELD_MESSAGES[e["code"]] for e in exc.errors}
        return None, {name: _(text) for name, text in messages.items()}


@bp.get("/audit")
@staff_required("audit.search")
def audit():  # type: ignore[no-untyped-def]
    f, errors = _parse()
    page = audit_search.AuditPage()
    if f is not None:
        with current_platform().db.session() as session:
            page = audit_search.search(session, _accounts(session), f)
        s = current_staff()
        assert s is not None
        console().record(s, "admin:audit:search", address(),
                         details={"filter": f.as_dict(), "rows": len(page.rows)})
    return render_template("admin/audit.html", page=page, errors=errors, args=request.args,
                           filter=f), 400 if errors else 200


@bp.get("/audit/export.csv")
@staff_required("audit.export")
def audit_export():  # type: ignore[no-untyped-def]
    f, errors = _parse()
    if f is None:
        return render_template("admin/audit.html", page=audit_search.AuditPage(),
                               errors=errors, args=request.args, filter=None), 400
    with current_platform().db.session() as session:
        chunks, count = audit_search.export_csv(session, _accounts(session), f)
    s = current_staff()
    assert s is not None
    console().record(s, "admin:audit:export", address(),
                     details={"filter": f.as_dict(), "rows": count})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    resp = Response(stream_with_context(chunks), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/audit/verify")
@staff_required("audit.verify_chain")
def audit_verify():  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        check = verify_chain(session)
    s = current_staff()
    assert s is not None
    console().record(s, "admin:audit:verify_chain", address(),
                     outcome="success" if check.ok else "failure",
                     details={"checked": check.checked, "ok": check.ok,
                              **({"first_broken": check.first_broken, "reason": check.reason}
                                 if not check.ok else {})})
    return render_template("admin/audit_chain.html", check=check)


@bp.get("/persons/<int:person_id>/reveal")
@staff_required("person.reveal_id_number")
def reveal_form(person_id: int):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        try:
            shown = masked_id_number(_accounts(session), person_id)
        except RevealError:
            return render_template("admin/reveal.html", missing=True), 404
    return render_template("admin/reveal.html", shown=shown, max_reason=MAX_REASON)


@bp.post("/persons/<int:person_id>/reveal")
@staff_required("person.reveal_id_number")
def reveal(person_id: int):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    reason = request.form.get("reason", "")[:1000]
    try:
        with current_platform().db.session() as session:
            shown = reveal_id_number(session, _accounts(session), person_id, actor=s.actor,
                                     reason=reason, address=address())
    except RevealError as exc:
        if exc.code == "not_found":
            return render_template("admin/reveal.html", missing=True), 404
        with current_platform().db.session() as session:
            shown = masked_id_number(_accounts(session), person_id)
        return render_template("admin/reveal.html", shown=shown, max_reason=MAX_REASON,
                               reason=reason[:MAX_REASON],
                               error=_("请填写查看原因(4 至 200 个字)。")), 400
    return render_template("admin/reveal.html", shown=shown, revealed=True)
