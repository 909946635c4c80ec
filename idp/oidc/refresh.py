"""Refresh tokens: opaque, stored as keyed digests, rotated on use (DESIGN.md "Tokens").

RFC 9700 §4.14.2: every use returns a new refresh token and retires the old one; presenting
a retired token again means it leaked, so the whole family (every token descending from
the same authorization) is revoked, along with the access tokens of that grant. The old
token is claimed (retired) in the same statement that stores its successor (`rotate`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, TypeGuard

from authlib.oauth2.rfc6749 import InvalidGrantError, grants
from sqlalchemy import CTE, Insert, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.crypto import keyed_digest, random_token
from idp.db import loaded_copy, utcnow
from idp.oidc.client_auth import ALL_METHODS
from idp.oidc.models import Client, RefreshToken
from idp.oidc.revoked import RevocationList
from idp.oidc.tokens import AuthorizedPerson

log = logging.getLogger(__name__)
MAX_TOKEN_LENGTH = 128
_TABLE = RefreshToken.__table__  # type: ignore[attr-defined]
_PERSON_COLUMNS = [Person.__table__.c[name] for name in (  # type: ignore[attr-defined]
    "id", "sub", "status", "security_epoch")]
# Statements built once: building and hashing a statement costs more than running it.
_INSERT = insert(_TABLE)
_FIND_WITH_PERSON = (
    select(*_TABLE.columns, *[c.label(f"p_{c.name}") for c in _PERSON_COLUMNS])
    .outerjoin(Person.__table__, Person.__table__.c.id == _TABLE.c.person_id)  # type: ignore[attr-defined]
    .where(_TABLE.c.token_digest == bindparam("digest")))


def family_lock(family_id: Any) -> Any:
    """PostgreSQL: the family's transaction-scoped advisory lock, taken while the token is
    read and held until the rotation commits (refresh_driver.py: taken by the one statement
    that rotates); `revoke_family` takes it first. A revocation therefore never runs beside
    a rotation of its family: its UPDATE sees the successor (review: a successor committed
    during the UPDATE escaped it, the grant living on)."""
    return func.pg_advisory_xact_lock(func.hashtext(family_id))


_FIND_WITH_PERSON_LOCKED = _FIND_WITH_PERSON.add_columns(
    family_lock(_TABLE.c.family_id).label("family_lock"))
# Only a token neither rotated nor revoked is claimed: a revocation committed after the
# token was read makes the rotation lose (no successor), as a concurrent use does.
_CLAIM = (update(_TABLE).where(_TABLE.c.id == bindparam("row_id"),
                               _TABLE.c.rotated_at.is_(None), _TABLE.c.revoked_at.is_(None))
          .values(rotated_at=bindparam("now")))
_NEW_COLUMNS = [c for c in _TABLE.columns if c.name not in ("id", "rotated_at", "revoked_at")]


def successor_insert(claimed: CTE) -> Insert:
    """The INSERT of a new token (``n_``-prefixed parameters, `insert_params`) for each row
    ``claimed`` returns: none when the claim lost (or code_driver.py's condition failed)."""
    return insert(_TABLE).from_select(
        [c.name for c in _NEW_COLUMNS],
        select(*[bindparam(f"n_{c.name}", type_=c.type) for c in _NEW_COLUMNS])
        .select_from(claimed)).returning(_TABLE.c.id)


# PostgreSQL, in the statements that insert a token, then append to the audit chain
# (refresh_driver.py, code_driver.py): the person's row locked first (KEY SHARE: what the
# token's foreign key takes anyway), in an uncorrelated condition PostgreSQL evaluates once,
# before anything else. Such a statement thus takes its locks in the order person, …, audit
# head — never the head and then a lock a ban or a logout holds (review: the foreign key's
# own check came last, with the head held, and deadlocked with a ban holding the person).
_PERSON = Person.__table__  # type: ignore[attr-defined]
PERSON_LOCKED = exists(select(_PERSON.c.id).where(_PERSON.c.id == bindparam("person_id"))
                       .with_for_update(read=True, key_share=True))


# PostgreSQL: retire the old token and insert its successor in one statement (a
# data-modifying CTE): the INSERT selects from the claim, so it inserts a row only if the
# claim won. The claim's row lock makes a concurrent rotation of the same token wait and
# then find ``rotated_at`` set: it inserts nothing (bench/README.md, round 4).
_CLAIM_AND_INSERT = successor_insert(_CLAIM.returning(_TABLE.c.id).cte("claimed"))
_PRESTORED = "idp.refresh.prestored"  # Session.info key: successor already inserted


def digest(secret_key: str, token: str) -> str:
    return keyed_digest(secret_key, f"refresh\x00{token}")


def new_token() -> str:
    return random_token(32)


def store(session: Session, secret_key: str, token: str, *, client_id: str,
          user: AuthorizedPerson, scope: str, ttl: int) -> None:
    """Record a freshly issued refresh token (only its digest); one Core INSERT.

    Nothing to do when `rotate` already inserted this token in its claim statement."""
    values = new_row_values(secret_key, token, client_id=client_id, user=user, scope=scope,
                            ttl=ttl)
    if session.info.pop(_PRESTORED, None) == values["token_digest"]:
        return
    session.execute(_INSERT, values)


def new_row_values(secret_key: str, token: str, *, client_id: str, user: AuthorizedPerson,
                   scope: str, ttl: int) -> dict[str, object]:
    now = utcnow()
    return dict(
        token_digest=digest(secret_key, token), family_id=user.gid, client_id=client_id,
        person_id=user.person.id, sid=user.sid, scope=scope, epoch=user.person.security_epoch,
        auth_time=user.auth_time, acr=user.acr, amr=list(user.amr),
        acting=user.acting.ref.dump() if user.acting is not None else None, issued_at=now,
        expires_at=now + dt.timedelta(seconds=ttl))


def rotate(session: Session, secret_key: str, old: RefreshToken, token: str | None, *,
           client_id: str, user: AuthorizedPerson, scope: str, ttl: int) -> bool:
    """Retire ``old`` and record its successor ``token`` (None: none issued, the scope
    dropped offline_access). False: ``old`` was already retired (a concurrent use won).

    One statement on PostgreSQL (claim and insert), two elsewhere; `store` then skips
    the successor."""
    now = utcnow()
    if token is None:
        return bool(session.execute(_CLAIM, {"row_id": old.id, "now": now}).rowcount)  # type: ignore[attr-defined]
    values = new_row_values(secret_key, token, client_id=client_id, user=user, scope=scope,
                            ttl=ttl)
    if session.get_bind().dialect.name == "postgresql":
        won = session.execute(_CLAIM_AND_INSERT, claim_and_insert_params(old, now, values))
        if won.first() is None:  # the claim lost: nothing inserted
            return False
    else:
        if session.execute(_CLAIM, {"row_id": old.id, "now": now}).rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.execute(_INSERT, values)
    session.info[_PRESTORED] = values["token_digest"]
    return True


def claim_and_insert_params(old: RefreshToken, now: dt.datetime,
                            values: dict[str, object]) -> dict[str, object]:
    """The parameters of `_CLAIM_AND_INSERT`: retire ``old`` at ``now``, insert ``values``."""
    return {"row_id": old.id, "now": now, **insert_params(values)}


def insert_params(values: dict[str, object]) -> dict[str, object]:
    """`successor_insert`'s parameters for a row of ``values`` (`new_row_values`)."""
    return {f"n_{k}": v for k, v in values.items()}


def is_token_shaped(token: object) -> TypeGuard[str]:
    """Only a non-empty string of at most `MAX_TOKEN_LENGTH` can be a refresh token."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH


def find(session: Session, secret_key: str, token: object) -> RefreshToken | None:
    if not is_token_shaped(token):
        return None
    return session.scalars(select(RefreshToken).where(
        RefreshToken.token_digest == digest(secret_key, token))).one_or_none()


def find_with_person(session: Session, secret_key: str, token: object
                     ) -> tuple[RefreshToken, Person | None] | None:
    """`find` for the refresh grant: the token and its person's claim columns in one Core
    select, as read-only copies (the grant changes rows by statement, never by object)."""
    if not is_token_shaped(token):
        return None
    locks = session.get_bind().dialect.name == "postgresql"
    row = session.execute(_FIND_WITH_PERSON_LOCKED if locks else _FIND_WITH_PERSON,
                          {"digest": digest(secret_key, token)}).first()
    return None if row is None else found_copies(row._asdict())


def found_copies(values: dict[str, Any]) -> tuple[RefreshToken, Person | None]:
    """The token and its person (None: gone) from a `_FIND_WITH_PERSON` row by name."""
    values.pop("family_lock", None)
    person_values = {c.name: values.pop(f"p_{c.name}") for c in _PERSON_COLUMNS}
    person = loaded_copy(Person, person_values) if person_values["id"] is not None else None
    return loaded_copy(RefreshToken, values), person


def is_live(row: RefreshToken) -> bool:
    return row.rotated_at is None and row.revoked_at is None and row.expires_at > utcnow()


def revoke_family(session: Session, revoked: RevocationList, family_id: str) -> None:
    """Revoke every refresh token of a grant, and its access tokens (via ``gid``); on
    PostgreSQL after any rotation of the family in flight has ended (`family_lock`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(family_lock(family_id)))
    session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))
    revoked.revoke("gid", family_id)


