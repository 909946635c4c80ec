"""CAS logout and single logout (CAS Protocol 3.0 §2.3, Appendix C), checked by the real
client library's own SLO parser, also when the session ends on the OIDC side or by a ban."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from idp.accounts.models import Person
from idp.accounts.sessions import COOKIE_NAME
from idp.oidc import logout
from tests.cas.conftest import ISSUER, SERVICE, cas_client, register
from tests.oidc.helpers import sign_in
from tests.web.conftest import audit_actions


def _ticket(client) -> str:  # type: ignore[no-untyped-def]
    resp = client.get("/cas/login", query_string={"service": SERVICE})
    return parse_qs(urlsplit(resp.location).query)["ticket"][0]


def _slo_ticket(receiver) -> str:  # type: ignore[no-untyped-def]
    assert receiver.event.wait(5), "no single logout request arrived"
    message = receiver.received[0]["logoutRequest"][0]
    session_index = cas_client().get_saml_slos(message)
    assert session_index, message
    return session_index[0].text  # type: ignore[no-any-return]


def test_cas_logout_posts_logout_request_and_redirects(live_server, client, platform,
                                                       citizen, slo_receiver):
    register(platform, slo_url=slo_receiver.url)
    sign_in(client, platform, citizen)
    ticket = _ticket(client)
    assert cas_client().verify_ticket(ticket)[0] == citizen.sub

    resp = client.get(cas_client().get_logout_url(SERVICE).replace(ISSUER, ""))
    assert resp.status_code == 302 and resp.location == SERVICE
    assert _slo_ticket(slo_receiver) == ticket
    assert cas_client().verify_logout_request(slo_receiver.received[0]["logoutRequest"][0],
                                              ticket)
    assert client.get("/cas/login", query_string={"service": SERVICE}).location \
        .startswith("/login?tx=")  # the session is gone
    assert ("cas:logout", "success") in audit_actions(platform)


def test_logout_to_unregistered_url_shows_page_instead(client, platform, citizen):
    register(platform)
    sign_in(client, platform, citizen)
    resp = client.get("/cas/logout", query_string={"service": "https://evil.example.com/"})
    assert resp.status_code == 200 and resp.location is None
    assert client.get_cookie(COOKIE_NAME) is None


def test_slo_defaults_to_the_service_url(live_server, client, platform, citizen, slo_receiver):
    register(platform, pattern=slo_receiver.url)
    sign_in(client, platform, citizen)
    resp = client.get("/cas/login", query_string={"service": slo_receiver.url})
    ticket = parse_qs(urlsplit(resp.location).query)["ticket"][0]
    client.get("/cas/logout")
    assert _slo_ticket(slo_receiver) == ticket


def test_oidc_end_session_also_logs_out_cas_services(live_server, client, platform, citizen,
                                                     slo_receiver):
    register(platform, slo_url=slo_receiver.url)
    sso = sign_in(client, platform, citizen)
    ticket = _ticket(client)
    with platform.db.session() as db:
        notices = logout.end_browser_session(platform, db, sso.sid, "rp_initiated")
    assert logout.send_notices(platform, notices) == []
    assert _slo_ticket(slo_receiver) == ticket


def test_ban_ends_cas_sessions(live_server, client, platform, citizen, slo_receiver):
    register(platform, slo_url=slo_receiver.url)
    sign_in(client, platform, citizen)
    ticket = _ticket(client)
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        notices = logout.end_person_sessions(platform, db, person, "ban")
    logout.send_notices(platform, notices)
    assert _slo_ticket(slo_receiver) == ticket


def test_ticket_issued_just_before_logout_cannot_be_validated(live_server, client, platform,
                                                              citizen):
    register(platform)
    sign_in(client, platform, citizen)
    ticket = _ticket(client)
    client.get("/cas/logout")
    assert cas_client().verify_ticket(ticket)[0] is None
