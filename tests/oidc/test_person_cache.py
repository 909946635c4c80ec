"""The per-process person copies of userinfo and introspection (idp/oidc/person_cache.py,
idp/accounts/versions.py): every change to a person — made by another process on the same
database and Store — takes effect on the very next request; a missing version means the
database; a warm userinfo or introspection reads no SQL and, with Redis, makes no Store
round trip."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.orm import Session

from idp import create_app, store_watch
from idp.accounts import versions
from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.db import utcnow
from idp.oidc import person_cache
from idp.platform import Platform
from idp.store import RedisStore
from tests.conftest import CITIZEN, Citizen, make_settings
from tests.oidc.helpers import Pkce, introspect, register, sign_in, tokens

SCOPE = "openid profile phone realname"


@pytest.fixture
def other(backend) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    """Another process of the same node: its own app on the same database and Store."""
    app = create_app(make_settings(backend, person_cache="on"), store=backend.store)
    platform: Platform = app.extensions["idp"]
    yield platform
    platform.db.dispose()


@pytest.fixture
def settings_overrides() -> dict[str, str]:
    """The copies on, whatever the backend: the two apps below share one Store."""
    return {"person_cache": "on"}


@pytest.fixture
def rp(platform):  # type: ignore[no-untyped-def]
    return register(platform, scope=SCOPE)


@pytest.fixture
def token(client, platform, citizen, rp) -> str:  # type: ignore[no-untyped-def]
    sign_in(client, platform, citizen)
    return tokens(client, rp, Pkce(), scope=SCOPE)["access_token"]  # type: ignore[no-any-return]


def userinfo(client, token: str) -> Any:  # type: ignore[no-untyped-def]
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def warm(client, rp, token: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Both endpoints answered once (and again: now from this process's copy)."""
    for _ in range(2):
        info = userinfo(client, token)
        assert info.status_code == 200
        assert introspect(client, rp, token)["active"] is True
    return info.get_json()  # type: ignore[no-any-return]


@contextmanager
def change(platform: Platform, citizen) -> Iterator[tuple[Any, Person]]:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        yield (Accounts(session, platform.protector, platform.hasher),
               session.get(Person, citizen.person_id))


def refused(client, rp, token: str) -> bool:  # type: ignore[no-untyped-def]
    return (userinfo(client, token).status_code == 401
            and introspect(client, rp, token) == {"active": False})


def test_ban_from_another_process_refuses_the_next_request(client, other, citizen, rp, token):
    warm(client, rp, token)
    with change(other, citizen) as (accounts, person):
        accounts.set_status(person, AccountStatus.BANNED)
    assert refused(client, rp, token)


def test_closure_by_status_alone_refuses_the_next_request(client, other, citizen, rp, token):
    warm(client, rp, token)
    with change(other, citizen) as (_, person):
        person.status = AccountStatus.CLOSED.value  # no epoch bump: the status itself counts
    assert refused(client, rp, token)


def test_password_reset_from_another_process_refuses_the_next_request(
        client, other, citizen, rp, token):
    warm(client, rp, token)
    with change(other, citizen) as (accounts, person):
        accounts.issue_random_password(person)  # security_epoch + 1 (a Core UPDATE)
    assert refused(client, rp, token)


def test_unban_is_seen_at_once(client, platform, other, citizen, rp, token):
    warm(client, rp, token)
    with change(other, citizen) as (_, person):
        person.status = AccountStatus.BANNED.value
    assert refused(client, rp, token)
    with change(other, citizen) as (_, person):
        person.status = AccountStatus.ACTIVE.value
    assert userinfo(client, token).status_code == 200


def test_name_and_phone_change_from_another_process_show_at_once(
        client, other, citizen, rp, token):
    assert warm(client, rp, token)["phone_number"] == "+8613800138000"
    with change(other, citizen) as (accounts, person):
        person.name_enc = other.protector.encrypt("李四", "person.name")
        accounts.change_phone(person, "13900139000")
    info = userinfo(client, token).get_json()
    assert info["name"] == "李四" and info["phone_number"] == "+8613900139000"


