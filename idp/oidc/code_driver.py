"""The authorization code's redemption on PostgreSQL's driver, in two round trips (issue 2
performance).

Redeeming a code at /token (code.py `AuthorizationCodeGrant`) reads the person
(`code.read_person`), stores the refresh token when offline access was granted
(`refresh.store`) and appends the audit record (`server.record_issue`). Through the session
that is five round trips — BEGIN, three statements, COMMIT — and ≈ 70–90 µs of
SQLAlchemy's CPU per statement; over HTTP each round trip also costs the worker thread
switches (bench/README.md, round 7). Here, on the driver's connection in autocommit
(`Database.autocommit_driver`), as the refresh rotation does it (refresh_driver.py), it is
two statements:

1. the person's read: person_cache.py's own select, giving the same `PersonSnapshot`;
2. one statement (`_STORE_AND_RECORD`) that locks the person's row (key share,
   `refresh.PERSON_LOCKED`: so its locks come in the order person, audit head), checks
   that the chain has a head, inserts the refresh token and appends the audit record — the
   append only if the insert happened. Without a refresh token it is the append alone
   (`audit.APPEND`). One statement is one transaction: all of it or nothing. Nothing (the
   chain has no head yet, the person is gone): the caller records through the session as
   before, which creates the head.

The statements are refresh.py's, person_cache.py's and audit/service.py's own Core
statements, compiled once (`DriverStatement`), bound by the same processors. A code acting
for a legal person (`acting.resolve` reads through the session) and a federation peer's
(`peer_clients.record_issue` writes through it) keep the session path: they would pay its
BEGIN and COMMIT anyway (`applies`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column, select

from idp.audit import service as audit
from idp.db import Database, DriverStatement
from idp.oidc import person_cache, refresh
from idp.oidc.codes import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.person_cache import PersonSnapshot
from idp.oidc.tokens import AuthorizedPerson

GRANT_TYPE = "authorization_code"
_READ = DriverStatement(person_cache._SELECT)
# One row when the person is there (now locked) and the chain has a head: the refresh
# token is inserted for it, and the record appended only after that insert.
_READY = (select(literal_column("1")).where(refresh.PERSON_LOCKED, audit.HEAD_EXISTS)
          .cte("ready"))
_STORE_AND_RECORD = DriverStatement(audit.append_statement(
    after=refresh.successor_insert(_READY).cte("stored")))
_RECORD = DriverStatement(audit.APPEND)


def applies(database: Database, code: AuthorizationCode, client: Client) -> bool:
    """Whether redeeming ``code`` for ``client`` takes the driver: on PostgreSQL, unless
    the code acts for a legal person or the client is a federation peer."""
    return (database.drives_psycopg and code.acting is None
            and not getattr(client, "federation_peer", False))


def read_person(connection: Any, person_id: int) -> PersonSnapshot | None:
    """`person_cache.load` on the driver ``connection``."""
    rows = _READ.rows(connection, {"person_id": person_id})
    return PersonSnapshot(*rows[0]) if rows else None


def store_and_record(connection: Any, server: Any, token: dict[str, Any], client: Client,
                     user: AuthorizedPerson, address: str) -> bool:
    """`server.record_issue` of ``token`` in one statement. False: nothing was written —
    the chain has no head yet, or the person is gone — and the caller records through
    the session."""
    from idp.oidc.server import issue_event  # server.py imports code.py, which imports this

    params = audit.append_params(issue_event(token, client, GRANT_TYPE, user, address))
    secret = token.get("refresh_token")
    if not secret:
        return bool(_RECORD.rows(connection, params))
    settings = server.settings
    values = refresh.new_row_values(
        settings.secret_key, secret, client_id=client.client_id, user=user,
        scope=token.get("scope", ""), ttl=settings.refresh_token_ttl)
    params |= {"person_id": user.person.id, **refresh.insert_params(values)}
    return bool(_STORE_AND_RECORD.rows(connection, params))
