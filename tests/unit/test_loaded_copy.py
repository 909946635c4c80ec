"""`idp.db.loaded_copy`: read-only ORM copies built without attribute events (round 5)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.db import loaded_copy


def test_copy_reads_like_a_constructed_instance_and_stays_transient():
    values = dict(id=7, sub="s-7", status="active", security_epoch=3)
    copy = loaded_copy(Person, values)
    built = Person(**values)
    for name in values:
        assert getattr(copy, name) == getattr(built, name)
    assert copy.is_active and copy.name_enc is None  # unset columns read as None
    state = inspect(copy)
    assert state.transient and not state.modified  # nothing for a flush to write


def test_copy_of_a_record_keeps_json_and_times():
    at = dt.datetime(2026, 11, 22, 13, 0, tzinfo=dt.UTC)
    record = loaded_copy(AuditRecord, dict(seq=1, at=at, actor="a", action="b", target="",
                                           outcome="success", address="", details={"k": [1]},
                                           prev_hash="0" * 64, hash="1" * 64))
    assert (record.seq, record.at, record.details) == (1, at, {"k": [1]})