def test_realname_level_change_from_another_process_shows_at_once(
        client, other, citizen, rp, token):
    assert warm(client, rp, token)["realname_level"] == 1
    with change(other, citizen) as (_, person):
        person.realname_level = 3
    assert userinfo(client, token).get_json()["realname_level"] == 3


def test_core_update_not_by_id_changes_everyone(client, other, citizen, rp, token):
    warm(client, rp, token)
    with other.db.session() as session:
        session.execute(update(Person).where(Person.sub == citizen.sub).values(realname_level=2))
    assert userinfo(client, token).get_json()["realname_level"] == 2
    with other.db.session() as session:
        session.execute(text("UPDATE person SET status = 'banned'"))
    assert refused(client, rp, token)


def test_rolled_back_and_unwatched_changes_keep_the_version(platform, citizen, token):
    key = versions.key(citizen.person_id)
    platform.store.set(key, "v1", 60)
    with pytest.raises(RuntimeError), change(platform, citizen) as (_, person):
        person.realname_level = 3
        raise RuntimeError("abort")
    with change(platform, citizen) as (_, person):
        person.password_changed_at = utcnow()  # nothing userinfo shows: no re-read needed
    assert platform.store.get(key) == "v1"


def test_missing_version_reads_the_database(client, platform, citizen, rp, token,
                                            monkeypatch):
    warm(client, rp, token)
    # A change the watcher cannot see (a raw connection), then the Store loses the key
    # (flushed, evicted, expired): the copy must not be trusted any more.
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE person SET realname_level = 3 WHERE id = :id"),
                     {"id": citizen.person_id})
    assert userinfo(client, token).get_json()["realname_level"] == 1  # the copy, as designed
    # A watched key's silent loss counts once memory stops trusting it (TRUST_SECONDS).
    monkeypatch.setattr(store_watch, "TRUST_SECONDS", 0.0)
    platform.store.delete(versions.key(citizen.person_id))
    assert userinfo(client, token).get_json()["realname_level"] == 3
    platform.store.delete(versions.ALL_KEY)
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE person SET status = 'banned' WHERE id = :id"),
                     {"id": citizen.person_id})
    platform.store.delete(versions.ALL_KEY)
    assert refused(client, rp, token)


def test_a_commit_between_version_and_row_is_read_again(platform, other, citizen):
    """The race: the version is read (here: created) before the row; a writer committing
    after the row was read replaces it, so the old row is never served under the new one."""
    cache = person_cache.PersonCache(platform.store, platform.protector)
    names = versions.keys(citizen.person_id)
    with platform.db.reader() as session:
        read = session.execute

        def read_then_ban(*args: Any, **kw: Any) -> Any:
            rows = read(*args, **kw).all()  # the old row, read
            with change(other, citizen) as (_, person):
                person.status = AccountStatus.BANNED.value  # committed and bumped after it
            return _Rows(rows)

        session.execute = read_then_ban  # type: ignore[method-assign]
        first = cache.get(citizen.person_id, platform.store.mget(*names), lambda: session)
    assert first is not None and first.is_active  # what was read, before the ban
    with platform.db.reader() as session:
        again = cache.get(citizen.person_id, platform.store.mget(*names), lambda: session)
    assert again is not None and not again.is_active


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None


