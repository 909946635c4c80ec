"""Federation outbox: durable node-to-node deliveries, retried until they land (issue 6 item 4).

Work for another node (a status event, a directory registration with the parent) is written
as an `OutboxItem` in the transaction that causes it, so it commits — or rolls back — with
the local change, and local work never waits for, or fails because of, another node.
Items are delivered after commit by a background thread in the server process (`Worker`,
woken at commit so events leave within seconds) and by ``idp federation deliver`` (cron).

Several processes may deliver at once: an item is *claimed* by moving its
``next_attempt_at`` past a lease — ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional UPDATE on SQLite — so exactly one process sends it; a process that dies
mid-delivery leaves the item due again when the lease ends. Failures back off
exponentially (`backoff`); a success towards a node pulls that node's other waiting items
forward, so a node that was offline catches up as soon as it answers again. Receivers are
idempotent by ``jti`` (set_receiver.py), so a delivery repeated after a lost answer is harmless.

Items are given up after `MAX_ATTEMPTS` — except bans and closures (`must_deliver`): a ban
that never arrives leaves the person signed in at the other node, so those retry forever at
the capped back-off; crossing `MAX_ATTEMPTS` raises an alert instead (an ERROR log line and
one ``federation:outbox:overdue`` audit record).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Index, String, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.audit import service as audit
from idp.db import Base, CreatedAt, UTCDateTime, utcnow

if TYPE_CHECKING:
    from idp.accounts.models import Person
    from idp.federation.node import FederationNode
    from idp.platform import Platform

log = logging.getLogger(__name__)

LEASE_SECONDS = 60  # a claimed item is due again after this if its sender died
BATCH = 50
MAX_ATTEMPTS = 30  # about a day of retries at the default cap, then given up or alerted
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DIRECTORY = "directory"  # kind: register a local account's blind index with the parent


class OutboxItem(Base):
    """One delivery to one node: a Security Event Token or a directory registration."""

    __tablename__ = "federation_outbox"
    __table_args__ = (Index("ix_federation_outbox_due", "status", "next_attempt_at"),
                      Index("ix_federation_outbox_target", "target", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(300))  # the receiving node's entity id
    kind: Mapped[str] = mapped_column(String(32))  # "set" | "directory"
    # SET claims without iat (signed at each attempt, so a late delivery is still fresh) or
    # {"person_id": …}; never a personal number.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[CreatedAt]


class DeliveryError(Exception):
    """This attempt failed; ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


Sender = Callable[["FederationNode", OutboxItem], None]
_SENDERS: dict[str, Sender] = {}
# Engine → platform of federated nodes, so hooks that only hold a session (account creation,
# bans) know whether and where to queue work. Weak: tests build and drop many platforms.
_PLATFORMS: weakref.WeakKeyDictionary[Engine, Platform] = weakref.WeakKeyDictionary()


def register_sender(kind: str, sender: Sender) -> None:
    _SENDERS[kind] = sender


def install(platform: Platform) -> None:
    """Make this platform's sessions queue federation work (no-op when not federated)."""
    from idp.accounts import service

    if not platform.settings.federation_level:
        return
    _PLATFORMS[platform.db.engine] = platform
    if _queue_directory_registration not in service.CREATED_HOOKS:
        service.CREATED_HOOKS.append(_queue_directory_registration)
    from idp.federation import events  # registers the SET sender

    if events.identifier_hook not in service.CHANGED_HOOKS:
        service.CHANGED_HOOKS.append(events.identifier_hook)


def platform_of(session: Session) -> Platform | None:
    """The federated platform owning ``session``'s database, or None."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    return _PLATFORMS.get(engine) if engine is not None else None


def enqueue(session: Session, target: str, kind: str, payload: dict[str, Any]) -> OutboxItem:
    """Queue a delivery in the caller's transaction; the worker is woken at commit."""
    item = OutboxItem(target=target, kind=kind, payload=payload, next_attempt_at=utcnow())
    session.add(item)
    platform = platform_of(session)
    if platform is not None and not event.contains(session, "after_commit", _wake_after_commit):
        event.listen(session, "after_commit", _wake_after_commit)
    return item


