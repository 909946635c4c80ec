"""The Flask-free services behind the login pages: codes, lockouts, TOTP (R-70, RFC 6238)."""

from __future__ import annotations

import pyotp

from idp.accounts.lockout import Lockout, unknown_subject
from idp.accounts.models import Person
from idp.accounts.sms_codes import CheckOutcome, SendOutcome, SmsCodes
from idp.accounts.totp import Totp
from idp.ratelimit import RateLimiter
from idp.settings import Settings
from idp.store import MemoryStore


def codes(**overrides) -> tuple[SmsCodes, MemoryStore, list]:  # type: ignore[no-untyped-def]
    sent: list = []

    class Gateway:
        def send(self, phone, template, params):  # type: ignore[no-untyped-def]
            sent.append((phone, template, params["code"]))

    store = MemoryStore()
    settings = Settings(testing=True, **overrides)
    return SmsCodes(store, RateLimiter(store), Gateway(), settings), store, sent


def test_codes_are_stored_hashed_under_keyed_names():
    service, store, sent = codes()
    assert service.issue("13800138000", "10.0.0.1", deliver=True).ok
    code = sent[0][2]
    dump = repr(store._data)  # noqa: SLF001 - inspecting the embedded store on purpose
    assert code not in dump and "13800138000" not in dump
    assert service.check("13800138000", code).ok
    assert service.check("13800138000", code).outcome is CheckOutcome.EXPIRED


def test_decoy_code_for_unknown_phone_counts_down_like_a_real_one():
    service, _store, sent = codes(sms_code_max_attempts=2)
    assert service.issue("13900000000", "10.0.0.1", deliver=False).outcome is SendOutcome.SENT
    assert sent == []
    first = service.check("13900000000", "123456")
    assert first.outcome is CheckOutcome.WRONG and first.remaining == 1
    assert service.check("13900000000", "123456").remaining == 0
    assert service.check("13900000000", "123456").outcome is CheckOutcome.EXPIRED


def test_code_bound_to_its_phone_and_purpose():
    service, store, sent = codes()
    service.issue("13800138000", "a", deliver=True)
    code = sent[0][2]
    other = SmsCodes(store, RateLimiter(store), None, Settings(testing=True), "verify")  # type: ignore[arg-type]
    assert other.check("13800138000", code).outcome is CheckOutcome.EXPIRED
    assert service.check("13800138001", code).outcome is CheckOutcome.EXPIRED
    assert service.check("13800138000", code).ok


def test_lockout_counts_down_then_locks_for_the_full_period():
    store = MemoryStore()
    lock = Lockout(RateLimiter(store), "pwd", 3, 900)
    assert [lock.fail("p1") for _ in range(3)] == [2, 1, 0]
    assert 890 < lock.locked_for("p1") <= 900
    assert lock.locked_for("p2") == 0
    lock.succeed("p1")  # success does not lift a lock
    assert lock.locked_for("p1")


def test_unknown_subject_hides_the_name():
    subject = unknown_subject("k", "110105194912310029")
    assert "110105" not in subject and subject == unknown_subject("k", " 110105194912310029 ")


def test_totp_same_step_accepted_once(platform, citizen):
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        service = Totp(db, platform.protector, platform.settings.secret_key)
        secret = service.begin(person)
        codes_ = service.confirm(person, pyotp.TOTP(secret).now())
        assert codes_ is not None and len(codes_) == 10
        # The confirming code's step is spent already.
        assert not service.verify(person, pyotp.TOTP(secret).now())
        assert service.recovery_codes_left(person) == 10
        assert service.use_recovery_code(person, codes_[0])
        assert not service.use_recovery_code(person, codes_[0])
        assert service.recovery_codes_left(person) == 9
        assert not service.use_recovery_code(person, "short")
