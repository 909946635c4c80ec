"""``python -m bench.rotation``: client CPU of a refresh rotation's statements, A/B.

A: claim (UPDATE) then INSERT the successor, two statements (what other databases run).
B: `idp.oidc.refresh.rotate` on PostgreSQL, one data-modifying CTE. Each iteration runs in a
transaction that is rolled back, so the same token is claimed every time; the arms
alternate in blocks so that machine load hits both alike (bench/README.md, round 4).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.micro import Caller, bench_app, flow


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.rotation")
    p.add_argument("-n", type=int, default=2000, help="iterations per arm")
    args = p.parse_args()
    with bench_app(1) as (app, fx):
        from idp.oidc import refresh
        from idp.oidc.tokens import AuthorizedPerson

        platform = app.extensions["idp"]
        token = flow(Caller(app), fx, fx["users"][0])["refresh_token"]
        key = platform.settings.secret_key
        with platform.db.session() as session:
            row, person = refresh.find_with_person(session, key, token)
        user = AuthorizedPerson(person, None, row.auth_time, row.acr, list(row.amr),
                                gid=row.family_id, sub=person.sub)
        kw: dict[str, Any] = dict(client_id=row.client_id, user=user, scope=row.scope, ttl=60)

        def two(session: Any) -> None:
            assert session.execute(refresh._CLAIM, {"row_id": row.id,
                                                    "now": refresh.utcnow()}).rowcount == 1
            session.execute(refresh._INSERT, refresh._values(key, "successor", **kw))

        def one(session: Any) -> None:
            assert refresh.rotate(session, key, row, "successor", **kw)

        totals = {"A two statements": 0.0, "B one CTE": 0.0}
        block = 200
        for start in range(0, args.n, block):
            for name, arm in zip(totals, (two, one), strict=True):
                session = platform.db.sessions()
                session.execute(refresh._FIND_WITH_PERSON, {"digest": "warm"})  # BEGIN
                t0 = time.process_time()
                for _ in range(min(block, args.n - start)):
                    arm(session)
                    session.rollback()
                    session.execute(refresh._FIND_WITH_PERSON, {"digest": "warm"})
                totals[name] += time.process_time() - t0
                session.rollback()
                session.close()
        for name, total in totals.items():
            print(f"{name:18} {total / args.n * 1e6:7.0f} µs client CPU per rotation "
                  "(incl. ROLLBACK + BEGIN + one select)")
        platform.db.dispose()


if __name__ == "__main__":
    main()
