"""Tell the people affected by a delegation operation, by SMS, after the commit (R-42).

Messages are queued on the session and sent by an ``after_commit`` hook, so nobody is told
about a change that was rolled back. A gateway failure is logged (masked) and does not undo
the operation: the authority change itself must stand.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.crypto import DataProtector, mask_phone
from idp.passwords import PasswordHasher
from idp.sms import SmsError, SmsGateway

log = logging.getLogger(__name__)

_QUEUE = "delegation.sms_queue"
_CHINA = dt.timezone(dt.timedelta(hours=8))


def local_time(at: dt.datetime) -> str:
    """A time as people in China read it (UTC+8), for message texts."""
    return at.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")


class Notifier:
    """Queues templated SMS to persons; sends them when the session commits."""

    def __init__(self, session: Session, protector: DataProtector, hasher: PasswordHasher,
                 sms: SmsGateway) -> None:
        self.session = session
        self.accounts = Accounts(session, protector, hasher)
        self.sms = sms

    def person(self, person_id: int, template: str, **params: str) -> None:
        """Queue a message to the person's bound phone; persons without one are skipped."""
        person = self.session.get(Person, person_id)
        phone = self.accounts.phone(person) if person is not None else None
        if not phone:
            return
        queue = self.session.info.get(_QUEUE)
        if queue is None:
            queue = self.session.info[_QUEUE] = []
            event.listen(self.session, "after_commit", _send_queued, once=True)
            event.listen(self.session, "after_soft_rollback", _drop_queued)
        message = (phone, template, params, self.sms)
        if message not in queue:  # one message per person and event
            queue.append(message)


def _send_queued(session: Session) -> None:
    queue = session.info.pop(_QUEUE, [])
    event.remove(session, "after_soft_rollback", _drop_queued)
    for phone, template, params, sms in queue:
        try:
            sms.send(phone, template, params)
        except SmsError:
            log.warning("delegation notice %s to %s not sent", template, mask_phone(phone))


def _drop_queued(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_QUEUE, None)
        event.remove(session, "after_soft_rollback", _drop_queued)
        event.remove(session, "after_commit", _send_queued)
