"""Trust chains across an in-process federation (OIDF §10; issue 6 items 1 and 5)."""

from __future__ import annotations

import time

import pytest

from idp.federation import entity
from idp.federation.trust import TrustError


def test_valid_chain_city_province_national_resolves(fed):
    chain = fed.nodes["prov-b"].fed.resolver.resolve("http://city-a1.test")
    assert chain.path == ["http://city-a1.test", "http://prov-a.test", "http://national.test"]
    assert chain.region == "350200"
    assert chain.node_level == "city"
    assert chain.jwks == fed.nodes["city-a1"].fed.keys.jwks()
    assert chain.metadata["openid_provider"]["issuer"] == "http://city-a1.test"
    assert chain.exp > time.time()


def test_entity_configuration_endpoint_serves_signed_statement(fed):
    resp = fed.nodes["prov-a"].client().get("/.well-known/openid-federation")
    assert resp.status_code == 200
    assert resp.mimetype == entity.MEDIA_TYPE
    ec = entity.parse(resp.get_data(as_text=True))
    entity.verify(ec, ec.jwks)
    assert ec.iss == ec.sub == "http://prov-a.test"
    assert ec.authority_hints == ["http://national.test"]
    meta = ec.metadata["federation_entity"]
    assert (meta["node_level"], meta["region"], meta["mode"]) == ("province", "350000",
                                                                  "separate")


def test_fetch_serves_subordinate_statement_with_delegation(fed):
    client = fed.nodes["prov-a"].client()
    resp = client.get("/federation/fetch", query_string={"sub": "http://city-a1.test"})
    assert resp.status_code == 200
    st = entity.parse(resp.get_data(as_text=True))
    assert (st.iss, st.sub) == ("http://prov-a.test", "http://city-a1.test")
    assert st.constraints == {"max_path_length": 0, "allowed_regions": ["350200"]}
    assert client.get("/federation/list").get_json() == ["http://city-a1.test"]


@pytest.mark.parametrize("query, status", [
    ({}, 400),
    ({"sub": "http://nobody.test"}, 404),
    ({"sub": "http://prov-a.test"}, 400),
    ({"sub": "x" * 400}, 400),
])
def test_fetch_bad_requests(fed, query, status):
    resp = fed.nodes["prov-a"].client().get("/federation/fetch", query_string=query)
    assert resp.status_code == status
    assert resp.get_json()["error"] in ("invalid_request", "not_found")


def test_expired_statement_refused(fed):
    resolver = fed.nodes["prov-b"].fed.resolver
    resolver.resolve("http://city-a1.test")  # cached now; expiry must still be noticed
    resolver.clock = lambda: time.time() + 2 * 86400
    with pytest.raises(TrustError, match="expired"):
        resolver.resolve("http://city-a1.test")


def test_statement_signed_by_key_not_in_superiors_statement_refused(fed):
    city = fed.nodes["city-a1"]
    with city.platform.db.session() as session:
        from idp.federation.keys import rotate

        rotate(session, city.platform.protector, overlap=3600)  # province not told
    city.fed.keys.forget()
    with pytest.raises(TrustError, match="not in the expected jwks"):
        fed.nodes["prov-b"].fed.resolver.resolve("http://city-a1.test")
    fed.vouch("prov-a", "city-a1")  # the province learns the new key: trusted again
    assert fed.nodes["prov-b"].fed.resolver.resolve("http://city-a1.test").region == "350200"


def test_chain_not_ending_at_configured_anchor_refused(fed):
    rogue = fed.add("rogue-national", "national", "000000")
    fed.add("rogue-prov", "province", "350000", parent="rogue-national")
    fed.vouch("rogue-national", "rogue-prov")
    assert rogue.fed.resolver.resolve(rogue.entity_id).path == [rogue.entity_id]
    with pytest.raises(TrustError, match="does not chain to the trust anchor"):
        fed.nodes["prov-b"].fed.resolver.resolve("http://rogue-prov.test")


def test_unreachable_superior_refused(fed):
    fed.nodes["prov-b"].fed.http.adapters.pop("http://prov-a.test/")
    with pytest.raises(TrustError, match="unreachable"):
        fed.nodes["prov-b"].fed.resolver.resolve("http://city-a1.test")


@pytest.mark.parametrize("claimed, delegated, ok", [
    ("350200", "350200", True),   # Xiamen under Fujian
    ("350203", "350200", True),   # a district inside the delegated city
    ("350300", "350200", False),  # claims Putian, was given Xiamen
])
def test_city_region_must_be_within_delegation(tmp_path, claimed, delegated, ok):
    from tests.federation.conftest import build_federation

    fed = build_federation(tmp_path)
    try:
        fed.add("city-x", "city", claimed, parent="prov-a")
        fed.vouch("prov-a", "city-x", region=delegated)
        resolver = fed.nodes["prov-b"].fed.resolver
        if ok:
            assert resolver.resolve("http://city-x.test").region == claimed
        else:
            with pytest.raises(TrustError, match="not delegated"):
                resolver.resolve("http://city-x.test")
    finally:
        fed.close()


def test_province_delegating_outside_its_region_refused(fed):
    """City 440300 under province 350000: add-child refuses, and so does the chain if the
    province's database is tampered with to vouch for it anyway."""
    from idp.federation import subordinates
    from idp.federation.models import Subordinate

    city = fed.add("city-sz", "city", "440300", parent="prov-a")
    prov = fed.nodes["prov-a"]
    with pytest.raises(subordinates.ChildError), prov.platform.db.session() as session:
        subordinates.add_child(session, own_level="province", own_region="350000",
                               entity_id=city.entity_id, region="440300",
                               jwks=city.fed.keys.jwks(), actor="test", allow_http=True)
    with prov.platform.db.session() as session:
        session.add(Subordinate(entity_id=city.entity_id, node_level="city", region="440300",
                                jwks=city.fed.keys.jwks()))
    with pytest.raises(TrustError, match="440300"):
        fed.nodes["prov-b"].fed.resolver.resolve(city.entity_id)


def test_max_path_length_exceeded_refused(fed, monkeypatch):
    """A city acting as an intermediate: the province's statement allows no node below."""
    from idp.federation.models import Subordinate

    city = fed.nodes["city-a1"]
    meta = city.fed.federation_entity_metadata()
    meta["federation_fetch_endpoint"] = city.entity_id + entity.FETCH_PATH
    monkeypatch.setattr(city.fed, "federation_entity_metadata", lambda: meta)
    district = fed.add("district", "city", "350203", parent="city-a1")
    with city.platform.db.session() as session:
        session.add(Subordinate(entity_id=district.entity_id, node_level="city",
                                region="350203", jwks=district.fed.keys.jwks()))
    with pytest.raises(TrustError, match="max_path_length 0 set by http://prov-a.test"):
        fed.nodes["prov-b"].fed.resolver.resolve(district.entity_id)
