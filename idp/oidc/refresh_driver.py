"""The refresh rotation on PostgreSQL's driver, in two round trips (issue 2 performance).

The express lane's refresh (express.py) reads the token with its person, claims it and
inserts its successor (`refresh.rotate`), and appends the audit record (`audit.record`).
Through the session that is five round trips — BEGIN, three statements, COMMIT — and
≈ 70–90 µs of SQLAlchemy's CPU per statement; over HTTP each round trip also costs the
worker ≈ 100 µs in thread switches (bench/README.md, round 7). Here, on the driver's
connection in autocommit (`Database.autocommit_driver`), it is two statements:

1. the read;
2. one statement (`_ROTATE`, `_RETIRE`) that locks the person's row (key share) and takes
   the family's advisory lock (`refresh.family_lock`), then claims the token, inserts the
   successor and appends the audit record — each part only if the one before it happened,
   and the claim only if the chain has a head (the full path creates it). One statement
   is one transaction: all of it or, when the claim loses (a concurrent use won, a
   revocation came first), nothing.

The lock is taken in the claim's condition, before the token's row is locked: a
revocation holding it (`refresh.revoke_family`) makes the claim wait, then re-check the
row as the revocation left it and lose; a revocation arriving later waits for the
statement's commit and then sees the successor. The statements are refresh.py's and
audit/service.py's own Core statements, composed and compiled once (`DriverStatement`),
bound by the same processors.
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

_FIND = DriverStatement(refresh._FIND_WITH_PERSON)
_FOUND_NAMES = tuple(column.key for column in refresh._FIND_WITH_PERSON.selected_columns)
_TABLE = refresh._TABLE
# Locks in the order person (`refresh.PERSON_LOCKED`), family, token, audit head.
_CLAIMED = (refresh._CLAIM.where(refresh.PERSON_LOCKED,
                                 refresh.family_lock(_TABLE.c.family_id).is_not(None),
                                 audit.HEAD_EXISTS)
            .returning(_TABLE.c.id).cte("claimed"))
# Rotate: claim, insert the successor, append. Retire (no successor): claim, append.
_ROTATE = DriverStatement(audit.append_statement(
    after=refresh.successor_insert(_CLAIMED).cte("successor")))
_RETIRE = DriverStatement(audit.append_statement(after=_CLAIMED))


def find_with_person(connection: Any, secret_key: str, token: object
                     ) -> tuple[RefreshToken, Person | None] | None:
    """`refresh.find_with_person` on the driver ``connection`` (no lock: `rotate_and_record`
    takes it)."""
    if not refresh.is_token_shaped(token):
        return None
    rows = _FIND.rows(connection, {"digest": refresh.digest(secret_key, token)})
    return refresh.found_copies(dict(zip(_FOUND_NAMES, rows[0], strict=True))) if rows else None


def rotate_and_record(connection: Any, server: Any, old: RefreshToken, token: dict[str, Any],
                      client: Client, user: AuthorizedPerson, address: str) -> bool:
    """`refresh.rotate` of ``old`` to ``token``'s refresh token (if any) and
    `server.record_issue`'s audit append, in one statement. False: nothing was changed —
    the claim lost, or the chain has no head yet — and the caller hands over."""
    now = utcnow()
    given = issue_event(token, client, "refresh_token", user, address)
    params = {"row_id": old.id, "person_id": old.person_id, "now": now,
              **audit.append_params(given)}
    successor = token.get("refresh_token")
    if successor is None:  # the scope dropped offline_access: retire only
        return bool(_RETIRE.rows(connection, params))
    settings = server.settings
    values = refresh.new_row_values(
        settings.secret_key, successor, client_id=client.client_id, user=user,
        scope=token.get("scope", ""), ttl=settings.refresh_token_ttl)
    params = refresh.claim_and_insert_params(old, now, values) | params
    return bool(_ROTATE.rows(connection, params))
