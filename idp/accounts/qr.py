"""QR-code login tickets (R-30): a browser shows a one-time ticket, the signed-in app confirms.

A ticket lives in the Store for ``ttl`` seconds and moves ``pending → scanned →
confirmed | denied``. It is bound to the browser that created it by a random secret kept in
that browser's session cookie (only its keyed digest is stored), so a ticket id read off a
screen or a photo cannot be completed in another browser. The first person to scan owns the
ticket; only they may confirm or deny it. The browser redeems a confirmed ticket by popping
it from the Store, so it completes at most one login (no replay).

No Flask here: the pages (`idp.web.login_qr`) and the API (`idp.accounts.api`) call this.
"""

from __future__ import annotations

import enum
import hmac
import time
from dataclasses import asdict, dataclass

from idp.accounts.stepup import level_of_acr
from idp.crypto import keyed_digest, random_token
from idp.store import Store, get_json, pop_json, set_json

MAX_TICKET_LENGTH = 64


class TicketState(enum.StrEnum):
    PENDING = "pending"
    SCANNED = "scanned"
    CONFIRMED = "confirmed"
    DENIED = "denied"
    EXPIRED = "expired"  # never stored: what a browser is told once the ticket is gone


class QrError(Exception):
    """A ticket operation was refused; ``code`` says why (API problem type, audit reason)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Ticket:
    id: str
    browser: str  # keyed digest of the browser's secret
    state: str
    created: int
    expires: int
    client_id: str  # the relying party waiting for this login ("" for the account centre)
    client_name: str
    browser_info: str  # coarse: browser family and OS, e.g. "Chrome · Windows"
    address: str  # coarse: the browser's network, e.g. "203.0.113.*"
    person_id: int | None = None  # who scanned
    app_client_id: str = ""
    app_level: int = 0  # real-name level of the app's own sign-in (its token's acr)

    def remaining(self, now: int) -> int:
        return max(0, self.expires - now)


class QrTickets:
    """Create, observe, scan, confirm, deny and redeem login tickets in the Store."""

    def __init__(self, store: Store, secret_key: str, ttl: int) -> None:
        self._store = store
        self._secret_key = secret_key
        self.ttl = max(1, ttl)

    # -- browser side --------------------------------------------------------------------------

    def create(self, *, client_id: str, client_name: str, browser_info: str,
               address: str) -> tuple[Ticket, str]:
        """A fresh ticket and the browser secret that alone may redeem it."""
        now = int(time.time())
        secret = random_token(24)
        ticket = Ticket(id=random_token(18), browser=self._digest(secret),
                        state=TicketState.PENDING.value, created=now, expires=now + self.ttl,
                        client_id=client_id, client_name=client_name[:64],
                        browser_info=browser_info[:64], address=address[:64])
        set_json(self._store, self._key(ticket.id), asdict(ticket), self.ttl)
        return ticket, secret

    def status(self, ticket_id: str, secret: str) -> tuple[TicketState, int]:
        """What the waiting browser sees: the state and the seconds left (expired: 0)."""
        ticket = self._load(ticket_id)
        if ticket is None or not self._owns(ticket, secret):
            return TicketState.EXPIRED, 0
        return TicketState(ticket.state), ticket.remaining(int(time.time()))

    def redeem(self, ticket_id: str, secret: str) -> Ticket:
        """Take a confirmed ticket out of the Store for its own browser; once only."""
        ticket = self._load(ticket_id)
        if ticket is None:
            raise QrError("expired")
        if not self._owns(ticket, secret):
            raise QrError("wrong_browser")
        if ticket.state != TicketState.CONFIRMED.value:
            raise QrError("not_confirmed")
        popped = pop_json(self._store, self._key(ticket_id))
        if popped is None or popped.get("state") != TicketState.CONFIRMED.value:
            raise QrError("expired")  # another request redeemed it first
        self._store.delete(self._scan_key(ticket_id))
        return Ticket(**popped)

    def cancel(self, ticket_id: str, secret: str) -> None:
        """The browser abandons its ticket (a new code was requested)."""
        ticket = self._load(ticket_id)
        if ticket is not None and self._owns(ticket, secret):
            self._store.delete(self._key(ticket_id), self._scan_key(ticket_id))

    # -- app side ------------------------------------------------------------------------------

    def scan(self, ticket_id: str, *, person_id: int, app_client_id: str) -> Ticket:
        """The app read the code: the first person to scan owns the ticket from now on."""
        ticket = self._require(ticket_id)
        if not self._store.add(self._scan_key(ticket_id), str(person_id),
                               ticket.remaining(int(time.time())) or 1):
            if self._store.get(self._scan_key(ticket_id)) != str(person_id):
                raise QrError("taken")
            return ticket  # the same person scanning twice (app retry) is harmless
        ticket.state = TicketState.SCANNED.value
        ticket.person_id = person_id
        ticket.app_client_id = app_client_id
        self._save(ticket)
        return ticket

    def confirm(self, ticket_id: str, *, person_id: int, app_acr: str) -> Ticket:
        """The person approves the login on the phone; the browser notices on its next poll."""
        ticket = self._scanned_by(ticket_id, person_id)
        ticket.state = TicketState.CONFIRMED.value
        ticket.app_level = max(1, level_of_acr(app_acr))
        self._save(ticket)
        return ticket

    def deny(self, ticket_id: str, *, person_id: int) -> Ticket:
        """The person refuses: the browser is told, and the ticket can never be confirmed."""
        ticket = self._scanned_by(ticket_id, person_id)
        ticket.state = TicketState.DENIED.value
        self._save(ticket)
        return ticket

    # -- internals -----------------------------------------------------------------------------

    def _scanned_by(self, ticket_id: str, person_id: int) -> Ticket:
        ticket = self._require(ticket_id)
        if ticket.person_id is None:
            raise QrError("not_scanned")
        if ticket.person_id != person_id:
            raise QrError("taken")
        if ticket.state != TicketState.SCANNED.value:
            raise QrError("already_decided")
        return ticket

    def _require(self, ticket_id: str) -> Ticket:
        ticket = self._load(ticket_id)
        if ticket is None:
            raise QrError("expired")
        return ticket

    def _load(self, ticket_id: str) -> Ticket | None:
        if not ticket_id or len(ticket_id) > MAX_TICKET_LENGTH or not ticket_id.isascii():
            return None
        data = get_json(self._store, self._key(ticket_id))
        if data is None:
            return None
        ticket = Ticket(**data)
        return ticket if ticket.remaining(int(time.time())) > 0 else None

    def _save(self, ticket: Ticket) -> None:
        # Keep the original deadline: scanning or confirming never extends a ticket's life.
        left = ticket.remaining(int(time.time()))
        if left <= 0:
            raise QrError("expired")
        set_json(self._store, self._key(ticket.id), asdict(ticket), left)

    def _owns(self, ticket: Ticket, secret: str) -> bool:
        if not secret:
            return False
        return hmac.compare_digest(ticket.browser, self._digest(secret))

    def _digest(self, secret: str) -> str:
        return keyed_digest(self._secret_key, "qr-browser\x00" + secret)

    @staticmethod
    def _key(ticket_id: str) -> str:
        return f"qr:{ticket_id}"

    @staticmethod
    def _scan_key(ticket_id: str) -> str:
        return f"qr-scan:{ticket_id}"


def session_level(account_level: int, app_level: int) -> int:
    """The level a QR login is worth: never more than the account, nor than the app's sign-in.

    The browser inherits the phone's authentication, so it cannot be stronger than it
    (DESIGN.md "Assurance"): an app signed in by password gives at most what a password gives.
    """
    return max(1, min(account_level, app_level or 1))


def coarse_browser(user_agent: str) -> str:
    """Browser family and operating system only, for the phone's "is this you?" screen."""
    ua = user_agent[:512]
    family = next((name for token, name in _BROWSERS if token in ua), "")
    system = next((name for token, name in _SYSTEMS if token in ua), "")
    return " · ".join(x for x in (family, system) if x) or "?"


def coarse_address(address: str) -> str:
    """The browser's network, not its host: IPv4 /24 or the first IPv6 groups."""
    if address.count(".") == 3:
        return ".".join(address.split(".")[:3]) + ".*"
    if ":" in address:
        return ":".join(address.split(":")[:3]) + ":*"
    return "?"


_BROWSERS = (("MicroMessenger", "WeChat"), ("Edg/", "Edge"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
            ("Mac OS", "macOS"), ("Linux", "Linux"))
