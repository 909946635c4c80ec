"""``idp accounts import``: legacy accounts from JSON lines (issue 2 §3; R-63, R-70)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import bcrypt
import pytest
from sqlalchemy import func, select

from idp.accounts.importer import MAX_LINE_BYTES, import_accounts
from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from idp.audit.service import verify_chain
from idp.realname.documents import mod11_2

SHA = "sha256$s$" + hashlib.sha256(b"s" + b"old-pass-1").hexdigest()


def resident_id(serial: int) -> str:
    """A valid number per serial: birth dates from 1990-01-01, sequences 001-999."""
    born = dt.date(1990, 1, 1) + dt.timedelta(days=serial // 999)
    first = f"110105{born:%Y%m%d}{serial % 999 + 1:03d}"
    return first + mod11_2(first)


def line(**overrides) -> str:  # type: ignore[no-untyped-def]
    values = {"id_type": "resident_id", "id_number": resident_id(1), "name": "李四",
              "phone": "13900000001", "realname_level": 2, "password_hash": SHA}
    values.update(overrides)
    return json.dumps({k: v for k, v in values.items() if v is not ...}, ensure_ascii=False)


def run(platform, text: str | bytes):  # type: ignore[no-untyped-def]
    data = text.encode() if isinstance(text, str) else text
    return import_accounts(platform.db, platform.protector, platform.hasher, io.BytesIO(data),
                           batch_size=3)


def count(platform, model=Person) -> int:  # type: ignore[no-untyped-def]
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]


def test_check_digit_of_published_example():
    # GB 11643-1999 Appendix: 11010519491231002X
    assert mod11_2("11010519491231002") == "X"


BAD_LINES = {
    "not-json": ("{id_type: resident_id", "not valid JSON"),
    "array": ('["resident_id", "110105199000000013"]', "must be a JSON object, got list"),
    "string": ('"hello"', "must be a JSON object, got str"),
    "not-utf8": (b'{"name": "\xff\xfe"}', "not UTF-8"),
    "missing-field": (line(password_hash=...), "missing field(s): password_hash"),
    "missing-fields": ("{}", "missing field(s): id_type, id_number, name, phone"),
    "number-as-int": (line(id_number=110105199000000013), "id_number must be a string, got int"),
    "name-null": (line(name=None), "name must be a string, got NoneType"),
    "level-string": (line(realname_level="2"), "realname_level must be an integer, got str"),
    "level-bool": (line(realname_level=True), "realname_level must be an integer, got bool"),
    "level-float": (line(realname_level=2.0), "realname_level must be an integer, got float"),
    "phone-int": (line(phone=13900000001), "phone must be a string or null, got int"),
    "hash-int": (line(password_hash=123), "password_hash must be a string or null, got int"),
    "level-7": (line(realname_level=7), "realname_level must be 1, 2 or 3, got 7"),
    "level-0": (line(realname_level=0), "realname_level must be 1, 2 or 3, got 0"),
    "bad-check-digit": (line(id_number=resident_id(1)[:17] + "0"),
                        "id_number 1101**********0020 is not a valid resident_id "
                        "(check_character)"),
    "bad-birth-date": (line(id_number="110105199002300011"), "(birth_date)"),
    "short-id": (line(id_number="11010519900000"), "is not a valid resident_id (length)"),
    "letters-id": (line(id_number="1101051990010100A1"), "(charset)"),
    "unknown-id-type": (line(id_type="driving_licence"), "id_type 'driving_licence' is not one"),
    "bad-phone-short": (line(phone="1390000"), "phone 1*****0 is not an 11-digit mainland"),
    "bad-phone-prefix": (line(phone="12900000001"), "phone 129****0001 is not an 11-digit"),
    "bad-phone-landline": (line(phone="01088888888"), "is not an 11-digit mainland mobile"),
    "unknown-hash": (line(password_hash="md5$x$0123456789abcdef0123456789abcdef"),
                     "password_hash: not a recognised password hash"),
    "plain-password": (line(password_hash="hunter2"), "not a recognised password hash"),
    "empty-name": (line(name="  "), "name is empty"),
    "control-in-name": (line(name="李\u0000四"), "name contains control characters"),
    "long-name": (line(name="李" * 101), "name is longer than 100 characters"),
    "oversized": ('{"name": "' + "x" * MAX_LINE_BYTES + '"}', "longer than 4096 bytes"),
    "deep-json": ("[" * 4000, "not valid JSON"),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_bad_line_is_rejected_with_line_number_and_masked_reason(platform, case):
    bad, reason = BAD_LINES[case]
    bad_bytes = bad if isinstance(bad, bytes) else bad.encode()
    text = line(id_number=resident_id(7), phone="13900000007").encode() + b"\n" + bad_bytes
    report = run(platform, text + b"\n")
    assert report.imported == 1
    assert len(report.rejected) == 1
    number, message = report.rejected[0]
    assert number == 2 and reason in message
    for secret in (resident_id(1), "13900000001", "110105199000000013", SHA):
        assert secret not in message
    assert count(platform) == 1


def test_duplicates_within_the_file_are_rejected_first_line_wins(platform):
    text = "\n".join([line(), line(phone="13900000002"),
                      line(id_number=resident_id(2), phone="13900000001")])
    report = run(platform, text)
    assert report.imported == 1
    assert report.rejected == [(2, "id_number 1101**********0029 already on line 1"),
                               (3, "phone 139****0001 already on line 1")]


def test_phone_bound_to_another_account_is_rejected(platform, make_citizen):
    make_citizen(phone="13900000001")
    report = run(platform, line())
    assert report.imported == 0
    assert report.rejected == [(1, "phone 139****0001 is bound to another account")]
    assert count(platform) == 1


GOOD = [
    line(),
    line(id_number=resident_id(2)[:17] + "x" if resident_id(2).endswith("X")
         else resident_id(2), phone="+86 139-0000-0002", realname_level=1,
         password_hash=bcrypt.hashpw(b"old-pass-2", bcrypt.gensalt(4)).decode()),
    line(id_number=resident_id(3), phone=None, password_hash=None, name="Zoë  Li"),
    line(id_type="hkmo_permit", id_number="h12345678", phone="", realname_level=3),
    "",
    line(id_type="passport", id_number="E12345678", phone="13900000005"),
]


def test_good_file_imports(platform):
    report = run(platform, "\ufeff" + "\n".join(GOOD) + "\n")
    assert (report.imported, report.unchanged, report.rejected) == (5, 0, [])
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        person = accounts.by_document(resident_id(1))
        assert person.channel == "import" and person.realname_level == 2
        assert person.password_hash == SHA and not person.must_change_password
        assert accounts.view(person, full=True).phone == "13900000001"
        assert accounts.by_phone("13900000002") is not None
        no_password = accounts.by_document(resident_id(3))
        assert no_password.must_change_password and no_password.password_hash is None
        assert no_password.phone_index is None
        assert accounts.name(no_password) == "Zoë Li"
        assert accounts.by_document("H12345678", "hkmo_permit").phone_enc is None
        audits = s.scalars(select(AuditRecord).where(AuditRecord.action == "account:import")
                           ).all()
        assert len(audits) == 5 and {a.actor for a in audits} == {"cli:import"}
        assert "1101**********" in audits[0].target
        assert all(resident_id(1) not in str(a.details) + a.target for a in audits)
        assert verify_chain(s).ok


def test_rerun_changes_nothing(platform):
    text = "\n".join(GOOD)
    run(platform, text)
    with platform.db.session() as s:
        before = [(p.id, p.id_number_enc, p.phone_enc, p.password_hash, p.updated_at)
                  for p in s.scalars(select(Person).order_by(Person.id))]
    report = run(platform, text)
    assert (report.imported, report.unchanged, report.rejected) == (0, 5, [])
    with platform.db.session() as s:
        after = [(p.id, p.id_number_enc, p.phone_enc, p.password_hash, p.updated_at)
                 for p in s.scalars(select(Person).order_by(Person.id))]
        imports = s.scalar(select(func.count()).where(AuditRecord.action == "account:import"))
    assert after == before
    assert imports == 5


def test_legacy_password_works_at_first_login_then_is_argon2id(platform):
    hashed = bcrypt.hashpw(b"old-pass-2", bcrypt.gensalt(4)).decode()
    run(platform, line(password_hash=hashed))
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        assert accounts.check_password(accounts.by_identifier("13900000001"), "old-pass-2")
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        person = accounts.by_identifier(resident_id(1))
        assert person.password_hash.startswith("$argon2id$")
        assert accounts.check_password(person, "old-pass-2")
        assert not accounts.check_password(person, "old-pass-3")


def test_many_lines_in_batches(platform):
    text = "\n".join(line(id_number=resident_id(i), phone=f"139{i:08d}") for i in range(50))
    report = import_accounts(platform.db, platform.protector, platform.hasher,
                             io.BytesIO(text.encode()), batch_size=7)
    assert report.imported == 50 and count(platform) == 50
