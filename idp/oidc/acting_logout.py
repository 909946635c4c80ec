"""Back-channel logout for sessions acting for a legal person (issue 4 item 5; R-42).

When a code acting for a legal person is issued, the (SSO session, client, authority) is
remembered in the Store under the legal person. When delegated authority there changes —
a grant cancelled, narrowed or lapsed, a person in a chain banned — the delegation code
calls `authority_changed` in its transaction; every remembered session whose authority no
longer holds (re-checked with `acting.recheck`, on the transaction's own state) gets a
logout token (Back-Channel Logout §2.4) POSTed after the commit, once. The SSO session
itself lives on: the person may still act as themself or for another legal person.

"Once" is a Store marker per remembered member, set only after the commit when the token
is about to be sent — a rolled-back change must not swallow a later logout. A session
that ended before the commit (a ban ends the person's sessions in the same transaction)
was told by its own logout (`idp.oidc.logout`), so it gets no second token: one per
(client, sid).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.crypto import keyed_digest
from idp.oidc.acting import ActingRef, recheck
from idp.oidc.logout import LogoutNotice, logout_token, send_notices
from idp.oidc.models import Client
from idp.oidc.subject import subject_for
from idp.platform import Platform

_QUEUE = "oidc.acting_logout_queue"
_PLATFORM = "oidc.acting_logout_platform"


def _key(legal_person_id: int) -> str:
    return f"oidc-acting:{legal_person_id}"


def remember(platform: Platform, sid: str, client_id: str, person_id: int,
             ref: ActingRef) -> None:
    """Note that ``client_id`` holds tokens of session ``sid`` acting under ``ref``."""
    member = json.dumps({"s": sid, "c": client_id, "p": person_id, "r": ref.dump()},
                        sort_keys=True, separators=(",", ":"))
    platform.store.sadd(_key(ref.legal_person_id), member, platform.sessions.absolute)


@dataclass(frozen=True)
class _Pending:
    """A logout token to send after the commit, unless the session ended or was told."""

    marker: str
    sid: str
    notice: LogoutNotice


def authority_changed(platform: Platform | None, session: Session,
                      legal_person_ids: Iterable[int]) -> int:
    """Queue logout tokens for remembered sessions whose authority ended; sent on commit.

    Returns how many were queued. Without a platform (a script outside the app) nothing is
    sent: the tokens are refused live anyway.
    """
    if platform is None:
        return 0
    session.flush()  # re-check against this transaction's changes
    pending: list[_Pending] = []
    clients: dict[str, Client | None] = {}
    for org_id in dict.fromkeys(legal_person_ids):
        for member in platform.store.smembers(_key(org_id)):
            found = _notice_for(platform, session, member, clients)
            if found is not None:
                pending.append(found)
    if pending:
        _queue(platform, session, pending)
    return len(pending)


def _notice_for(platform: Platform, session: Session, member: str,
                clients: dict[str, Client | None]) -> _Pending | None:
    try:
        data = json.loads(member)
        sid, client_id, person_id = str(data["s"]), str(data["c"]), int(data["p"])
    except (ValueError, KeyError, TypeError):
        return None
    ref = ActingRef.load(data.get("r"))
    if ref is None or client_id not in platform.sessions.clients(sid):
        return None  # the session ended (its own logout told the client)
    marker = "oidc-acting-told:" + keyed_digest(platform.settings.secret_key, member)
    if platform.store.get(marker) is not None:
        return None  # already told
    if recheck(session, person_id, ref, client_id) is not None:
        return None
    if client_id not in clients:
        clients[client_id] = session.scalars(
            select(Client).where(Client.client_id == client_id)).one_or_none()
    client = clients[client_id]
    person = session.get(Person, person_id)
    if client is None or client.disabled or not client.backchannel_logout_uri or person is None:
        return None
    sub = subject_for(client, person.sub, platform.settings.secret_key)
    return _Pending(marker, sid, LogoutNotice(client.client_id, client.backchannel_logout_uri,
                                              logout_token(platform, client, sub, sid)))


def _send(platform: Platform, pending: list[_Pending]) -> int:
    """After the commit: mark each member told, then send; skip sessions that ended."""
    notices = []
    for item in {p.marker: p for p in pending}.values():
        if item.notice.client_id not in platform.sessions.clients(item.sid):
            continue  # ended meanwhile (e.g. a ban): that logout already told the client
        if platform.store.add(item.marker, "1", platform.sessions.absolute):
            notices.append(item.notice)
    send_notices(platform, notices)
    return len(notices)


def _queue(platform: Platform, session: Session, pending: list[_Pending]) -> None:
    queue = session.info.get(_QUEUE)
    if queue is None:
        queue = session.info[_QUEUE] = []

        def send(s: Session) -> None:
            _send(platform, s.info.pop(_QUEUE, []))

        def drop(s: Session, previous) -> None:  # type: ignore[no-untyped-def]
            if previous.parent is None and not previous.nested:
                s.info.pop(_QUEUE, None)
                if event.contains(s, "after_commit", send):
                    event.remove(s, "after_commit", send)

        event.listen(session, "after_commit", send, once=True)
        event.listen(session, "after_soft_rollback", drop, once=True)
    queue.extend(pending)


def after_delegation_change(session: Session, legal_person_ids: Iterable[int]) -> int:
    """The delegation code's hook (service.py, bans.py, representative.py, expiry.py)."""
    return authority_changed(session.info.get(_PLATFORM) or current(), session,
                             legal_person_ids)


def bind(session: Session, platform: Platform) -> Session:
    """Name the platform for a unit of work outside the app (the cron CLI), so its changes
    send logout tokens too."""
    session.info[_PLATFORM] = platform
    return session


def current() -> Platform | None:
    """The running platform, when called inside the app (pages, API, CLI with context)."""
    from flask import has_app_context

    if not has_app_context():
        return None
    from idp.platform import current_platform

    return current_platform()
