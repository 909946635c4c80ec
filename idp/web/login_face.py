"""Face login page 刷脸登录 (R-33): document number + a photo, compared by the face service.

Thin views over `idp.accounts.face`. The photo arrives as a multipart upload (file or the
phone's front camera through ``capture="user"``), is read into memory only, checked and
passed on; it is never written anywhere. A face match signs in at level 2 at least
(`idp.accounts.stepup.face_level`). When the registry or face service is down, the page says
so and offers the other login methods.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from idp.accounts.face import MAX_IMAGE_BYTES, FaceLogin, FaceOutcome, FaceResult
from idp.login_tx import LoginTransaction
from idp.platform import Platform, current_platform
from idp.realname.sources import Sources
from idp.web import flow, messages

bp = Blueprint("login_face", __name__)
log = logging.getLogger(__name__)

# Room for the 2 MiB photo plus the multipart framing and the small fields around it.
MAX_BODY = MAX_IMAGE_BYTES + 64 * 1024
FACE_ENDPOINTS = frozenset({"login_face.face_login", "stepup.page"})
FACE_STATUS = {FaceOutcome.NO_MATCH: 401, FaceOutcome.LIVENESS: 401, FaceOutcome.BAD_IMAGE: 400,
           FaceOutcome.UNSUPPORTED: 400, FaceOutcome.THROTTLED: 429,
           FaceOutcome.SERVICE_DOWN: 503, FaceOutcome.UNAVAILABLE: 403}


def allow_photo_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Let the photo pages take a 2 MiB upload, kept in memory (app default: 1 MiB).

    Registered as a URL value preprocessor because those run before every
    ``before_request`` — the CSRF check reads the form, and so parses the body, first.
    """
    if endpoint in FACE_ENDPOINTS and request.method == "POST":
        request.max_content_length = MAX_BODY
        # The body is bounded by MAX_BODY, so keep the upload in memory instead of letting
        # werkzeug spool a large one to a temporary file: the photo is never stored.
        request._get_file_stream = _memory_stream  # type: ignore[method-assign]


def _memory_stream(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


def face_ports(platform: Platform) -> Sources | None:
    """The registry and face clients, shared with registration; None when not configured."""
    from idp.realname.wiring import sources_for  # registration's builder (one per platform)

    try:
        return sources_for(platform)
    except ValueError:  # e.g. an authority URL without a key: treat as not configured
        log.error("face login: verification authorities are misconfigured")
        return None


def face_service(db: Any) -> FaceLogin | None:
    """The face login service for this request, or None when no face service is configured."""
    p = current_platform()
    ports = face_ports(p)
    if ports is None:
        return None
    return FaceLogin(db, flow.accounts(db), p.limiter, p.settings, ports.population,
                     ports.face, flow.client_address())


def uploaded_photo() -> bytes | None:
    """The one uploaded photo's bytes; None when absent, repeated or over the limit."""
    files = request.files.getlist("photo")
    if len(files) != 1 or not isinstance(files[0], FileStorage):
        return None
    data = files[0].stream.read(MAX_IMAGE_BYTES + 1)  # one byte over: "too large", not cut
    return data or None


def face_error(result: FaceResult) -> str:
    """The message for a failed face attempt, in the person's language."""
    return {
        FaceOutcome.NO_MATCH: _("人脸核验未通过,请确认证件号码并正对镜头重新拍摄。"),
        FaceOutcome.LIVENESS: _("活体检测未通过,请本人正对镜头拍摄,不要使用照片或屏幕翻拍。"),
        FaceOutcome.BAD_IMAGE: _("照片格式不正确,请上传 2 MB 以内的 JPEG 或 PNG 照片。"),
        FaceOutcome.UNSUPPORTED: _("该类证件暂不支持刷脸登录,请使用其他登录方式。"),
        FaceOutcome.THROTTLED: _("刷脸失败次数过多,请 %(minutes)d 分钟后再试,或使用其他登录方式。",
                                 minutes=max(1, (result.retry_in + 59) // 60)),
        FaceOutcome.SERVICE_DOWN: _("人脸核验服务暂时不可用,请稍后再试,或使用密码、短信验证码、"
                                    "扫码等其他方式登录。"),
        FaceOutcome.UNAVAILABLE: messages.account_status(result.status),
    }.get(result.outcome, _("请求无效,请重试。"))


def _page(tx: LoginTransaction | None, status: int = 200, **context: object) -> tuple[str, int]:
    if getattr(g, "tx_missing", False):
        context.setdefault("notice", _("登录请求已过期。登录后将进入账号中心;"
                                       "如需访问其他应用,请返回该应用重新登录。"))
    context.setdefault("id_number", "")
    return render_template("login_face.html", tx=tx, tx_args=flow.tx_args(tx),
                           max_mb=MAX_IMAGE_BYTES // (1024 * 1024), **context), status


@bp.route("/login/face", methods=["GET", "POST"])
def face_login():  # type: ignore[no-untyped-def]
    """刷脸登录: document number and a live photo (R-33)."""
    tx = flow.load_tx()
    if request.method == "GET":
        return _page(tx, available=face_ports(current_platform()) is not None)
    id_number = flow.form_text("id_number", 64)
    if not id_number:
        return _page(tx, 400, error=_("请输入证件号码。"))
    image = uploaded_photo()
    if image is None:
        return _page(tx, 400, id_number=id_number, error=_("请上传或拍摄一张本人正面照片。"))
    with current_platform().db.session() as db:
        service = face_service(db)
        if service is None:
            return _page(tx, 503, id_number=id_number,
                         error=face_error(FaceResult(FaceOutcome.SERVICE_DOWN)))
        result = service.login(id_number, image)
        if result.ok:
            assert result.person is not None
            return flow.begin_session(db, result.person, ["face"], tx, level=result.level)
    return _page(tx, FACE_STATUS[result.outcome], id_number=id_number, error=face_error(result))
