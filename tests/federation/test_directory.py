"""Directory across nodes, node-to-node private_key_jwt, rate limits (issue 6 items 2, 5)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from idp.audit.models import AuditRecord
from idp.federation import peer_auth
from idp.federation.directory import (
    AlreadyRegistered,
    DirectoryUnavailable,
    RateLimited,
    directory_index,
)
from idp.federation.models import DirectoryEntry
from tests.federation.harness import DIRECTORY_KEY

ID_NUMBER = "350203199001011234"
LOOKUP = "http://national.test/federation/directory/lookup"


def _entries(node):  # type: ignore[no-untyped-def]
    with node.platform.db.session() as session:
        return {(e.blind_index, e.home_node, e.via)
                for e in session.query(DirectoryEntry).all()}


def test_register_propagates_to_national_and_lookup_from_other_province(fed):
    city, prov_a, national, prov_b = (fed.nodes[n] for n in
                                      ("city-a1", "prov-a", "national", "prov-b"))
    assert city.fed.directory.register_person("resident_id", ID_NUMBER) == city.entity_id
    index = city.fed.directory.index_for("resident_id", ID_NUMBER)
    assert _entries(city) == {(index, city.entity_id, "")}
    assert _entries(prov_a) == {(index, city.entity_id, city.entity_id)}
    assert _entries(national) == {(index, city.entity_id, prov_a.entity_id)}
    assert _entries(prov_b) == set()
    home = prov_b.fed.directory.find_home("resident_id", ID_NUMBER, requester="10.0.0.9")
    assert home == city.entity_id
    other = prov_b.fed.directory.find_home("resident_id", "440301199001011231", "10.0.0.9")
    assert other is None


def test_register_elsewhere_offers_existing_account_and_stores_nothing(fed):
    fed.nodes["city-a1"].fed.directory.register_person("resident_id", ID_NUMBER)
    prov_b = fed.nodes["prov-b"]
    with pytest.raises(AlreadyRegistered) as info:
        prov_b.fed.directory.register_person("resident_id", ID_NUMBER)
    assert info.value.home_node == "http://city-a1.test"
    assert _entries(prov_b) == set()
    # registering again at home is idempotent
    fed.nodes["city-a1"].fed.directory.register_person("resident_id", ID_NUMBER)


def test_parent_unreachable_leaves_nothing_half_made(fed):
    city = fed.nodes["city-a1"]
    city.fed.http.adapters.pop("http://prov-a.test/")
    with pytest.raises(DirectoryUnavailable):
        city.fed.directory.register_person("resident_id", ID_NUMBER)
    assert _entries(city) == set()
    assert _entries(fed.nodes["national"]) == set()


def test_directory_never_contains_the_document_number(fed):
    fed.nodes["city-a1"].fed.directory.register_person("resident_id", ID_NUMBER)
    fed.nodes["prov-b"].fed.directory.find_home("resident_id", ID_NUMBER, "10.0.0.9")
    for node in fed.nodes.values():
        node.platform.db.dispose()  # flush SQLite WAL into the files we read
    needles = [ID_NUMBER.encode(), ID_NUMBER[6:14].encode(), ID_NUMBER.encode("utf-16-le")]
    files = list(fed.root.glob("*.sqlite3*"))
    assert len(files) >= 4
    for path in files:
        data = path.read_bytes()
        assert not any(n in data for n in needles), path.name


def test_directory_index_is_keyed_and_normalised():
    import base64

    key = base64.b64decode(DIRECTORY_KEY)
    a = directory_index(key, "resident_id", "35020319900101123x")
    assert a == directory_index(key, "resident_id", " 35020319900101123X ")
    assert a != directory_index(bytes(32), "resident_id", "35020319900101123X")
    assert a != directory_index(key, "passport", "35020319900101123X")
    assert len(a) == 64 and ID_NUMBER not in a


@pytest.mark.parametrize("national_overrides", [{"federation_lookups_per_minute": 3}])
def test_lookups_rate_limited_and_audited(fed):
    prov_b, national = fed.nodes["prov-b"], fed.nodes["national"]
    for _ in range(3):
        assert prov_b.fed.directory.find_home("resident_id", ID_NUMBER, "10.0.0.9") is None
    with pytest.raises(RateLimited) as info:
        prov_b.fed.directory.find_home("resident_id", ID_NUMBER, "10.0.0.9")
    assert info.value.retry_after > 0
    with national.platform.db.session() as session:
        rows = session.query(AuditRecord).filter(
            AuditRecord.action.like("federation:directory:%")).all()
    outcomes = [r.outcome for r in rows]
    assert outcomes.count("not_found") == 3 and "rate_limited" in outcomes
    assert all(r.actor == "node:http://prov-b.test" for r in rows)
    assert all(ID_NUMBER not in str(r.details) for r in rows)


def test_local_requester_rate_limited(fed):
    node = fed.nodes["city-a1"]
    limit = node.fed.directory.lookup_limit.count
    for _ in range(limit):
        node.platform.limiter.hit(node.fed.directory.lookup_limit, "10.1.1.1")
    with pytest.raises(RateLimited):
        node.fed.directory.find_home("resident_id", ID_NUMBER, "10.1.1.1")


# -- private_key_jwt between nodes -----------------------------------------------------------


def _assertion(signer, iss="http://prov-b.test", aud=LOOKUP, iat_shift=0, lifetime=60,
               jti="jti-0123456789", kid=None):  # type: ignore[no-untyped-def]
    now = int(time.time()) + iat_shift
    claims = {"iss": iss, "sub": iss, "aud": aud, "jti": jti, "iat": now,
              "exp": now + lifetime}
    return jwt.encode({"alg": "ES256", "kid": kid or signer.kid, "typ": "JWT"}, claims, signer)


def _lookup(fed, assertion, index="a" * 64,  # type: ignore[no-untyped-def]
            assertion_type=peer_auth.ASSERTION_TYPE):
    return fed.nodes["national"].client().post("/federation/directory/lookup", data={
        "client_assertion_type": assertion_type, "client_assertion": assertion,
        "blind_index": index})


def test_valid_assertion_accepted_replay_refused(fed):
    signer = fed.nodes["prov-b"].fed.keys.signer()
    token = _assertion(signer)
    first = _lookup(fed, token)
    assert first.status_code == 200 and first.get_json() == {"home_node": None}
    replay = _lookup(fed, token)
    assert replay.status_code == 401
    assert "replayed" in replay.get_json()["detail"]


@pytest.mark.parametrize("case, expected", [
    ("wrong_audience", "another audience"),
    ("other_node_audience", "another audience"),
    ("expired", "expired"),
    ("too_long", "lives too long"),
    ("foreign_key", "does not vouch"),
    ("forged_same_kid", "signature"),
    ("untrusted_issuer", "not trusted"),
    ("garbage", "malformed"),
    ("wrong_type", "jwt-bearer"),
])
def test_bad_assertions_refused(fed, case, expected):
    signer = fed.nodes["prov-b"].fed.keys.signer()
    stranger = ECKey.generate_key("P-256", private=True)
    assertion_type = peer_auth.ASSERTION_TYPE
    token = {
        "wrong_audience": lambda: _assertion(signer, aud="http://national.test/token"),
        "other_node_audience": lambda: _assertion(
            signer, aud="http://prov-a.test/federation/directory/lookup"),
        "expired": lambda: _assertion(signer, iat_shift=-600),
        "too_long": lambda: _assertion(signer, lifetime=3600),
        "foreign_key": lambda: _assertion(stranger, kid="stranger"),
        "forged_same_kid": lambda: _assertion(stranger, kid=signer.kid),
        "untrusted_issuer": lambda: _assertion(stranger, iss="http://evil.test", kid="x"),
        "garbage": lambda: "not.a-jwt",
        "wrong_type": lambda: _assertion(signer),
    }[case]()
    if case == "wrong_type":
        assertion_type = "client_secret"
    resp = _lookup(fed, token, assertion_type=assertion_type)
    assert resp.status_code == 401
    assert expected in resp.get_json()["detail"]
    with fed.nodes["national"].platform.db.session() as session:
        row = session.query(AuditRecord).filter_by(action="federation:peer_auth").one()
    assert row.outcome == "failure" and token not in str(row.details)


def test_trusted_node_that_is_not_a_child_refused(fed):
    """City A1 is in the federation but must go through its province."""
    token = _assertion(fed.nodes["city-a1"].fed.keys.signer(), iss="http://city-a1.test")
    resp = _lookup(fed, token)
    assert resp.status_code == 403


def test_child_cannot_register_for_a_node_outside_its_subtree(fed):
    prov_b = fed.nodes["prov-b"]
    url = "http://national.test/federation/directory/register"
    resp = fed.nodes["national"].client().post("/federation/directory/register", data={
        "client_assertion_type": peer_auth.ASSERTION_TYPE,
        "client_assertion": peer_auth.create_assertion(prov_b.fed.keys.signer(),
                                                       prov_b.entity_id, url),
        "blind_index": "b" * 64, "home_node": "http://city-a1.test"})
    assert resp.status_code == 403
    assert _entries(fed.nodes["national"]) == set()


@pytest.mark.parametrize("index", ["", "A" * 64, "a" * 63, "g" * 64, "a" * 65])
def test_bad_blind_index_refused(fed, index):
    token = _assertion(fed.nodes["prov-b"].fed.keys.signer())
    resp = _lookup(fed, token, index=index)
    assert resp.status_code == 400


@pytest.mark.parametrize("national_overrides", [{}])
def test_failed_authentications_throttled_per_address(fed):
    for i in range(30):
        assert _lookup(fed, f"bad{i}").status_code == 401
    assert _lookup(fed, "bad").status_code == 429
