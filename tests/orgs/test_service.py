"""Legal-person accounts (R-20, R-63): opening, bad input, uniqueness, history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.orgs.service import OrgError, Orgs
from tests.delegation.helpers import CREDIT_CODE, id_number, phone


@pytest.fixture
def rep(make_citizen):  # type: ignore[no-untyped-def]
    return make_citizen(id_number=id_number(1), phone=phone(1))


def _open(platform, rep_id, **overrides):  # type: ignore[no-untyped-def]
    values = dict(credit_code=CREDIT_CODE, name="福州示例科技有限公司", kind="enterprise",
                  representative_person_id=rep_id, opened_by="representative_online",
                  actor="person:test")
    values.update(overrides)
    with platform.db.session() as s:
        return Orgs(s).open_account(**values)


def test_open_account_normalises_code_and_audits(platform, rep) -> None:  # type: ignore[no-untyped-def]
    org = _open(platform, rep.person_id, credit_code=" ９１３５０１００m０００１００y４３ ")
    assert (org.credit_code, org.status, org.representative_person_id) == (
        CREDIT_CODE, "active", rep.person_id)
    with platform.db.session() as s:
        assert Orgs(s).by_code("91350100m000100y43").id == org.id  # type: ignore[union-attr]
        assert [o.id for o in Orgs(s).represented_by(rep.person_id)] == [org.id]
        actions = s.scalars(select(AuditRecord.action)).all()
    assert "org:open" in actions


@pytest.mark.parametrize(("overrides", "code"), [
    pytest.param({"credit_code": "91350100M000100Y44"}, "invalid_credit_code", id="check-char"),
    pytest.param({"credit_code": ""}, "invalid_credit_code", id="empty-code"),
    pytest.param({"name": "  "}, "invalid_name", id="blank-name"),
    pytest.param({"name": "名" * 201}, "invalid_name", id="long-name"),
    pytest.param({"kind": "company"}, "invalid_kind", id="kind"),
    pytest.param({"opened_by": "fax"}, "invalid_method", id="method"),
    pytest.param({"representative_person_id": 999_999}, "representative_inactive",
                 id="no-such-representative"),
])
def test_open_account_refused(platform, rep, overrides, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrgError) as err:
        _open(platform, rep.person_id, **overrides)
    assert err.value.code == code and err.value.messages["en"]
    with platform.db.session() as s:
        assert Orgs(s).by_code(CREDIT_CODE) is None


def test_wrong_check_character_message_names_the_part(platform, rep) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrgError) as err:
        _open(platform, rep.person_id, credit_code="91350100M000100Y44")
    assert "最后一位" in err.value.message


def test_one_code_one_account(platform, rep) -> None:  # type: ignore[no-untyped-def]
    _open(platform, rep.person_id)
    with pytest.raises(OrgError) as err:
        _open(platform, rep.person_id, name="另一个名字")
    assert err.value.code == "org_exists"


def test_banned_representative_cannot_open(platform, rep) -> None:  # type: ignore[no-untyped-def]
    from idp.accounts.models import Person

    with platform.db.session() as s:
        s.get(Person, rep.person_id).status = "banned"
    with pytest.raises(OrgError) as err:
        _open(platform, rep.person_id)
    assert err.value.code == "representative_inactive"


def test_representative_history_kept(platform, rep, make_citizen) -> None:  # type: ignore[no-untyped-def]
    new = make_citizen(id_number=id_number(2), phone=phone(2))
    org = _open(platform, rep.person_id)
    with platform.db.session() as s:
        orgs = Orgs(s)
        locked = orgs.lock_for_update(org.id)
        orgs.set_representative(locked, new.person_id, method="counter", review_deadline=None,
                                actor="staff:1")
    with platform.db.session() as s:
        orgs = Orgs(s)
        [change] = orgs.history(orgs.get(org.id))
        assert (change.previous_person_id, change.new_person_id, change.method) == (
            rep.person_id, new.person_id, "counter")
        assert orgs.get(org.id).tree_version == 1