@contextmanager
def counted(platform: Platform) -> Iterator[dict[str, int]]:
    """SQL statements (BEGIN/COMMIT included, as bench.micro counts) and Store commands:
    round trips to Redis, or calls of the in-process store (which has no round trips)."""
    counts = {"sql": 0, "store": 0}

    def sql(*_: Any, **__: Any) -> None:
        counts["sql"] += 1

    engines = [e for e in (platform.db.engine, platform.db.reader_engine) if e is not None]
    for engine in engines:
        for name in ("before_cursor_execute", "begin", "commit", "rollback"):
            event.listen(engine, name, sql)
    store = platform.store
    names = ("_execute",) if isinstance(store, RedisStore) else (
        "get", "mget", "set", "add", "watched_get", "watched_mget", "announce", "announce_add")
    originals = {name: getattr(store, name) for name in names}

    def counting(fn: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            counts["store"] += 1
            return fn(*args, **kw)
        return call

    for name, fn in originals.items():
        setattr(store, name, counting(fn))
    try:
        yield counts
    finally:
        for name in originals:
            delattr(store, name)
        for engine in engines:
            for name in ("before_cursor_execute", "begin", "commit", "rollback"):
                event.remove(engine, name, sql)


def test_warm_userinfo_and_introspection_read_no_sql_and_no_store(
        client, platform, rp, token):
    """Warm: the person and the client from memory, and with Redis no round trip at all —
    the client version, the revocation entries and the person's versions are watched keys
    (store_watch.py). The in-process store is read for the version, then for the rest."""
    warm(client, rp, token)
    expected = 0 if isinstance(platform.store, RedisStore) else 2
    with counted(platform) as counts:
        assert userinfo(client, token).status_code == 200
    assert counts == {"sql": 0, "store": expected}
    with counted(platform) as counts:
        assert introspect(client, rp, token)["active"] is True
    assert counts == {"sql": 0, "store": expected}


def test_statements_bump_the_persons_they_name(platform, make_citizen):
    a = make_citizen()
    b = make_citizen(id_number="11010519491231002X", phone="13900139001")
    store = platform.store

    def current() -> list[str | None]:
        return store.mget(versions.ALL_KEY, versions.key(a.person_id), versions.key(b.person_id))

    for name in (versions.ALL_KEY, versions.key(a.person_id), versions.key(b.person_id)):
        store.set(name, "v0", 60)
    with platform.db.session() as session:  # Person.id.in_(…): those persons only
        session.execute(update(Person).where(Person.id.in_([b.person_id]))
                        .values(realname_level=2))
    everyone, first, second = current()
    assert (everyone, first) == ("v0", "v0") and second not in (None, "v0")
    with platform.db.session() as session:  # an ORM delete
        session.delete(session.get(Person, a.person_id))
    everyone, first, _ = current()
    assert everyone == "v0" and first not in (None, "v0")


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_without_a_shared_store_every_request_reads_the_person(backend, mode) -> None:  # type: ignore[no-untyped-def]
    """Embedded default: an `idp` command in another process bans through the database with
    its own in-process store; the server must see the ban at once (five-node acceptance)."""
    from idp.store import MemoryStore

    server = create_app(make_settings(backend, person_cache=mode), store=MemoryStore())
    command: Platform = create_app(make_settings(backend), store=MemoryStore()).extensions["idp"]
    platform: Platform = server.extensions["idp"]
    with platform.db.session() as session:
        person = Accounts(session, platform.protector, platform.hasher).create(**CITIZEN)
        person_id, sub = person.id, person.sub
    client = server.test_client()
    rp = register(platform, scope=SCOPE)
    sign_in(client, platform, Citizen(person_id, sub, **{
        k: v for k, v in CITIZEN.items() if k != "id_type"}))
    token = tokens(client, rp, Pkce(), scope=SCOPE)["access_token"]
    warm(client, rp, token)
    with command.db.session() as session:
        session.execute(update(Person).where(Person.id == person_id)
                        .values(status=AccountStatus.BANNED.value))
    assert refused(client, rp, token)
    for p in (platform, command):
        p.db.dispose()


# --- Security review of the copies (brief H1b): each test fails without its fix. ---


def test_a_released_savepoint_is_not_the_commit(client, other, citizen, rp, token):
    """SQLAlchemy fires after_commit when a SAVEPOINT is released; a reader caching the old
    row in the window must not keep it once the real commit has happened."""
    warm(client, rp, token)
    with other.db.session() as session:
        person = session.get(Person, citizen.person_id)
        person.status = AccountStatus.BANNED.value
        session.flush()
        with session.begin_nested():  # e.g. audit.record's first insert, set_receiver
            pass
        # Not committed yet: this process reads (and keeps) the still active row.
        assert userinfo(client, token).status_code == 200
    assert refused(client, rp, token)


def _store_down(*_: Any, **__: Any) -> None:
    raise ConnectionError("store unavailable")


def test_a_ban_fails_when_the_version_cannot_be_replaced(platform, citizen, monkeypatch):
    """Fail closed: a Store error while marking the change rolls the ban back instead of
    leaving every process's copy trusted for MAX_AGE."""
    with platform.db.session() as session:
        epoch = session.get(Person, citizen.person_id).security_epoch
    monkeypatch.setattr(platform.store, "announce", _store_down)
    with pytest.raises(ConnectionError), change(platform, citizen) as (accounts, person):
        accounts.set_status(person, AccountStatus.BANNED)  # ORM status + Core epoch UPDATE
    with pytest.raises(ConnectionError), platform.db.session() as session:
        session.execute(update(Person).where(Person.id == citizen.person_id)
                        .values(status=AccountStatus.BANNED.value))
    monkeypatch.undo()
    with platform.db.session() as session:
        person = session.get(Person, citizen.person_id)
        assert person.status == AccountStatus.ACTIVE.value and person.security_epoch == epoch


def test_introspection_costs_the_same_whatever_the_token(client, platform, rp, token):
    """No timing oracle before the caller is authenticated: the token is not even read, so
    a live, a revoked and an unreadable token make the same Store commands when the client
    credentials are wrong."""
    from dataclasses import replace

    revoked = tokens(client, rp, Pkce(), scope=SCOPE)["access_token"]
    assert client.post("/revoke", headers=rp.basic(), data={"token": revoked}).status_code == 200
    warm(client, rp, token)
    assert introspect(client, rp, revoked) == {"active": False}
    wrong = replace(rp, secret="not-the-secret").basic()
    costs = []
    verifier = client.application.extensions["oidc"].verifier
    verified: list[str] = []
    real_verify = verifier.verify
    verifier.verify = lambda t, **kw: verified.append(t) or real_verify(t, **kw)
    try:
        for candidate in (token, revoked, "e30.e30.e30"):
            with counted(platform) as counts:
                resp = client.post("/introspect", data={"token": candidate}, headers=wrong)
            assert resp.status_code == 401
            costs.append(counts)
    finally:
        del verifier.verify
    assert costs[0] == costs[1] == costs[2], costs
    assert verified == []


def test_plain_table_statements_change_the_person(client, other, citizen, rp, token):
    """``update(Person.__table__)`` has no ORM mapper: matched by its table."""
    table = Person.__table__  # type: ignore[attr-defined]
    warm(client, rp, token)
    with other.db.session() as session:
        session.execute(update(table).where(table.c.id == citizen.person_id)
                        .values(realname_level=2))
    assert userinfo(client, token).get_json()["realname_level"] == 2
    with other.db.session() as session:
        session.execute(update(table).where(table.c.sub == citizen.sub)
                        .values(status=AccountStatus.BANNED.value))
    assert refused(client, rp, token)


def test_raw_sql_naming_the_table_changes_everyone(client, other, citizen, rp, token):
    """Quoted or schema-qualified, any writing statement counts."""
    schema = "public" if other.db.engine.dialect.name == "postgresql" else "main"
    warm(client, rp, token)
    with other.db.session() as session:
        session.execute(text(f'UPDATE "{schema}"."person" SET realname_level = 3 '
                             "WHERE id = :id"), {"id": citizen.person_id})
    assert userinfo(client, token).get_json()["realname_level"] == 3
    with other.db.session() as session:
        session.execute(text(f"update {schema}.person set status = 'banned' where id = :id"),
                        {"id": citizen.person_id})
    assert refused(client, rp, token)


def test_a_stale_copy_is_dropped_at_once(platform, citizen, monkeypatch):
    """Decrypted personal data is not kept once the copy can no longer be used, even when
    reading the row again fails."""
    cache = person_cache.PersonCache(platform.store, platform.protector)
    pid = citizen.person_id
    names = versions.keys(pid)

    def unavailable() -> Session:
        raise RuntimeError("database unavailable")

    def fill() -> None:
        with platform.db.reader() as session:
            found = cache.get(pid, platform.store.mget(*names), lambda: session)
        assert found is not None and cache.decrypted.name(found)
        assert pid in cache._entries

    fill()
    versions.bump(platform.store, [pid])  # another version
    with pytest.raises(RuntimeError):
        cache.get(pid, platform.store.mget(*names), unavailable)
    assert pid not in cache._entries
    fill()
    monkeypatch.setattr(person_cache, "MAX_AGE", 0.0)  # too old
    with pytest.raises(RuntimeError):
        cache.get(pid, platform.store.mget(*names), unavailable)
    assert pid not in cache._entries


def test_the_document_number_is_not_kept_in_clear(platform, citizen):
    cache = person_cache.PersonCache(platform.store, platform.protector)
    with platform.db.reader() as session:
        snapshot = cache.get(citizen.person_id, None, lambda: session)
    assert snapshot is not None
    number = cache.decrypted.id_number(snapshot)
    assert number == CITIZEN["id_number"]
    assert number not in snapshot.plain.values()


@pytest.mark.parametrize("lane", [True, False], ids=["express-lane", "flask"])
def test_another_client_learns_nothing_and_the_person_is_not_read(
        client, platform, rp, token, monkeypatch, lane):
    """Introspection by an authenticated client the token was not issued to: inactive,
    decided from the token's signed claims before its person is looked at (review of
    d9ee11a, L5), by the express lane and by the Flask path alike."""
    from idp.oidc import express, introspection

    warm(client, rp, token)
    stranger = register(platform, scope=SCOPE)
    looked_up: list[Any] = []
    real_live = person_cache.live
    monkeypatch.setattr(person_cache, "live",
                        lambda *a, **kw: looked_up.append(a) or real_live(*a, **kw))
    checked: list[str] = []
    for module in (express, introspection):
        monkeypatch.setattr(module, "issued_to", lambda v, c, _m=module.__name__, _f=(
            introspection.issued_to): checked.append(_m) or _f(v, c))
    # An unknown parameter is left to the Flask path (express.read_form).
    data = {"token": token} if lane else {"token": token, "unknown_parameter": "x"}
    resp = client.post("/introspect", data=data, headers=stranger.basic())
    assert resp.status_code == 200 and resp.get_json() == {"active": False}
    assert checked == [express.__name__ if lane else introspection.__name__]
    assert looked_up == []
    assert introspect(client, rp, token)["active"] is True and len(looked_up) == 1


@pytest.mark.parametrize("endpoint", ["userinfo", "introspect"])
def test_an_unreadable_revocation_list_tells_no_claims(client, platform, rp, token,
                                                       monkeypatch, endpoint):
    """Fail closed: the watched read of the token's entries raising is a 500, never an
    answer that skipped the check."""
    warm(client, rp, token)
    client.application.testing = False  # errors answered by the handlers, as in production

    def down(*_: Any) -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(platform.store, "watched_mget", down)
    if endpoint == "userinfo":
        resp = userinfo(client, token)
    else:
        resp = client.post("/introspect", data={"token": token}, headers=rp.basic())
    assert resp.status_code == 500
    assert b"sub" not in resp.data and b"active" not in resp.data
