"""The refresh rotation on PostgreSQL's driver (issue 2 performance).

The express lane's refresh (express.py) runs three statements in one transaction: read the
token with its person, taking the family's advisory lock (refresh.py); claim it and insert
its successor (`refresh.rotate`); append the audit record (`audit.record`). Through the
session each statement costs ≈ 70–90 µs of SQLAlchemy's CPU (execution context, result,
session bookkeeping) on top of the driver's ≈ 14 µs. Here the very same Core statements,
compiled once (`DriverStatement`), run on the driver's connection in one transaction
(`Database.driver_transaction`), with the same round trips. (psycopg's pipeline mode, which
would save two of the five round trips, cost more CPU than it saved: bench/README.md,
round 7.)
"""

from __future__ import annotations

from typing import Any

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.db import DriverStatement, utcnow
from idp.oidc import refresh
from idp.oidc.models import Client, RefreshToken
from idp.oidc.server import issue_event
from idp.oidc.tokens import AuthorizedPerson

_FIND = DriverStatement(refresh._FIND_WITH_PERSON_LOCKED)
_FOUND_NAMES = tuple(column.key for column in refresh._FIND_WITH_PERSON_LOCKED.selected_columns)
_CLAIM_AND_INSERT = DriverStatement(refresh._CLAIM_AND_INSERT)
_CLAIM = DriverStatement(refresh._CLAIM.returning(refresh._TABLE.c.id))
_APPEND = DriverStatement(audit.APPEND)


def find_with_person(connection: Any, secret_key: str, token: object
                     ) -> tuple[RefreshToken, Person | None] | None:
    """`refresh.find_with_person` on the driver ``connection``; the family's lock is held
    until the transaction ends."""
    if not refresh.is_token_shaped(token):
        return None
    cursor = connection.cursor()
    _FIND.execute(cursor, {"digest": refresh.digest(secret_key, token)})
    row = cursor.fetchone()
    return None if row is None else refresh.found_copies(
        dict(zip(_FOUND_NAMES, row, strict=True)))


def rotate_and_record(connection: Any, server: Any, old: RefreshToken, token: dict[str, Any],
                      client: Client, user: AuthorizedPerson, address: str) -> bool:
    """`refresh.rotate` of ``old`` to ``token``'s refresh token (if any), then
    `server.record_issue`'s audit append. False: nothing may be kept — the claim lost (a
    concurrent use won), or the chain has no head yet (the full path creates it) — and
    the caller must roll back."""
    now = utcnow()
    cursor = connection.cursor()
    successor = token.get("refresh_token")
    if successor is None:  # the scope dropped offline_access: retire only
        _CLAIM.execute(cursor, {"row_id": old.id, "now": now})
    else:
        settings = server.settings
        values = refresh.new_row_values(
            settings.secret_key, successor, client_id=client.client_id, user=user,
            scope=token.get("scope", ""), ttl=settings.refresh_token_ttl)
        _CLAIM_AND_INSERT.execute(cursor, refresh.claim_and_insert_params(old, now, values))
    if cursor.fetchone() is None:
        return False
    given = issue_event(token, client, "refresh_token", user, address)
    _APPEND.execute(cursor, audit.append_params(given))
    return cursor.fetchone() is not None