def revoke_person(session: Session, person_id: int) -> int:
    """Revoke every refresh token of a person (ban, password reset)."""
    result = session.execute(update(RefreshToken).where(RefreshToken.person_id == person_id,
                                                        RefreshToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def authorized_person(server: Any, session: Session | None, row: RefreshToken,
                      person: Person | None, client: Client) -> AuthorizedPerson | None:
    """Who a refresh token speaks for now: None unless its person is still active with the
    epoch it was issued under; `InvalidGrantError` when its authority to act ended.
    ``session`` (to re-read that authority) may be None for a grant acting for no one."""
    if person is None or not person.is_active or person.security_epoch != row.epoch:
        return None
    live = None
    if row.acting is not None:  # issue 4 item 5: the authority, live
        from idp.oidc.acting import resolve

        assert session is not None
        live = resolve(session, person.id, row.acting, client, server.settings.secret_key)
        if live is None:
            raise InvalidGrantError("The authority to act for the legal person ended.")
    # Refresh tokens are offline grants (OIDC Core §11): tokens minted from them are not
    # tied to the browser session, so they carry no ``sid``.
    return AuthorizedPerson(person, None, row.auth_time, row.acr, list(row.amr),
                            gid=row.family_id, sub=server.subject(client, person), acting=live)


def keeps_offline_access(scope: str | None) -> bool:
    """A new refresh token only while the grant keeps ``offline_access`` (OIDC Core §11)."""
    return "offline_access" in (scope or "").split()


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation and reuse detection."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):  # type: ignore[no-untyped-def]
        server = self.server
        found = find_with_person(server.db(), server.settings.secret_key, refresh_token)
        if found is None:
            return None
        row, self._person = found
        if row.rotated_at is not None and row.revoked_at is None:
            self._reuse_detected(row)
            return None
        return row if is_live(row) else None

    def _reuse_detected(self, row: RefreshToken) -> None:
        server = self.server
        revoke_family(server.db(), server.revoked, row.family_id)
        audit.record(server.db(), actor=f"client:{row.client_id}", action="oidc:refresh:reuse",
                     target=f"person:{row.person_id}", outcome="failure",
                     address=server.remote_addr(), details={"family": row.family_id[:8]})
        log.warning("refresh token reuse: family revoked client=%s", row.client_id)

    def authenticate_user(self, refresh_token: RefreshToken):  # type: ignore[no-untyped-def]
        """The person the token speaks for; a token whose person was banned, closed or had
        the password reset (epoch moved) is an invalid grant (RFC 6749 §5.2: "revoked"),
        not authlib's ``invalid_request`` ("There is no 'user' for this token")."""
        user = authorized_person(self.server, self.server.db(), refresh_token, self._person,
                                 self.request.client)
        if user is None:
            raise InvalidGrantError("The refresh token's person can no longer be issued "
                                    "tokens.")
        return user

    def generate_token(self, user=None, scope=None, grant_type=None,  # type: ignore[no-untyped-def]
                       expires_in=None, include_refresh_token=True):
        include = include_refresh_token and keeps_offline_access(scope)
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def save_token(self, token):  # type: ignore[no-untyped-def]
        """Claim the old token atomically with storing the new one: of two concurrent uses,
        only one wins; the other is treated as reuse (family revoked, invalid_grant)."""
        row: RefreshToken = self.request.refresh_token
        server = self.server
        if not rotate(server.db(), server.settings.secret_key, row, token.get("refresh_token"),
                      client_id=self.request.client.client_id, user=self.request.user,
                      scope=token.get("scope", ""), ttl=server.settings.refresh_token_ttl):
            self._reuse_detected(row)
            raise InvalidGrantError()
        return super().save_token(token)  # audit; `store` finds the successor stored

    def revoke_old_credential(self, refresh_token):  # type: ignore[no-untyped-def]
        """Already retired when claimed in `save_token`."""
