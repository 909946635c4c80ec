"""Counts for the dashboard and client usage, from the live tables (issue 5 items 6, 7).

No Flask. Every query is bounded in time (at most `MAX_DAYS` calendar days, China Standard
Time) and grouped in the database, so a page costs a handful of aggregate queries whatever
the size of the log:

- audit records are selected by ``action`` and ``at`` (both indexed, `idp.audit.models`);
  per-client usage by ``target`` (indexed) or ``action`` + ``at`` then ``actor``;
- registrations come from the ``person`` table (``channel``, ``created_at``), the ground
  truth even for channels that audit differently (import, counter).

Days are buckets computed in SQL with a ``CASE`` over the day boundaries (portable between
PostgreSQL and SQLite, and correct for China Standard Time whatever the server's zone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from admin_ui.timefmt import CST
from idp.accounts.models import Person
from idp.audit.models import AuditRecord

MAX_DAYS = 31
USAGE_DAYS = 30
DASHBOARD_DAYS = (7, 14, 30)
LOGIN_SUCCESS = "account:login:success"
LOGIN_FAILURE = "account:login:failure"
LOCKOUT = "account:lockout"
# Recorded by the ban/unban slice (idp.accounts.bans, issue 5 item 4): a ban, and an unban
# request approved by the department head (the moment the account is usable again).
BAN_ACTIONS = {"admin:account:ban": "ban", "admin:unban:approve": "unban"}
TOKEN_ISSUE = "oidc:token:issue"
AUTHORIZE = "oidc:authorize"
OTHER = "other"


@dataclass(frozen=True)
class Window:
    """``days`` calendar days (CST) ending today; ``bounds`` are UTC day starts, one more."""

    days: tuple[dt.date, ...]
    bounds: tuple[dt.datetime, ...]

    @property
    def start(self) -> dt.datetime:
        return self.bounds[0]

    @property
    def end(self) -> dt.datetime:
        return self.bounds[-1]


def window(days: int, now: dt.datetime | None = None) -> Window:
    """The last ``days`` days up to and including today in China Standard Time."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    today = (now or dt.datetime.now(dt.UTC)).astimezone(CST).date()
    dates = tuple(today - dt.timedelta(days=days - 1 - i) for i in range(days))
    bounds = tuple(dt.datetime.combine(d, dt.time.min, tzinfo=CST).astimezone(dt.UTC)
                   for d in (*dates, today + dt.timedelta(days=1)))
    return Window(dates, bounds)


def _day_index(column: Any, w: Window) -> ColumnElement[int]:
    """The 0-based day of ``column`` in ``w`` (rows outside are excluded by the caller)."""
    if len(w.days) == 1:
        return literal(0)
    return case(*[(column < bound, i) for i, bound in enumerate(w.bounds[1:-1])],
                else_=len(w.days) - 1)


def _series(rows: Sequence[Any], w: Window) -> dict[str, list[int]]:
    """(day index, key, count) rows → key → count per day, keys sorted by total."""
    out: dict[str, list[int]] = {}
    for day, key, count in rows:
        out.setdefault(key or OTHER, [0] * len(w.days))[int(day)] += int(count)
    return dict(sorted(out.items(), key=lambda kv: (-sum(kv[1]), kv[0])))


def _audit_counts(session: Session, w: Window, actions: Sequence[str],
                  key: Any) -> dict[str, list[int]]:
    day = _day_index(AuditRecord.at, w)
    rows = session.execute(
        select(day, key, func.count())
        .where(AuditRecord.action.in_(actions), AuditRecord.at >= w.start,
               AuditRecord.at < w.end)
        .group_by(day, key)).all()
    return _series(rows, w)


def registrations_by_channel(session: Session, w: Window) -> dict[str, list[int]]:
    """New accounts per registration channel per day (R-02 channels)."""
    day = _day_index(Person.created_at, w)
    rows = session.execute(
        select(day, Person.channel, func.count())
        .where(Person.created_at >= w.start, Person.created_at < w.end)
        .group_by(day, Person.channel)).all()
    return _series(rows, w)


def logins_by_method(session: Session, w: Window) -> dict[str, list[int]]:
    """Successful sign-ins per method (``details.method``: pwd, sms, qr, face …) per day."""
    return _audit_counts(session, w, (LOGIN_SUCCESS,),
                         AuditRecord.details["method"].as_string())


