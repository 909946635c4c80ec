"""The opening service: every refusal is clear, audited, and leaves nothing half-made."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from idp.audit.models import AuditRecord
from idp.orgs.licence import LicenceImage
from idp.orgs.models import LegalPerson
from idp.orgs.opening import Opening, OpeningError, for_platform
from tests.orgs.conftest import E01, E05_REVOKED, E07_DOWN, PNG, UNREGISTERED, elicence_token


def service(platform: Any) -> Opening:
    return for_platform(platform, "192.0.2.1")


def counts(platform: Any) -> tuple[int, int]:
    with platform.db.session() as db:
        return (db.scalar(select(func.count()).select_from(LegalPerson)) or 0,
                db.scalar(select(func.count()).select_from(LicenceImage)) or 0)


def failures(platform: Any) -> list[dict[str, Any]]:
    with platform.db.session() as db:
        return [r.details for r in db.scalars(select(AuditRecord).where(
            AuditRecord.action == "org:verify", AuditRecord.outcome == "failure"))]


@pytest.mark.parametrize(("code", "reason", "status"), [
    (UNREGISTERED, "org_not_registered", 422),
    (E05_REVOKED, "org_not_active", 422),
    ("91110101MA01BC238T", "not_representative", 403),  # 张伟's company
    (E07_DOWN, "registry_unavailable", 503),
    ("9135020OMA2XK7L02E", "invalid_credit_code", 422),
    ("", "invalid_credit_code", 422),
])
def test_registry_refusals(platform, liu, code, reason, status) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OpeningError) as err:
        service(platform).by_registry(liu.person_id, code)
    assert (err.value.code, err.value.status) == (reason, status)
    assert err.value.messages["zh"] and err.value.messages["en"]
    assert counts(platform) == (0, 0)
    audited = failures(platform)
    assert [d["reason"] for d in audited] == [reason]
    assert liu.id_number not in repr(audited)
    if reason == "not_representative":
        assert audited[0]["representative"] == "3502**********0157"


def test_registry_down_then_ok(platform, liu, simulator) -> None:  # type: ignore[no-untyped-def]
    simulator.sim.modes.set("business_registry", "down")
    with pytest.raises(OpeningError) as err:
        service(platform).by_licence(liu.person_id, E01["code"], E01["name"], "刘洋", PNG)
    assert err.value.code == "registry_unavailable" and "未保存" in err.value.message
    assert counts(platform) == (0, 0)
    simulator.sim.modes.set("business_registry", "ok")
    ev = service(platform).by_licence(liu.person_id, E01["code"], E01["name"], "刘洋", PNG)
    done = service(platform).open(liu.person_id, ev.id, channel="web")
    assert (done.org.name, done.org.opened_by) == (E01["name"], "remote_comparison")
    assert counts(platform) == (1, 1)


def test_registry_not_configured(platform, liu) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OpeningError) as err:
        Opening(platform, None, address="-").by_registry(liu.person_id, E01["code"])
    assert (err.value.code, err.value.status) == ("registry_not_configured", 503)


def test_rate_limited(platform, liu) -> None:  # type: ignore[no-untyped-def]
    svc = service(platform)
    for _ in range(platform.settings.org_checks_per_person_daily):
        with pytest.raises(OpeningError):
            svc.by_registry(liu.person_id, UNREGISTERED)
    with pytest.raises(OpeningError) as err:
        svc.by_registry(liu.person_id, E01["code"])
    assert (err.value.code, err.value.status) == ("too_many_checks", 429)
    assert err.value.retry_in > 0


def test_evidence_belongs_to_its_person(platform, liu, zhang) -> None:  # type: ignore[no-untyped-def]
    ev = service(platform).by_registry(liu.person_id, E01["code"])
    with pytest.raises(OpeningError) as err:
        service(platform).open(zhang.person_id, ev.id, channel="web")
    assert err.value.code == "evidence_not_found"
    assert counts(platform) == (0, 0)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"exp_in": -3600}, "elicence_expired"),
    ({"iss": "https://forged.example"}, "elicence_wrong_issuer"),
    ({"representative": "王五"}, "representative_mismatch"),
    ({"code": "not-a-code"}, "elicence_incomplete"),
    ({"name": "别的公司"}, "name_mismatch"),
])
def test_elicence_refusals(platform, liu, issuer_key, kwargs, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OpeningError) as err:
        service(platform).by_elicence(liu.person_id, elicence_token(issuer_key, **kwargs))
    assert err.value.code == code


def test_elicence_signed_by_another_key_or_alg(platform, liu) -> None:  # type: ignore[no-untyped-def]
    from joserfc import jws
    from joserfc.jwk import ECKey, OctKey

    other = ECKey.generate_key("P-256", parameters={"kid": "elic-1"})
    forged = elicence_token(other)
    hs = jws.serialize_compact({"alg": "HS256", "kid": "elic-1"}, b"{}",
                               OctKey.generate_key(256))
    for token, code in ((forged, "elicence_bad_signature"), (hs, "elicence_malformed"),
                        ("a.b.c", "elicence_malformed"), ("", "elicence_malformed")):
        with pytest.raises(OpeningError) as err:
            service(platform).by_elicence(liu.person_id, token)
        assert err.value.code == code, token


def test_certificate_crl_unavailable_fails_closed(platform, liu, pki, files) -> None:  # type: ignore[no-untyped-def]
    (files.crl_dir / "1.crl").unlink()
    svc = service(platform)
    leaf = pki.leaf(E01["code"])
    challenge = svc.certificate_challenge(liu.person_id)
    with pytest.raises(OpeningError) as err:
        svc.by_certificate(liu.person_id, pki.chain(leaf), challenge, leaf.sign(challenge))
    assert (err.value.code, err.value.status) == ("certificate_crl_unavailable", 503)
    assert "吊销列表" in err.value.message


def test_certificate_revoked_via_configured_crl(platform, liu, pki, files) -> None:  # type: ignore[no-untyped-def]
    leaf = pki.leaf(E01["code"])
    files.set_revoked(pki, [leaf.cert])
    svc = service(platform)
    challenge = svc.certificate_challenge(liu.person_id)
    with pytest.raises(OpeningError) as err:
        svc.by_certificate(liu.person_id, pki.chain(leaf), challenge, leaf.sign(challenge))
    assert err.value.code == "certificate_revoked"


def test_certificate_for_someone_elses_company(platform, liu, pki) -> None:  # type: ignore[no-untyped-def]
    leaf = pki.leaf("91110101MA01BC238T")
    svc = service(platform)
    challenge = svc.certificate_challenge(liu.person_id)
    with pytest.raises(OpeningError) as err:
        svc.by_certificate(liu.person_id, pki.chain(leaf), challenge, leaf.sign(challenge))
    assert err.value.code == "not_representative"


def test_challenge_is_bound_to_the_person(platform, liu, zhang, pki) -> None:  # type: ignore[no-untyped-def]
    leaf = pki.leaf(E01["code"])
    challenge = service(platform).certificate_challenge(zhang.person_id)
    with pytest.raises(OpeningError) as err:
        service(platform).by_certificate(liu.person_id, pki.chain(leaf), challenge,
                                         leaf.sign(challenge))
    assert err.value.code == "challenge_invalid"
