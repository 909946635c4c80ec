"""Step-up page (issue 3 item 5; DESIGN.md "Assurance", ``acr_values`` triggers step-up).

Reached from the login flow (`idp.web.flow.stepup_url`) when the client's minimum level or
its ``acr_values`` ask for more than the session has. It offers the missing factor — a face
match for level 2 — or explains that level 3 needs a counter visit. After the factor the
session's ``acr`` rises and the browser resumes at ``/authorize/resume``; the person may also
go back without stepping up, and /authorize then answers as before (``access_denied`` for a
client minimum, a code at the true level for voluntary ``acr_values``).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from idp.accounts.models import Person
from idp.accounts.sessions import SsoSession
from idp.accounts.stepup import Missing, StepUpPlan, acr_for_level, level_of_acr, plan
from idp.login_tx import LoginTransaction
from idp.platform import current_platform
from idp.web import flow
from idp.web.login_face import FACE_STATUS, face_error, face_ports, face_service, uploaded_photo

bp = Blueprint("stepup", __name__)


def _plan(s: SsoSession, person: Person, tx: LoginTransaction) -> StepUpPlan:
    return plan(level_of_acr(s.acr), tx.min_level, account_level=person.realname_level,
                id_type=person.id_type,
                face_available=face_ports(current_platform()) is not None)


def _page(tx: LoginTransaction, step: StepUpPlan, status: int = 200,
          **context: object) -> tuple[str, int]:
    return render_template("stepup.html", tx=tx, tx_args=flow.tx_args(tx), plan=step,
                           Missing=Missing, resume_url=flow.client_return_url(tx),
                           **context), status


@bp.route("/login/stepup", methods=["GET", "POST"])
def page():  # type: ignore[no-untyped-def]
    """Show what is missing to reach the requested level, and take the face photo."""
    tx = flow.load_tx()
    if tx is None or tx.extra.get("kind") != "login":
        return redirect(flow.done_url(None))
    with current_platform().db.session() as db:
        signed_in = flow.signed_in_person(db)
        if signed_in is None:
            return flow.to_login(tx)
        s, person = signed_in
        step = _plan(s, person, tx)
        if step.missing is Missing.NOTHING:
            return redirect(flow.done_url(tx))
        if request.method == "GET":
            return _page(tx, step)
        if step.missing is not Missing.FACE:
            return _page(tx, step, 400)
        return _face_step(db, tx, s, person, step)


def _face_step(db: object, tx: LoginTransaction, s: SsoSession, person: Person,
               step: StepUpPlan) -> BaseResponse | tuple[str, int]:
    image = uploaded_photo()
    if image is None:
        return _page(tx, step, 400, error=_("请上传或拍摄一张本人正面照片。"))
    service = face_service(db)
    if service is None:  # configuration changed since the plan was made
        return _page(tx, step, 503, error=_("人脸核验服务暂时不可用,请稍后再试。"))
    result = service.step_up(person, image)
    if not result.ok:
        return _page(tx, step, FACE_STATUS[result.outcome], error=face_error(result))
    raised = max(level_of_acr(s.acr), result.level)
    s.amr = [m for m in s.amr if m != "face"] + ["face"]
    current_platform().sessions.complete_step(s, "stepup", acr=acr_for_level(raised))
    return redirect(flow.done_url(tx))
