"""The self-check in `idp demo`, over real HTTP (issue 7 item 6): the demo citizen is a test
account, so a developer checks the social security system as the documentation says."""

from __future__ import annotations

import html
import json

import requests

from demo.seed import DEMO_CITIZEN
from tests.e2e.stack import DemoStack, forms_of, login_form, submit


def test_demo_developer_checks_the_social_security_system(demo_stack: DemoStack) -> None:
    systems = json.loads((demo_stack.var_dir / "demo" / "clients.json").read_text("utf-8"))
    client_id = systems["systems"]["social_security"]["client_id"]
    browser = requests.Session()
    start = browser.get(f"{demo_stack.issuer}/integration/selfcheck", timeout=20)
    [form] = [f for f in forms_of(start.text) if "client_id" in f.fields]
    page = submit(browser, start, form, client_id=client_id)
    login = login_form(page)
    assert login is not None and "社会保障服务" in page.text
    page = submit(browser, page, login, identifier=DEMO_CITIZEN["id_number"],
                  password=DEMO_CITIZEN["password"])
    assert page.status_code == 200 and "/integration/selfcheck/result" in page.url
    text = html.unescape(page.text)
    assert client_id in text and "urn:idp:acr:realname:2" in text
    assert "张*" in text and DEMO_CITIZEN["id_number"] not in text
    # The registered URIs are the connector's, and its back-channel receiver answers 400.
    assert f"{demo_stack.social}/oidc/backchannel-logout" in text
    registration = text.split('id="registration"', 1)[1]
    assert '<tr class="failed">' not in registration
