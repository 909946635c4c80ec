"""The request/response examples of docs/integration/ come from a real running platform.

Every example file is produced here by real HTTP against `idp demo`, normalised
(tests/connectors/examples.py) and compared with the committed file, so the document cannot
drift from the code. Regenerate after an intended change:
``IDP_UPDATE_EXAMPLES=1 .venv/bin/pytest tests/connectors/test_doc_examples.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from demo.seed import DEMO_CITIZEN
from tests.connectors.examples import EXAMPLES, Normaliser, check_examples, dump
from tests.connectors.guide import ROOT
from tests.connectors.receiver import Receiver
from tests.e2e.stack import DemoStack, forms_of, login_form, submit

STATE, NONCE = "af0ifjsldkj", "n-0S6_WzA2Mj"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
SCOPE = "openid profile realname offline_access"


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def register(stack: DemoStack, app: str) -> dict[str, str]:
    done = stack.idp("clients", "create", "--name", "示例业务系统",
                     "--redirect-uri", f"{app}/oidc/callback",
                     "--post-logout-redirect-uri", f"{app}/",
                     "--backchannel-logout-uri", f"{app}/oidc/backchannel-logout",
                     "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                     "--scope", SCOPE, "--skip-consent", "--json")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def http_text(method: str, url: str, headers: dict[str, str], body: str = "") -> str:
    parts = urlsplit(url)
    lines = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
             f"Host: {parts.netloc}", *[f"{k}: {v}" for k, v in headers.items()]]
    return "\n".join(lines) + "\n\n" + body + ("\n" if body else "")


def produce(stack: DemoStack, rec: Receiver) -> dict[str, str]:  # noqa: PLR0915 (a script)
    """Run one sign-in, token, userinfo and logout; return {file name: content}."""
    creds = register(stack, rec.url)
    norm = Normaliser(stack.issuer, rec.url, creds["client_id"])
    meta = requests.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=10).json()
    out = {"discovery.json": dump({k: norm.text(v) if isinstance(v, str) else v
                                   for k, v in meta.items()})}
    browser = requests.Session()
    redirect_uri = f"{rec.url}/oidc/callback"
    authorize = meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": creds["client_id"], "redirect_uri": redirect_uri,
        "scope": SCOPE, "state": STATE, "nonce": NONCE, "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256"})
    page = browser.get(authorize, timeout=20)
    page = submit(browser, page, login_form(page), identifier=DEMO_CITIZEN["id_number"],
                  password=DEMO_CITIZEN["password"])
    assert page.url.startswith(redirect_uri), page.url
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["state"] == STATE and params["iss"] == stack.issuer  # RFC 9207
    out["authorize-request.txt"] = (
        f"GET {norm.url(authorize)}\n\n"
        f"→ 302 Found\nLocation: {norm.url(page.url)}\n")

    form = {"grant_type": "authorization_code", "code": params["code"],
            "redirect_uri": redirect_uri, "code_verifier": VERIFIER}
    token_resp = requests.post(meta["token_endpoint"], data=form, timeout=10,
                               auth=(creds["client_id"], creds["client_secret"]))
    assert token_resp.status_code == 200, token_resp.text
    shown = {**form, "code": "<code>", "redirect_uri": f"{norm.text(redirect_uri)}"}
    out["token-request.txt"] = http_text(
        "POST", norm.text(meta["token_endpoint"]),
        {"Authorization": "Basic <base64(client_id:client_secret)>",
         "Content-Type": "application/x-www-form-urlencoded"},
        urlencode(shown, safe="<>:/"))
    tokens = token_resp.json()
    out["token-response.json"] = dump(norm.claims(tokens))

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    id_claims = jwt.decode(tokens["id_token"], keys).claims
    assert id_claims["nonce"] == NONCE and id_claims["aud"] == creds["client_id"]
    out["id-token-claims.json"] = dump(norm.claims(id_claims))

    info = requests.get(meta["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == id_claims["sub"]
    out["userinfo.json"] = dump(norm.claims(info.json()))

    again = requests.post(meta["token_endpoint"], data=form, timeout=10,
                          auth=(creds["client_id"], creds["client_secret"]))
    assert again.status_code == 400  # a code is single use (RFC 6749 §4.1.2)
    out["token-error.json"] = dump(again.json())

    bad = requests.get(meta["userinfo_endpoint"], timeout=10,
                       headers={"Authorization": "Bearer not-a-valid-token"})
    assert bad.status_code == 401
    out["userinfo-error.txt"] = (f"HTTP/1.1 {bad.status_code}\n"
                                 f"WWW-Authenticate: {bad.headers['WWW-Authenticate']}\n\n"
                                 f"{bad.text.strip()}\n")

    end = meta["end_session_endpoint"] + "?" + urlencode({
        "id_token_hint": tokens["id_token"], "client_id": creds["client_id"],
        "post_logout_redirect_uri": f"{rec.url}/"})
    out["end-session-request.txt"] = f"GET {norm.url(end)}\n"
    page = browser.get(end, timeout=20)
    if not page.url.startswith(rec.url):
        confirm = [f for f in forms_of(page.text) if f.method == "post"]
        page = submit(browser, page, confirm[0])
    assert page.url.startswith(rec.url)
    deadline = time.monotonic() + 10
    while not rec.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.posts, "the platform sent no back-channel logout"
    logout = jwt.decode(rec.posts[-1]["logout_token"][0], keys).claims
    assert logout["sid"] == id_claims["sid"] and "nonce" not in logout
    out["logout-token-claims.json"] = dump(norm.claims(logout))
    return out


def test_examples_match_the_running_platform(demo_stack: DemoStack, receiver: Receiver) -> None:
    check_examples(produce(demo_stack, receiver))


@pytest.mark.parametrize("doc", ["zh-CN.md", "en.md"])
def test_every_example_the_guide_links_exists(doc: str) -> None:
    text = (ROOT / "docs" / "integration" / doc).read_text(encoding="utf-8")
    linked = {part.split(")")[0] for part in text.split("(examples/")[1:]} - {""}
    assert linked, f"{doc} links no examples"
    missing = [name for name in linked if not (EXAMPLES / name).is_file()]
    assert not missing, f"{doc} links missing examples: {missing}"
