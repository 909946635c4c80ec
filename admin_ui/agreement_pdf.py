"""The signed service agreement as a PDF (R-50), next to the HTML print view.

Built with reportlab. Chinese text uses reportlab's built-in CID font ``STSong-Light``
(Adobe-GB1, resolved by the PDF reader), so no font file ships with the platform; numbers
and codes are set in Helvetica so that they read (and extract) as plain ASCII. Only the
account's MASKED details are ever written (R-70): the caller passes them masked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from flask import Response
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from admin_ui.timefmt import local_time
from idp.accounts.service import Accounts
from idp.crypto import DataProtector, mask_id_number, mask_name, mask_phone
from idp.db import utcnow
from idp.passwords import PasswordHasher
from idp.realname import agreements

FONT = "STSong-Light"
ASCII_FONT = "Helvetica"
CHANNELS = {"counter": "窗口书面签署", "web": "网上签署", "app": "移动端签署",
            "kiosk": "自助终端签署", "linked": "关联注册签署"}


@dataclass(frozen=True)
class SignedAgreement:
    """What the print view and the PDF show: the text, the masked account, the signature."""

    agreement: agreements.Agreement
    account: dict[str, Any]  # masked only
    accepted: dict[str, str] | None


def load_signed(session: Session, protector: DataProtector, hasher: PasswordHasher,
                person_id: int, current_version: str) -> SignedAgreement | None:
    """The person's signed agreement (or the current one, unsigned); None if no person."""
    accounts = Accounts(session, protector, hasher)
    person = accounts.get(person_id)
    if person is None:
        return None
    accepted = agreements.latest(session, person.id)
    text = agreements.load(accepted.version if accepted else current_version)
    phone = accounts.phone(person)
    account = {"id_number": mask_id_number(accounts.id_number(person)),
               "name": mask_name(accounts.name(person)), "id_type": person.id_type,
               "phone": mask_phone(phone) if phone else "", "sub": person.sub,
               "level": person.realname_level}
    signed = ({"version": accepted.version, "channel": accepted.channel,
               "at": local_time(accepted.accepted_at), "sha256": accepted.text_sha256}
              if accepted else None)
    return SignedAgreement(text, account, signed)


def _ascii(value: object) -> str:
    return f'<font name="{ASCII_FONT}">{escape(str(value))}</font>'


def render(signed: SignedAgreement, *, clerk: str, when: str) -> bytes:
    """A4 PDF: agreement text, the masked account table, signature lines."""
    # Imported here, not at module level: reportlab costs every worker ≈ 4–7 MiB RSS and
    # only the counter's PDF download uses it (worker RSS, issue 2).
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=1,
                           spaceAfter=6 * mm)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=_("统一身份认证平台用户服务协议"), author=_("统一身份认证平台"),
                            subject=f"agreement {signed.agreement.version}")
    story: list[Any] = [Paragraph(escape(_("统一身份认证平台用户服务协议")), title)]
    for line in signed.agreement.text.splitlines():
        story.append(Paragraph(escape(line) or "&nbsp;", body))
    story.append(Spacer(1, 6 * mm))
    a, acc = signed.account, signed.accepted
    rows = [(_("姓名"), escape(a["name"])), (_("账号名(证件号码)"), _ascii(a["id_number"]))]
    if a.get("phone"):
        rows.append((_("绑定手机"), _ascii(a["phone"])))
    rows += [(_("实名等级"), _ascii(a["level"])),
             (_("协议版本"), _ascii(signed.agreement.version))]
    if acc:
        rows += [(_("签署方式"), escape(_(CHANNELS.get(acc["channel"], acc["channel"])))),
                 (_("签署时间"), _ascii(acc["at"])),
                 (_("协议文本摘要"), _ascii(f"SHA-256 {acc['sha256'][:16]}..."))]
    table = Table([[Paragraph(escape(k), body), Paragraph(v, body)] for k, v in rows],
                  colWidths=[45 * mm, 125 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "#888888"),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [table, Spacer(1, 10 * mm),
              Paragraph(escape(_("申请人签名:")) + "&nbsp;" * 30 + escape(_("日期:")), body),
              Spacer(1, 4 * mm),
              Paragraph(escape(_("经办人:")) + escape(clerk) + " " + _ascii(when), body)]
    doc.build(story)
    return out.getvalue()


def pdf_response(signed: SignedAgreement, *, clerk: str, person_id: int) -> Response:
    """The PDF as a download: never cached, never sniffed into anything else."""
    data = render(signed, clerk=clerk, when=local_time(utcnow()))
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = \
        f'attachment; filename="agreement-{person_id}-{signed.agreement.version}.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
