"""``python -m bench.audit_append``: client CPU of one audit append on PostgreSQL, A/B.

A: round 4's append, two statements: bump the head (UPDATE … RETURNING seq, last_hash),
hash in Python, then insert the record and link the head in one CTE.
B: `idp.audit.service.record` today, one statement (the hash computed in SQL).
Each iteration runs in a transaction that is rolled back (same chain position every time);
the arms alternate in blocks so that machine load hits both alike (bench/README.md, round 5).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sqlalchemy import bindparam, insert, update

from bench.micro import bench_app


def _round4(session: Any) -> None:
    """Round 4's `record` body (bump, then insert-and-link), for the A arm."""
    from idp.audit import service
    from idp.db import utcnow

    head = service._bump_head(session)
    assert head is not None
    seq, prev_hash = head
    at = utcnow()
    fields: dict[str, Any] = dict(
        actor="client:bench", action="oidc:token:issue", target="person:1", outcome="success",
        address="127.0.0.1",
        details={"grant_type": "refresh_token", "scope": "openid", "refresh": True})
    digest = service._digest(prev_hash, seq, at, **fields)
    values = dict(seq=seq, at=at, **fields, prev_hash=prev_hash, hash=digest)
    session.execute(_INSERT_AND_LINK, {f"a_{k}": v for k, v in values.items()})
    session.flush()


def _one(session: Any) -> None:
    from idp.audit import service

    service.record(session, actor="client:bench", action="oidc:token:issue",
                   target="person:1", address="127.0.0.1",
                   details={"grant_type": "refresh_token", "scope": "openid", "refresh": True})


def _insert_and_link() -> Any:
    from idp.audit.models import AuditHead, AuditRecord

    head = AuditHead.__table__
    names = ("seq", "at", "actor", "action", "target", "outcome", "address", "details",
             "prev_hash", "hash")
    return (update(head).where(head.c.id == 1).values(last_hash=bindparam("a_hash"))
            .add_cte(insert(AuditRecord.__table__)
                     .values({n: bindparam(f"a_{n}") for n in names}).cte("appended")))


_INSERT_AND_LINK: Any = None


def main() -> None:
    global _INSERT_AND_LINK
    p = argparse.ArgumentParser(prog="python -m bench.audit_append")
    p.add_argument("-n", type=int, default=2000, help="iterations per arm")
    args = p.parse_args()
    with bench_app(1) as (app, _fx):
        platform = app.extensions["idp"]
        _INSERT_AND_LINK = _insert_and_link()
        with platform.db.session() as session:  # the head exists from here on
            _one(session)
        totals = {"A round 4, two statements": 0.0, "B one statement": 0.0}
        block = 200
        for start in range(0, args.n, block):
            for name, arm in zip(totals, (_round4, _one), strict=True):
                session = platform.db.sessions()
                arm(session)  # BEGIN, warm
                session.rollback()
                t0 = time.process_time()
                for _ in range(min(block, args.n - start)):
                    arm(session)
                    session.rollback()
                totals[name] += time.process_time() - t0
                session.close()
        for name, total in totals.items():
            print(f"{name:26} {total / args.n * 1e6:7.0f} µs client CPU per append "
                  "(incl. BEGIN + ROLLBACK)")
        platform.db.dispose()


if __name__ == "__main__":
    main()
