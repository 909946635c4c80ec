"""Shared helpers for the delegation tests: people, a legal person, a three-level tree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from idp.db import utcnow
from idp.delegation.service import Delegation
from idp.orgs.service import Orgs
from idp.platform import Platform
from idp.realname.documents import mod11_2

CREDIT_CODE = "91350100M000100Y43"


def id_number(seq: int) -> str:
    body = f"11010519800101{seq:03d}"
    return body + mod11_2(body)


def phone(seq: int) -> str:
    return f"1390000{seq:04d}"


def days(n: float) -> dt.datetime:
    return utcnow() + dt.timedelta(days=n)


@contextmanager
def delegation(platform: Platform) -> Iterator[Delegation]:
    """A unit of work: commits (and sends the SMS) on success, rolls back on error."""
    with platform.db.session() as session:
        yield Delegation.from_platform(session, platform)


@dataclass
class Tree:
    """rep → a (level 1) → b (level 2) → c (level 3), plus outsiders d and e."""

    platform: Platform
    org_id: int
    people: dict[str, object]  # name → Citizen
    grants: dict[str, int]  # grantee name → grant id

    def pid(self, name: str) -> int:
        return self.people[name].person_id  # type: ignore[attr-defined,no-any-return]

    def phone(self, name: str) -> str:
        return self.people[name].phone  # type: ignore[attr-defined,no-any-return]


def open_org(platform: Platform, rep_id: int, code: str = CREDIT_CODE,
             name: str = "福州示例科技有限公司") -> int:
    with platform.db.session() as session:
        org = Orgs(session).open_account(credit_code=code, name=name, kind="enterprise",
                                         representative_person_id=rep_id,
                                         opened_by="representative_online", actor="test")
        return org.id


def build_tree(platform: Platform, make_citizen: Callable[..., object]) -> Tree:
    names = ["rep", "a", "b", "c", "d", "e"]
    people = {n: make_citizen(id_number=id_number(i + 1), phone=phone(i + 1), name="张三")
              for i, n in enumerate(names)}
    tree = Tree(platform, 0, people, {})
    tree.org_id = open_org(platform, tree.pid("rep"))
    with delegation(platform) as d:
        a = d.grant(tree.pid("rep"), tree.org_id, tree.pid("a"),
                    [("dept-a", "*"), ("dept-b", "read")], days(30), may_redelegate=True)
        b = d.grant(tree.pid("a"), tree.org_id, tree.pid("b"),
                    [("dept-a", "*")], days(20), may_redelegate=True, parent_grant_id=a.id)
        c = d.grant(tree.pid("b"), tree.org_id, tree.pid("c"),
                    [("dept-a", "licence"), ("dept-a", "tax")], days(10),
                    parent_grant_id=b.id)
        tree.grants = {"a": a.id, "b": b.id, "c": c.id}
    return tree