def _wake_after_commit(session: Session) -> None:
    platform = platform_of(session)
    worker = platform.services.get(WORKER_KEY) if platform is not None else None
    if isinstance(worker, Worker):
        worker.wake()


def _queue_directory_registration(session: Session, person: Person) -> None:
    """`Accounts.create` hook: register the new account's blind index with the parent."""
    platform = platform_of(session)
    if platform is None or not platform.settings.federation_directory_key:
        return
    target = platform.settings.federation_parent.rstrip("/") or platform.settings.issuer.rstrip("/")
    enqueue(session, target, DIRECTORY, {"person_id": person.id})


# -- delivery -------------------------------------------------------------------------------


def backoff(attempts: int, base: int, cap: int) -> int:
    """Seconds before the next attempt after ``attempts`` failures: base·2ⁿ⁻¹, capped."""
    return int(min(cap, base * 2 ** max(0, attempts - 1)))


def _claim(session: Session, now: dt.datetime, limit: int) -> list[OutboxItem]:
    """Claim due items for this process (see the module docstring)."""
    due = select(OutboxItem).where(OutboxItem.status == PENDING,
                                   OutboxItem.next_attempt_at <= now).order_by(OutboxItem.id)
    lease = now + dt.timedelta(seconds=LEASE_SECONDS)
    if session.get_bind().dialect.name == "postgresql":
        items = list(session.scalars(due.limit(limit).with_for_update(skip_locked=True)))
        for item in items:
            item.next_attempt_at = lease
        return items
    claimed = []
    for item in session.scalars(due.limit(limit)).all():
        won = session.execute(update(OutboxItem).where(
            OutboxItem.id == item.id, OutboxItem.status == PENDING,
            OutboxItem.next_attempt_at == item.next_attempt_at).values(next_attempt_at=lease)
            .execution_options(synchronize_session=False))
        if won.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(item)
    return claimed


@dataclass
class Report:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(node: FederationNode, *, limit: int = BATCH,
                now: dt.datetime | None = None) -> Report:
    """Claim and deliver the items that are due; return what happened."""
    settings = node.platform.settings
    report = Report()
    with node.platform.db.session() as session:
        claimed = _claim(session, now or utcnow(), limit)  # committed: the claim holds
    for item in claimed:
        try:
            sender = _SENDERS.get(item.kind)
            if sender is None:
                raise DeliveryError(f"unknown kind {item.kind}", permanent=True)
            sender(node, item)
        except DeliveryError as exc:
            outcome = _failed(node, item, exc, settings.federation_outbox_retry_base,
                              settings.federation_outbox_retry_max)
            if outcome == FAILED:
                report.failed += 1
            else:
                report.retried += 1
        except Exception as exc:  # a bug must not stop the queue; the item is retried
            log.exception("federation outbox item %s raised", item.id)
            _failed(node, item, DeliveryError(type(exc).__name__),
                    settings.federation_outbox_retry_base, settings.federation_outbox_retry_max)
            report.retried += 1
        else:
            _delivered(node, item)
            report.delivered += 1
    return report


def _delivered(node: FederationNode, item: OutboxItem) -> None:
    with node.platform.db.session() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(
            status=DELIVERED, delivered_at=utcnow(), attempts=OutboxItem.attempts + 1,
            last_error=""))
        # The target answers again: what waited for it is due now (catch-up, not backoff).
        session.execute(update(OutboxItem).where(
            OutboxItem.target == item.target, OutboxItem.status == PENDING,
            OutboxItem.attempts > 0, OutboxItem.next_attempt_at > utcnow())
            .values(next_attempt_at=utcnow()))


def must_deliver(item: OutboxItem) -> bool:
    """A ban (account-disabled) or closure (account-purged) event: never given up."""
    from idp.federation import events

    found = item.payload.get("events") if isinstance(item.payload, dict) else None
    return item.kind == events.KIND and isinstance(found, dict) \
        and any(t in (events.DISABLED, events.PURGED) for t in found)


