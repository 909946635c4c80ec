"""``idp federation init / add-child / show`` (thin wrappers; issue 6 item 1)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from idp.cli import get_platform, main
from idp.migrate import upgrade


@pytest.fixture
def national_env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'n.sqlite3'}"
    for name, value in {"DATABASE_URL": url, "TESTING": "true", "ISSUER": "http://n.test",
                        "FEDERATION_LEVEL": "national", "FEDERATION_REGION": "000000",
                        "FEDERATION_ALLOW_HTTP": "true"}.items():
        monkeypatch.setenv(f"IDP_{name}", value)
    upgrade(url)
    get_platform.cache_clear()
    yield tmp_path
    get_platform().db.dispose()
    get_platform.cache_clear()


def test_init_add_child_show(national_env):
    runner = CliRunner()
    result = runner.invoke(main, ["federation", "init", "--level", "national",
                                  "--region", "000000"])
    assert result.exit_code == 0, result.output
    assert "IDP_FEDERATION_LEVEL=national" in result.output
    assert '"kty": "EC"' in result.output and '"d"' not in result.output

    child_key = ECKey.generate_key("P-256", parameters={"kid": "c1"})
    jwks_file = national_env / "child.json"
    jwks_file.write_text(json.dumps({"keys": [child_key.as_dict(private=False)]}))
    result = runner.invoke(main, ["federation", "add-child", "http://fj.test",
                                  "--region", "350000", "--jwks", str(jwks_file)])
    assert result.exit_code == 0, result.output
    assert child_key.thumbprint() in result.output

    result = runner.invoke(main, ["federation", "show"])
    assert result.exit_code == 0, result.output
    assert "child: http://fj.test province 350000" in result.output
    assert "trust chain: http://n.test" in result.output


@pytest.mark.parametrize("args, error", [
    (["http://fj.test", "--region", "35", "--jwks", "{jwks}"], "region"),
    (["ftp://fj.test", "--region", "350000", "--jwks", "{jwks}"], "URL"),
    (["http://fj.test", "--region", "350000", "--jwks", "/nonexistent"], "cannot read"),
    (["http://fj.test", "--region", "350000", "--jwks", "{private}"], "public keys only"),
])
def test_add_child_refusals(national_env, args, error):
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "c1"})
    (national_env / "pub.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    (national_env / "priv.json").write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    args = [a.format(jwks=national_env / "pub.json", private=national_env / "priv.json")
            for a in args]
    result = CliRunner().invoke(main, ["federation", "add-child", *args])
    assert result.exit_code == 2
    assert error in result.output