def failures_and_lockouts(session: Session, w: Window) -> dict[str, list[int]]:
    """Failed sign-ins and account lockouts per day (keys ``failure`` and ``lockout``)."""
    counts = _audit_counts(session, w, (LOGIN_FAILURE, LOCKOUT), AuditRecord.action)
    return {key: counts.get(action, [0] * len(w.days))
            for action, key in ((LOGIN_FAILURE, "failure"), (LOCKOUT, "lockout"))}


def bans(session: Session, w: Window) -> dict[str, list[int]]:
    """Bans and granted unbans per day (keys ``ban`` and ``unban``)."""
    counts = _audit_counts(session, w, tuple(BAN_ACTIONS), AuditRecord.action)
    return {key: counts.get(action, [0] * len(w.days)) for action, key in BAN_ACTIONS.items()}


@dataclass
class Dashboard:
    window: Window
    registrations: dict[str, list[int]] = field(default_factory=dict)
    logins: dict[str, list[int]] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    bans: dict[str, list[int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON API's shape: ISO dates and a series per key."""
        return {"days": [d.isoformat() for d in self.window.days],
                "registrations_by_channel": self.registrations,
                "logins_by_method": self.logins,
                "failed_logins_and_lockouts": self.failures, "bans": self.bans}


def dashboard(session: Session, days: int, now: dt.datetime | None = None) -> Dashboard:
    """Everything the dashboard shows, four grouped queries."""
    w = window(days, now)
    return Dashboard(w, registrations_by_channel(session, w), logins_by_method(session, w),
                     failures_and_lockouts(session, w), bans(session, w))


# -- client usage (issue 5 item 6) ---------------------------------------------------------------


@dataclass
class ClientUsage:
    """Tokens issued to people and authorizations per day, and the last use seen."""

    window: Window
    tokens: list[int]
    authorizations: list[int]
    last_use: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"days": [d.isoformat() for d in self.window.days], "tokens": self.tokens,
                "authorizations": self.authorizations,
                "last_use": self.last_use.astimezone(dt.UTC).isoformat(timespec="seconds")
                if self.last_use else None}


def client_usage(session: Session, client_id: str, now: dt.datetime | None = None
                 ) -> ClientUsage:
    """One client's last `USAGE_DAYS` days.

    Tokens are ``oidc:token:issue`` records (actor ``client:<id>``; code and refresh grants —
    machine-to-machine client_credentials tokens are logged, not audited, so not counted);
    authorizations are ``oidc:authorize`` records (target ``client:<id>``, indexed).
    """
    w = window(USAGE_DAYS, now)
    subject = f"client:{client_id}"
    tokens = _client_counts(session, w, AuditRecord.actor == subject, TOKEN_ISSUE)
    auths = _client_counts(session, w, AuditRecord.target == subject, AUTHORIZE)
    last = max((t for t in (tokens[1], auths[1]) if t is not None), default=None)
    return ClientUsage(w, tokens[0], auths[0], last)


def _client_counts(session: Session, w: Window, who: ColumnElement[bool], action: str
                   ) -> tuple[list[int], dt.datetime | None]:
    day = _day_index(AuditRecord.at, w)
    rows = session.execute(
        select(day, func.count(), func.max(AuditRecord.at))
        .where(AuditRecord.action == action, who, AuditRecord.at >= w.start,
               AuditRecord.at < w.end)
        .group_by(day)).all()
    counts = [0] * len(w.days)
    last: dt.datetime | None = None
    for index, count, latest in rows:
        counts[int(index)] = int(count)
        when = _aware(latest)
        if when is not None and (last is None or when > last):
            last = when
    return counts, last


def _aware(at: Any) -> dt.datetime | None:
    """``max()`` bypasses the column type on SQLite: parse and mark UTC when needed."""
    if at is None:
        return None
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def usage_summary(session: Session, now: dt.datetime | None = None
                  ) -> dict[str, tuple[int, dt.datetime | None]]:
    """Per client id: tokens issued in the last `USAGE_DAYS` days and the last one's time."""
    w = window(USAGE_DAYS, now)
    rows = session.execute(
        select(AuditRecord.actor, func.count(), func.max(AuditRecord.at))
        .where(AuditRecord.action == TOKEN_ISSUE, AuditRecord.at >= w.start,
               AuditRecord.at < w.end)
        .group_by(AuditRecord.actor)).all()
    return {actor.removeprefix("client:"): (int(count), _aware(at))
            for actor, count, at in rows if actor.startswith("client:")}