def _failed(node: FederationNode, item: OutboxItem, exc: DeliveryError, base: int,
            cap: int) -> str:
    attempts = item.attempts + 1
    forever = must_deliver(item)
    gave_up = not forever and (exc.permanent or attempts >= MAX_ATTEMPTS)
    overdue = forever and attempts == MAX_ATTEMPTS  # once: attempts only grow
    status = FAILED if gave_up else PENDING
    delay = backoff(attempts, base, cap)
    log.warning("federation delivery %s (%s) to %s failed, attempt %d: %s", item.id,
                item.kind, item.target, attempts, exc)
    with node.platform.db.session() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(
            status=status, attempts=attempts, last_error=str(exc)[:200],
            next_attempt_at=utcnow() + dt.timedelta(seconds=delay)))
        if gave_up:
            audit.record(session, actor="system", action="federation:outbox:give_up",
                         target=item.target[:128], outcome="failure",
                         details={"item": item.id, "kind": item.kind,
                                  "reason": str(exc)[:200], "attempts": attempts})
        if overdue:
            log.error("federation ban/closure %s to %s still undelivered after %d attempts; "
                      "retrying for ever: %s", item.id, item.target, attempts, exc)
            audit.record(session, actor="system", action="federation:outbox:overdue",
                         target=item.target[:128], outcome="failure",
                         details={"item": item.id, "kind": item.kind,
                                  "reason": str(exc)[:200], "attempts": attempts})
    return status


def pending_count(node: FederationNode) -> int:
    from sqlalchemy import func

    with node.platform.db.session() as session:
        return int(session.scalar(select(func.count(OutboxItem.id)).where(
            OutboxItem.status == PENDING)) or 0)


def retry_now(node: FederationNode) -> int:
    """Make every pending item due now (``idp federation deliver --now``); return how many."""
    with node.platform.db.session() as session:
        result = session.execute(update(OutboxItem).where(OutboxItem.status == PENDING)
                                 .values(next_attempt_at=utcnow()))
        return int(result.rowcount)  # type: ignore[attr-defined]


# -- the background deliverer ------------------------------------------------------------

WORKER_KEY = "federation_outbox_worker"


class Worker:
    """Delivers due items every ``interval`` seconds, or at once when woken (after commit)."""

    def __init__(self, node: FederationNode, interval: float) -> None:
        self.node = node
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="federation-outbox",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                while not self._stop.is_set() and deliver_due(self.node).delivered >= BATCH:
                    pass  # a backlog (a node came back): keep going without waiting
            except Exception:  # the database may be restarting: try again next round
                log.exception("federation outbox round failed")


def start_worker(node: FederationNode) -> Worker | None:
    """Start this process's deliverer once (server processes; not in tests, not in CLI)."""
    settings = node.platform.settings
    if not node.config.enabled or settings.federation_outbox_interval <= 0 or settings.testing:
        return None
    existing = node.platform.services.get(WORKER_KEY)
    if isinstance(existing, Worker):
        return existing
    worker = Worker(node, settings.federation_outbox_interval)
    node.platform.services[WORKER_KEY] = worker
    worker.start()
    return worker


def _deliver_directory(node: FederationNode, item: OutboxItem) -> None:
    """Register a local account's blind index with the parent (directory.py)."""
    from idp.accounts.models import Person
    from idp.federation.directory import AlreadyRegistered, DirectoryError, RateLimited
    from idp.federation.links import account_of

    with node.platform.db.session() as session:
        person = session.get(Person, item.payload.get("person_id"))
        if person is None or account_of(session, person.id) is not None:
            return  # deleted, or a federated person whose home is elsewhere: nothing to do
        id_type = person.id_type
        number = node.platform.protector.decrypt(person.id_number_enc, "person.id_number")
    try:
        node.directory.register_person(id_type, number)
    except AlreadyRegistered as exc:
        raise DeliveryError(f"already registered at {exc.home_node}", permanent=True) from exc
    except RateLimited as exc:
        raise DeliveryError("rate limited by the parent") from exc
    except DirectoryError as exc:
        raise DeliveryError(str(exc)) from exc


register_sender(DIRECTORY, _deliver_directory)
