"""Opening a stored counter document scan (R-22, R-53): who registered the case, and auditors.

Scans (`admin_ui.models.CounterDocumentScan`) show ID cards and signatures, so the rule is
narrower than the role table: the role must allow ``counter.view_scan`` AND the staff member
is an auditor or is the one who registered the case. Anyone else gets 403 and an
``admin:denied`` record. Every opening is audited (``admin:counter:scan_view``).

The bytes go out only as one of `SERVED_TYPES` (checked again here, whatever the row says),
with ``nosniff`` and ``Content-Security-Policy: sandbox`` so a crafted file can never run as a
page of the console; PDFs are downloads (``Content-Disposition: attachment``), images inline.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from flask import Blueprint, Response, g, render_template
from flask_babel import gettext as _

from admin_ui.api_auth import staff_api
from admin_ui.auth import address, console, current_staff, staff_required
from admin_ui.models import CounterDocumentScan
from admin_ui.sessions import StaffSession
from admin_ui.views import bp as pages
from idp.api.openapi import operation
from idp.api.problems import ApiProblem
from idp.crypto import DecryptionError
from idp.orgs.models import LegalPerson
from idp.platform import current_platform
from idp.staff.directory import N_, Role

ACTION = "counter.view_scan"
SCAN_CONTEXT = "counter.scan"  # as written by `admin_ui.counter_org`
SERVED_TYPES = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
bp = Blueprint("admin_scans_api", __name__, url_prefix="/api/v1/admin/counter")
TAG = "Console 管理后台"


class ScanRefused(Exception):
    """``code``: not_found | not_own_case | type_not_served | unreadable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class OpenedScan:
    scan_id: int
    kind: str
    content_type: str
    data: bytes


def open_scan(s: StaffSession, scan_id: int) -> OpenedScan:
    """The decrypted scan if ``s`` may see it; audits the view (or the refusal)."""
    platform = current_platform()
    with platform.db.session() as session:
        scan = session.get(CounterDocumentScan, scan_id)
        if scan is None:
            raise ScanRefused("not_found")
        org = session.get(LegalPerson, scan.legal_person_id)
        target = f"org:{org.credit_code}" if org is not None else f"scan:{scan.id}"
        own = scan.staff_member_id == s.member_id
        kind, content_type, sealed = scan.kind, scan.content_type, scan.data_enc
        details = {"scan": scan.id, "kind": kind, "type": content_type,
                   "sha256": scan.sha256}
    if Role.AUDITOR.value not in s.roles and not own:
        console().deny(s, ACTION, "not_own_case", address())
        raise ScanRefused("not_own_case")
    refusal = ""
    data = b""
    if content_type not in SERVED_TYPES:  # never trust the row blindly
        refusal = "type_not_served"
    else:
        try:
            data = base64.b64decode(platform.protector.decrypt(sealed, SCAN_CONTEXT))
        except (DecryptionError, ValueError):
            refusal = "unreadable"
    console().record(s, "admin:counter:scan_view", address(), target=target,
                     outcome="failure" if refusal else "success",
                     details={**details, **({"reason": refusal} if refusal else {})})
    if refusal:
        raise ScanRefused(refusal)
    return OpenedScan(scan_id, kind, content_type, data)


def scan_response(scan: OpenedScan) -> Response:
    """The bytes, served so that no browser will treat them as a page."""
    resp = Response(scan.data, mimetype=scan.content_type)
    name = f"{scan.kind}-{scan.scan_id}.{SERVED_TYPES[scan.content_type]}"
    disposition = "attachment" if scan.content_type == "application/pdf" else "inline"
    h = resp.headers
    h["Content-Disposition"] = f'{disposition}; filename="{name}"'
    h["X-Content-Type-Options"] = "nosniff"
    h["Content-Security-Policy"] = "sandbox"
    h["Cache-Control"] = "no-store"
    h["Referrer-Policy"] = "no-referrer"
    return resp


_STATUS = {"not_found": 404, "not_own_case": 403, "type_not_served": 409, "unreadable": 409}
_MESSAGES = {
    "not_found": ("扫描件不存在", "No such scan."),
    "not_own_case": ("只有办理该业务的工作人员和审计员可以查看扫描件",
                     "Only the staff member who registered the case, or an auditor, may "
                     "open its scans."),
    "type_not_served": ("该扫描件的类型不能查看", "This scan's type is not served."),
    "unreadable": ("扫描件无法读取", "The stored scan cannot be read."),
}
_PAGE_MESSAGES = {
    "not_found": N_("扫描件不存在。"),
    "type_not_served": N_("该扫描件的类型不能查看。"),
    "unreadable": N_("扫描件无法读取。"),
}


@pages.get("/counter/scans/<int:scan_id>")
@staff_required(ACTION)
def counter_scan(scan_id: int):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    try:
        return scan_response(open_scan(s, scan_id))
    except ScanRefused as exc:
        if exc.code == "not_own_case":  # already audited by `open_scan`
            return render_template("admin/denied.html", action_label=_("查看扫描件"),
                                   reason="not_own_case"), 403
        return render_template("admin/scan_refused.html",
                               message=_(_PAGE_MESSAGES[exc.code])), _STATUS[exc.code]


@bp.get("/scans/<int:scan_id>")
@operation("/api/v1/admin/counter/scans/{scan_id}", "GET", tag=TAG,
           summary="A stored document scan of a legal-person counter registration (R-22)",
           problems=(403, 404, 409))
@staff_api(ACTION)
def counter_scan_api(scan_id: int) -> Response:
    """The bytes with their stored type: image/jpeg or image/png inline, application/pdf as
    an attachment; only for the staff member who registered the case, or an auditor."""
    try:
        return scan_response(open_scan(g.staff, scan_id))
    except ScanRefused as exc:
        title, detail = _MESSAGES[exc.code]
        raise ApiProblem(_STATUS[exc.code], "forbidden" if exc.code == "not_own_case"
                         else f"scan_{exc.code}", title, detail, action=ACTION) from exc
