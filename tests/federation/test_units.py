"""Pure pieces: regions, metadata policy, constraints, statement parsing, settings."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc.jwk import ECKey

from idp.federation import config, entity, policy, regions
from idp.settings import Settings, SettingsError


@pytest.mark.parametrize("code, scope, inside", [
    ("350200", "350000", True), ("350203", "350200", True), ("440300", "350000", False),
    ("350300", "350200", False), ("350200", "000000", True), ("000000", "350000", False),
    ("350203", "350203", True), ("350204", "350203", False),
])
def test_region_within(code, scope, inside):
    assert regions.within(code, scope) is inside


@pytest.mark.parametrize("bad", ["", "35020", "3502000", "35O200", "001100", None, 350200])
def test_region_code_refused(bad):
    with pytest.raises(regions.RegionError):
        regions.check_code(bad)


def test_policy_merge_and_apply():
    merged = policy.merge([
        {"federation_entity": {"node_level": {"one_of": ["province", "city"]}}},
        {"federation_entity": {"node_level": {"one_of": ["city"]},
                               "region": {"essential": True}}},
    ])
    meta = {"federation_entity": {"node_level": "city", "region": "350200"}}
    assert policy.apply(meta, merged) == meta
    with pytest.raises(policy.PolicyError, match="not allowed"):
        policy.apply({"federation_entity": {"node_level": "province", "region": "350000"}},
                     merged)
    with pytest.raises(policy.PolicyError, match="required"):
        policy.apply({"federation_entity": {"node_level": "city"}}, merged)


@pytest.mark.parametrize("policies, error", [
    ([{"x": {"a": {"one_of": [1]}}}, {"x": {"a": {"one_of": [2]}}}], "no allowed value"),
    ([{"x": {"a": {"value": 1}}}, {"x": {"a": {"value": 2}}}], "conflicting value"),
    ([{"x": {"a": {"frobnicate": 1}}}], "unknown policy operator"),
    ([{"x": "nope"}], "must be an object"),
    ([{"x": {"a": {"subset_of": "abc"}}}, {"x": {"a": {"subset_of": ["a"]}}}], "list"),
])
def test_policy_merge_errors(policies, error):
    with pytest.raises(policy.PolicyError, match=error):
        policy.merge(policies)


def test_policy_operators_apply():
    merged = {"openid_provider": {
        "scopes": {"subset_of": ["openid", "profile"]}, "acr": {"add": ["x"]},
        "alg": {"value": "ES256"}, "locale": {"default": "zh-CN"},
        "methods": {"superset_of": ["private_key_jwt"]}}}
    meta = {"openid_provider": {"scopes": ["openid", "email"], "acr": ["a"], "alg": "RS256",
                                "methods": ["private_key_jwt", "none"]}}
    assert policy.apply(meta, merged)["openid_provider"] == {
        "scopes": ["openid"], "acr": ["a", "x"], "alg": "ES256", "locale": "zh-CN",
        "methods": ["private_key_jwt", "none"]}


@pytest.mark.parametrize("constraints, below, regions_below, error", [
    ({"max_path_length": 0}, 1, ["350200"], "max_path_length"),
    ({"max_path_length": -1}, 0, ["350200"], "malformed"),
    ({"max_path_length": "1"}, 0, ["350200"], "malformed"),
    ({"allowed_regions": ["350000"]}, 0, ["440300"], "not delegated"),
    ({"allowed_regions": ["350000"]}, 1, ["350200", "440300"], "not delegated"),
    ({"allowed_regions": "350000"}, 0, ["350200"], "malformed"),
    ({"allowed_regions": ["35"]}, 0, ["350200"], "malformed"),
])
def test_constraints_refused(constraints, below, regions_below, error):
    with pytest.raises(policy.PolicyError, match=error):
        policy.check_constraints(constraints, below, regions_below, "http://x.test")


def test_constraints_pass():
    policy.check_constraints({"max_path_length": 1, "allowed_regions": ["350000"]}, 1,
                             ["350203", "350200"], "http://x.test")


def _token(header, claims):  # type: ignore[no-untyped-def]
    def b64(v):  # type: ignore[no-untyped-def]
        return base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")
    return f"{b64(header)}.{b64(claims)}.sig"


GOOD_CLAIMS = {"iss": "http://a.test", "sub": "http://a.test", "iat": 1, "exp": 2}
GOOD_HEADER = {"alg": "ES256", "typ": "entity-statement+jwt", "kid": "k"}


@pytest.mark.parametrize("token, error", [
    (None, "compact"), ("a.b", "compact"), ("x" * 70000, "compact"),
    ("!!.!!.!!", "undecodable"),
    (_token({**GOOD_HEADER, "typ": "JWT"}, GOOD_CLAIMS), "typ"),
    (_token({**GOOD_HEADER, "alg": "none"}, GOOD_CLAIMS), "algorithm"),
    (_token({**GOOD_HEADER, "alg": "HS256"}, GOOD_CLAIMS), "algorithm"),
    (_token(GOOD_HEADER, {**GOOD_CLAIMS, "iss": ""}), "iss"),
    (_token(GOOD_HEADER, {**GOOD_CLAIMS, "exp": "2"}), "exp"),
    (_token(GOOD_HEADER, {**GOOD_CLAIMS, "jwks": {"keys": "x"}}), "jwks"),
    (_token(GOOD_HEADER, [1, 2]), "undecodable"),
])
def test_statement_parse_refuses(token, error):
    with pytest.raises(entity.StatementError, match=error):
        entity.parse(token)


def test_statement_verify_needs_listed_key():
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "k1"})
    token = entity.sign_statement(key, {**GOOD_CLAIMS, "iat": 10, "exp": 20})
    st = entity.parse(token)
    entity.verify(st, {"keys": [key.as_dict(private=False)]})
    other = ECKey.generate_key("P-256", private=True, parameters={"kid": "k2"})
    with pytest.raises(entity.StatementError, match="not in the expected"):
        entity.verify(st, {"keys": [other.as_dict(private=False)]})
    with pytest.raises(entity.StatementError, match="expired"):
        entity.check_times(st, now=1000)


ANCHOR = json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]})


@pytest.mark.parametrize("values, error", [
    ({"federation_level": "county"}, "LEVEL"),
    ({"federation_level": "city", "federation_region": "35020"}, "REGION"),
    ({"federation_level": "national", "federation_region": "350000"}, "only it"),
    ({"federation_level": "province", "federation_region": "000000"}, "only it"),
    ({"federation_level": "national", "federation_region": "000000",
      "federation_parent": "http://p.test"}, "PARENT"),
    ({"federation_level": "city", "federation_region": "350200"}, "PARENT"),
    ({"federation_level": "city", "federation_region": "350200",
      "federation_parent": "http://p.test"}, "ANCHOR_JWKS"),
    ({"federation_level": "city", "federation_region": "350200",
      "federation_parent": "http://p.test", "federation_anchor_jwks": "/nonexistent"},
     "cannot read"),
    ({"federation_level": "city", "federation_region": "350200",
      "federation_parent": "http://p.test", "federation_anchor_jwks": "{\"keys\": []}"},
     "non-empty"),
    ({"federation_mode": "federal"}, "MODE"),
    ({"federation_directory_key": "short"}, "DIRECTORY_KEY"),
])
def test_federation_settings_refused(values, error):
    with pytest.raises(SettingsError, match=error):
        config.from_settings(Settings(testing=True, **values))


def test_federation_settings_accepted(tmp_path):
    path = tmp_path / "anchor.json"
    path.write_text(ANCHOR)
    cfg = config.from_settings(Settings(
        testing=True, issuer="http://city.test/", federation_level="city",
        federation_region="350200", federation_parent="http://prov.test",
        federation_anchor_jwks=str(path)))
    assert (cfg.entity_id, cfg.enabled, cfg.is_anchor) == ("http://city.test", True, False)
    assert cfg.anchor_jwks == json.loads(ANCHOR)
