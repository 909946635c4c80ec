"""Typed settings from IDP_* variables and the refusals of `Settings.check`."""

from __future__ import annotations

import base64

import pytest

from idp.settings import Settings, SettingsError

PROD_KEYS = {"IDP_SECRET_KEY": "s" * 40, "IDP_DATA_KEY": base64.b64encode(b"k" * 32).decode()}


def test_from_env_converts_types():
    s = Settings.from_env({"IDP_ISSUER": "https://id.example.gov.cn", "IDP_DEBUG": "yes",
                           "IDP_ACCESS_TOKEN_TTL": "300", "IDP_SECURE_COOKIES": "off",
                           "IDP_EXTRA": "ignored", "OTHER": "x"})
    assert s.issuer == "https://id.example.gov.cn"
    assert s.debug is True and s.secure_cookies is False
    assert s.access_token_ttl == 300
    assert s.extra == {}


def test_overrides_win_over_environment():
    s = Settings.from_env({"IDP_ACCESS_TOKEN_TTL": "300"}, access_token_ttl=5)
    assert s.access_token_ttl == 5


@pytest.mark.parametrize("name,value,message", [
    ("IDP_DEBUG", "maybe", "IDP_DEBUG must be true or false"),
    ("IDP_TESTING", "2", "IDP_TESTING must be true or false"),
    ("IDP_ACCESS_TOKEN_TTL", "ten", "IDP_ACCESS_TOKEN_TTL must be a whole number"),
    ("IDP_ACCESS_TOKEN_TTL", "1.5", "IDP_ACCESS_TOKEN_TTL must be a whole number"),
    ("IDP_ARGON2_MEMORY_KIB", "", "IDP_ARGON2_MEMORY_KIB must be a whole number"),
])
def test_from_env_conversion_errors(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_production_settings_pass_check():
    Settings.from_env(PROD_KEYS).check()


@pytest.mark.parametrize("env,message", [
    ({}, "must be set outside debug/testing"),
    ({"IDP_SECRET_KEY": "s" * 40}, "must be set outside debug/testing"),
    ({**PROD_KEYS, "IDP_DATA_KEY": "not base64!"}, "IDP_DATA_KEY must be base64"),
    ({**PROD_KEYS, "IDP_DATA_KEY": base64.b64encode(b"k" * 16).decode()}, "32 bytes"),
    ({**PROD_KEYS, "IDP_DATA_KEY": "密钥"}, "IDP_DATA_KEY must be base64"),
    ({**PROD_KEYS, "IDP_DATA_CIPHER": "des"}, "IDP_DATA_CIPHER"),
    ({**PROD_KEYS, "IDP_SIGNING_ALG": "HS256"}, "IDP_SIGNING_ALG"),
    ({**PROD_KEYS, "IDP_ACCESS_TOKEN_TTL": "-1"}, "IDP_ACCESS_TOKEN_TTL must not be negative"),
    ({**PROD_KEYS, "IDP_ARGON2_TIME_COST": "0"}, "IDP_ARGON2_TIME_COST"),
    ({**PROD_KEYS, "IDP_ARGON2_MEMORY_KIB": "4"}, "IDP_ARGON2_MEMORY_KIB"),
])
def test_check_refuses(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env).check()


@pytest.mark.parametrize("flag", ["IDP_DEBUG", "IDP_TESTING"])
def test_development_keys_allowed_only_in_debug_or_testing(flag):
    settings = Settings.from_env({flag: "true"})
    assert settings.uses_development_keys
    settings.check()
