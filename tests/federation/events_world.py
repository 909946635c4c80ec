"""A person of city A1 linked at province B and at B's city B1, for status-event tests.

Built on the in-process harness (harness.py): five nodes, P created at A1 through
`Accounts.create`, linked at B (home A1) and at B1 (home B) with `links.link_account`, the
home sides recording their subscribers as a brokered login would. B1 has a department
system with back-channel logout and a live SSO session of P.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from idp.accounts import bans
from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.federation import links, outbox
from idp.federation.outbox import OutboxItem
from idp.oidc import logout, runtime
from tests.admin.bans_helpers import ADDRESS, staff_member
from tests.federation.conftest import build_federation
from tests.federation.harness import Federation, Node
from tests.oidc.helpers import register

NUMBER = "350203199001011234"
CLAIMS = {"id_type": "resident_id", "id_number": NUMBER, "name": "林小明"}
SUB_AT_B, SUB_AT_B1 = "a1-sub-for-b", "b-sub-for-b1"
BCL_URI = "https://dept.b1.example/backchannel"


@dataclass
class World:
    fed: Federation
    person_a1: int
    person_b: int
    person_b1: int
    sid_b1: str
    client_b1: str
    posted: list[Any] = field(default_factory=list)  # back-channel logout notices sent

    def node(self, name: str) -> Node:
        return self.fed.nodes[name]

    def status(self, name: str, person_id: int) -> str:
        with self.node(name).platform.db.session() as session:
            return session.get(Person, person_id).status  # type: ignore[union-attr]

    def deliver(self, name: str) -> outbox.Report:
        return outbox.deliver_due(self.node(name).fed)

    def items(self, name: str) -> list[OutboxItem]:
        with self.node(name).platform.db.session() as session:
            from sqlalchemy import select

            return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))

    def ban_at_a1(self) -> None:
        platform = self.node("city-a1").platform
        by = staff_member(platform, "a1-manager")
        with platform.db.session() as session:
            outcome = bans.ban(platform, session, self.person_a1, by=by,
                               reason="冒用他人身份", legal_basis="实名制管理办法",
                               address=ADDRESS)
        bans.deliver(platform, outcome)

    def unban_at_a1(self) -> None:
        platform = self.node("city-a1").platform
        asker = staff_member(platform, "a1-manager")
        head = staff_member(platform, "a1-head", roles=("head",))
        with platform.db.session() as session:
            bans.request_unban(session, self.person_a1, by=asker, reason="核实为本人操作",
                               address=ADDRESS)
        with platform.db.session() as session:
            bans.decide_unban(platform, session, self.person_a1, by=head, approve=True,
                              reason="", address=ADDRESS)


def _link(home: Node, visitor: Node, home_person: int, sub: str) -> int:
    with visitor.platform.db.session() as session:
        person = links.link_account(session, home_issuer=home.entity_id, home_sub=sub,
                                    home_entity_id=home.entity_id, level=2, claims=CLAIMS,
                                    protector=visitor.platform.protector)
        visitor_id = person.id
    with home.platform.db.session() as session:
        links.record_subscriber(session, home_person, visitor.entity_id, sub)
    return visitor_id


def build_world(tmp_path, monkeypatch: pytest.MonkeyPatch) -> World:  # type: ignore[no-untyped-def]
    fed = build_federation(tmp_path)
    fed.add("city-b1", "city", "440300", parent="prov-b", federation_mode="unified_separate")
    fed.vouch("prov-b", "city-b1")
    a1 = fed.nodes["city-a1"]
    with a1.platform.db.session() as session:
        person_a1 = Accounts(session, a1.platform.protector, a1.platform.hasher).create(
            id_type="resident_id", id_number=NUMBER, name="林小明", phone="13900139000",
            password="Chang3-Me-Later", realname_level=2).id
    person_b = _link(a1, fed.nodes["prov-b"], person_a1, SUB_AT_B)
    b1 = fed.nodes["city-b1"]
    person_b1 = _link(fed.nodes["prov-b"], b1, person_b, SUB_AT_B1)
    rp = register(b1.platform, backchannel_logout_uri=BCL_URI)
    for node in (fed.nodes["prov-b"], b1):  # token keys exist before a logout needs one
        keys = runtime.keyring(node.platform)
        keys.signer(keys.default_alg)
    sso = b1.platform.sessions.start(person_id=person_b1, sub="x", epoch=0, amr=["fed"],
                                     acr="1")
    b1.platform.sessions.add_client(sso.sid, rp.client_id)
    world = World(fed, person_a1, person_b, person_b1, sso.sid, rp.client_id)

    def post(notice: logout.LogoutNotice) -> None:
        world.posted.append(notice)

    monkeypatch.setattr(logout, "_post", post)
    return world
