"""Back-channel logout for sign-ins acting for a legal person: told once, only after the
commit, one token per (client, sid), and when a grant's validity simply ends (issue 4
item 5 loose ends 4, 5 and 6)."""

from __future__ import annotations

import datetime as dt

import pytest
from joserfc import jwt
from sqlalchemy import update

from idp.accounts import bans
from idp.audit.models import AuditRecord
from idp.db import utcnow
from idp.delegation.expiry import LOOKBACK, notify_expired
from idp.delegation.models import Grant
from idp.delegation.service import Delegation
from idp.oidc.acting_logout import bind
from tests.admin.bans_helpers import ADDRESS, staff_member
from tests.delegation.helpers import days, delegation
from tests.oidc.helpers import jwks, sign_in
from tests.oidc.test_acting_for import BCL, ORG_A, _tokens
from tests.oidc.test_acting_for import posted as posted  # the fixtures
from tests.oidc.test_acting_for import world as world


def _sids(client, sent) -> list[tuple[str, str]]:
    return sorted((url, jwt.decode(token, jwks(client)).claims["sid"]) for url, token in sent)


def test_rolled_back_change_does_not_swallow_a_later_logout(app, client, platform, world,
                                                            posted):
    sign_in(client, platform, world.staff)
    _tokens(client, world.rp)
    with app.app_context():
        with pytest.raises(RuntimeError), delegation(platform) as d:
            d.cancel(world.rep.person_id, world.grants["A"])
            raise RuntimeError("rolled back")
        assert posted == []
        with delegation(platform) as d:
            d.cancel(world.rep.person_id, world.grants["A"])
    assert [url for url, _ in posted] == [BCL]


def test_banned_representative_gets_one_token_per_client_and_session(app, client, platform,
                                                                     world, posted):
    """The rep's own session acting for A ends with the ban (its logout tells rp); the
    staff member's session acting through the rep lives on and is told by the acting hook."""
    sign_in(client, platform, world.rep)
    _tokens(client, world.rp, ORG_A)
    sign_in(client, platform, world.staff)
    _tokens(client, world.rp, ORG_A)
    by = staff_member(platform, "ban-manager")
    with app.app_context():
        with platform.db.session() as session:
            outcome = bans.ban(platform, session, world.rep.person_id, by=by,
                               reason="测试用封禁原因", legal_basis="测试依据", address=ADDRESS)
        bans.deliver(platform, outcome)
    sent = _sids(client, posted)
    assert len(sent) == 2 and len(set(sent)) == 2 and {url for url, _ in sent} == {BCL}


# -- validity that simply ends (the cron job) --------------------------------------------------


def _expire_now(platform, grant_id: int) -> None:
    with platform.db.session() as s:
        s.execute(update(Grant).where(Grant.id == grant_id)
                  .values(valid_until=utcnow() - dt.timedelta(seconds=1)))


def _run(platform, at: dt.datetime | None = None) -> list[int]:
    with platform.db.session() as s:
        return [g.id for g in notify_expired(Delegation.from_platform(bind(s, platform),
                                                                      platform), at)]


def _expired_audits(platform) -> list[str]:
    with platform.db.session() as s:
        return [r.target for r in s.query(AuditRecord).filter_by(action="delegation:expired")]


def test_expired_grant_logs_out_tells_the_grantee_and_audits_once(client, platform, world,
                                                                  posted):
    sign_in(client, platform, world.staff)
    _tokens(client, world.rp)
    _expire_now(platform, world.grants["A"])
    assert _run(platform) == [world.grants["A"]]  # no app context: the CLI's situation
    assert [url for url, _ in posted] == [BCL]
    texts = [m.text for m in platform.sms.messages(world.staff.phone) if "到期" in m.text]
    assert texts == ["【政务服务】您在福州甲科技有限公司的授权已到期。"]
    assert _expired_audits(platform) == [f"grant:{world.grants['A']}"]
    assert _run(platform) == []  # idempotent: nobody is told twice
    assert len(posted) == 1 and _expired_audits(platform) == [f"grant:{world.grants['A']}"]
    assert len([m for m in platform.sms.messages(world.staff.phone) if "到期" in m.text]) == 1


@pytest.mark.parametrize(("after", "told"), [
    (dt.timedelta(days=-1), False),  # still valid
    (dt.timedelta(minutes=1), True),  # ended since the last run
    (LOOKBACK + dt.timedelta(hours=1), False),  # ended long before: not news
])
def test_which_grants_the_job_announces(platform, world, after, told):
    clock = days(30) + after  # a fake clock: both grants are valid for 30 days
    assert sorted(_run(platform, clock)) == (sorted(world.grants.values()) if told else [])


def test_cancelled_grant_is_not_announced_again(platform, world):
    with delegation(platform) as d:
        d.cancel(world.rep.person_id, world.grants["B"])
    assert _run(platform, days(31)) == [world.grants["A"]]


def test_cron_command(platform, world, idp_cli):
    assert "expired 0 grant(s)" in idp_cli("delegation", "lapse-expired").output
    _expire_now(platform, world.grants["A"])
    result = idp_cli("delegation", "lapse-expired")
    assert result.exit_code == 0 and f"expired 1 grant(s): {world.grants['A']}" in result.output
    assert "expired 0 grant(s)" in idp_cli("delegation", "lapse-expired").output
