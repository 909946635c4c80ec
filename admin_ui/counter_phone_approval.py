"""A second staff member signs off a counter phone change on a typed-in card (R-41, issue 5).

A card read off the chip by the reader agent is hard to forge; details typed in by hand
(case source ``manual``) are not. Binding a new phone to someone's account on such a case
is a takeover path, so it waits for a manager or another clerk of the same hall: the clerk's
``phone-change`` answers 202 with a pending request; a colleague approves it
(``counter.approve_phone_change``), never the one who asked (`check_not_own_request`,
as for unbans in `admin_ui.bans`). The request lives in the Store beside its case and
expires with it. Audit: ``admin:counter:phone_change_request`` (asker),
``admin:counter:phone_change_approve`` (approver), the change itself names both.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass

from admin_ui.counter_phone import PhoneChanged, PhoneDesk
from admin_ui.permissions import PermissionDenied, check_not_own_request
from admin_ui.sessions import StaffSession
from idp.accounts.counter import CounterError
from idp.audit import service as audit
from idp.crypto import mask_phone, random_token
from idp.platform import Platform
from idp.staff.directory import Role
from idp.store import get_json, set_json

ACTION = "counter.approve_phone_change"
LIST_SIZE = 50


@dataclass(frozen=True)
class PhoneApproval:
    """A pending request; personal numbers masked (the case holds them, encrypted)."""

    id: str
    case_id: str
    member_id: int  # the asking clerk: the case is theirs
    actor: str
    hall: str
    name: str
    id_number: str
    phone: str
    created: int
    expires: int


def _key(rid: str) -> str:
    return f"counter-phone-approval:{rid}"


def _case_key(case_id: str) -> str:
    return f"counter-phone-approval-case:{case_id}"


def _hall_key(hall: str) -> str:
    return "counter-phone-approvals:" + hashlib.sha256(hall.encode()).hexdigest()[:32]


class PhoneApprovals:
    """Pending sign-offs of one platform's halls."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store = platform.store

    def get(self, rid: object) -> PhoneApproval | None:
        if not isinstance(rid, str) or not 16 <= len(rid) <= 64 or not rid.isascii():
            return None
        raw = self.store.get(_key(rid))
        return PhoneApproval(**json.loads(raw)) if raw else None

    def request(self, desk: PhoneDesk, case_id: str) -> PhoneApproval:
        """Hold the change for a colleague's sign-off (the same request if asked again)."""
        case = desk.check_ready(case_id)
        held = self.get(self.store.get(_case_key(case.id)))
        if held is not None:
            return held
        now = int(time.time())
        left = case.created + self.platform.settings.registration_ttl - now
        if left <= 0:
            raise CounterError("case_not_found")
        approval = PhoneApproval(
            id=random_token(24), case_id=case.id, member_id=desk.member_id, actor=desk.actor,
            hall=desk.hall, name=case.masked_name, id_number=case.masked_number,
            phone=mask_phone(case.phone or ""), created=now, expires=now + left)
        self.store.set(_key(approval.id), json.dumps(asdict(approval), ensure_ascii=False), left)
        self.store.set(_case_key(case.id), approval.id, left)
        ids = [i for i in get_json(self.store, _hall_key(desk.hall)) or [] if self.get(i)]
        set_json(self.store, _hall_key(desk.hall), ([approval.id] + ids)[:LIST_SIZE],
                 self.platform.settings.registration_ttl)
        desk._audit("admin:counter:phone_change_request", target=f"case:{case.id[:8]}",
                    details={"approval": approval.id[:8], "id": approval.id_number,
                             "source": case.card.get("source"), "new_phone": approval.phone,
                             "hall": desk.hall})
        return approval

    def pending(self, s: StaffSession) -> list[PhoneApproval]:
        """The requests of ``s``'s hall that ``s`` may decide (not their own)."""
        ids = get_json(self.store, _hall_key(s.department)) or []
        found = [self.get(i) for i in ids]
        return [a for a in found if a is not None and a.member_id != s.member_id]

    def approve(self, rid: str, by: StaffSession, address: str) -> PhoneChanged:
        """Sign off and make the change; `PermissionDenied` for the asker or another hall."""
        approval = self.get(rid)
        if approval is None:
            raise CounterError("approval_not_found")
        check_not_own_request(ACTION, approval.member_id, by.member_id)
        if by.department != approval.hall and Role.PLATFORM_ADMIN.value not in by.roles:
            raise PermissionDenied(ACTION, "other_hall")
        raw = self.store.pop(_key(approval.id))  # one winner
        if raw is None:
            raise CounterError("approval_not_found")
        desk = PhoneDesk(self.platform, member_id=approval.member_id, actor=approval.actor,
                         address=address, hall=approval.hall)
        try:
            done = desk.change_phone(approval.case_id, approved_by=by.actor)
        except BaseException:
            left = approval.expires - int(time.time())
            if left > 0:  # nothing changed: it may be approved again once fixed
                self.store.set(_key(approval.id), raw, left)
            raise
        self.store.delete(_case_key(approval.case_id))
        with self.platform.db.session() as session:
            audit.record(session, actor=by.actor, action="admin:counter:phone_change_approve",
                         target=f"person:{done.person_id}", address=address,
                         details={"approval": approval.id[:8], "requested_by": approval.actor,
                                  "new_phone": done.phone, "hall": approval.hall})
        return done
