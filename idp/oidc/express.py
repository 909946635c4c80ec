"""The express lane: the machine hot paths answered without Flask (issue 2 performance).

A department back-end calling /token, /userinfo or /introspect paid, through Flask, werkzeug
and authlib's request machinery, about three times what the protocol work itself costs
(bench/README.md, round 6: ≈ 900 µs against ≈ 290 µs of CPU per client_credentials token
in process). `ExpressLane`, a WSGI middleware in front of the Flask app, answers the plain
success case of exactly these requests itself, by calling the domain code the views call
(client cache, secret check, token generator, verifier, person cache, claims, introspection
payload):

- ``POST /token`` with ``grant_type=client_credentials`` [``scope``] or ``refresh_token``
  (rotation, RFC 9700 §4.14.2) [``scope``], ``client_secret_basic``;
- ``GET /userinfo`` with ``Authorization: Bearer`` (OIDC Core §5.3, RFC 6750 §2.1);
- ``POST /introspect`` of an access token [``token_type_hint``], ``client_secret_basic``
  (RFC 7662 §2.1).

It takes a request only when everything about it is ordinary — no query string, a small
URL-encoded body without any other or repeated parameter, a plain Host, a secure transport
as authlib judges it — and answers only once every check of the full path has passed.
Anything else, every error included, goes on to the Flask app with its body put back, and
is answered there as before: error formats, languages, lockouts and audit stay in one place.
Until it answers, the lane only reads (client cache, Store, database), so handing a request
over changes nothing but its cost. Its responses are those of the Flask path, headers
included (tests/oidc/test_express.py compares the two); ``IDP_EXPRESS_LANE=0`` turns it off.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2 import OAuth2Error
from flask import Flask, request
from sqlalchemy.orm import Session
from werkzeug.sansio.utils import get_host
from werkzeug.wsgi import get_content_length

from idp.accounts.models import Person
from idp.federation import peer_clients
from idp.oidc import refresh, refresh_driver
from idp.oidc.client_credentials import PERSON_SCOPES
from idp.oidc.introspection import IntrospectionEndpoint, is_access_token, issued_to
from idp.oidc.models import Client, RefreshToken
from idp.oidc.oauth_request import secure_transport
from idp.oidc.server import IdpAuthorizationServer, log_machine_token
from idp.oidc.tokens import AuthorizedPerson
from idp.oidc.userinfo import BearerError, UserInfo, bearer_token
from idp.platform import Platform

log = logging.getLogger(__name__)

_MAX_BODY = 8192  # the lane's requests carry a few hundred bytes; larger ones take the full path
_FORM_TYPES = {"application/x-www-form-urlencoded",
               "application/x-www-form-urlencoded; charset=utf-8",
               "application/x-www-form-urlencoded;charset=utf-8"}
# Dot-separated labels of 1-63 characters and a port without leading zeros: werkzeug's
# routing binds these without question (it answers a bad Host with 400, review of d7c472f).
_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::([1-9][0-9]{0,4}))?")
_FAILED = "idp.express.failed"  # environ key: the lane's unexpected error, for Flask to raise
_PLAIN_HOST = "idp.express.host"  # environ key: `_plain_host`'s answer for this request
# What authlib's Flask integration answers a token-endpoint request with (`handle_response`;
# its body is ``flask.json.dumps``: the app's provider, sorted keys, default separators).
_AUTHLIB_JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                 ("Pragma", "no-cache")]
# The only parameters a request the lane answers may carry (anything else: the full path).
_TOKEN_PARAMETERS = frozenset(("grant_type", "scope", "refresh_token"))
_INTROSPECT_PARAMETERS = frozenset(("token", "token_type_hint"))
_JSON_TYPE = [("Content-Type", "application/json")]  # `jsonify`'s, in views.userinfo
_NO_STORE = [("Cache-Control", "no-store")]
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

# A 200 response: the headers before Content-Length, those after it, and the body — the
# length stands where the Flask path puts it (tests/oidc/test_api_responses.py pins the order).
Answer = tuple[list[tuple[str, str]], list[tuple[str, str]], bytes]


class NotMine(Exception):
    """Not the plain success case: the Flask app answers the request."""


def read_form(environ: dict[str, Any], names: frozenset[str]) -> dict[str, str]:
    """The URL-encoded body's parameters, each at most once and all among ``names``.

    The body is put back as ``wsgi.input`` before anything is decided, for the Flask app
    to read again if the request is handed over.
    """
    if environ.get("CONTENT_TYPE", "").lower() not in _FORM_TYPES \
            or "HTTP_TRANSFER_ENCODING" in environ:
        raise NotMine
    length = get_content_length(environ)  # werkzeug's reading of it, as the Flask path's
    if length is None or not 0 < length <= _MAX_BODY:
        raise NotMine
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != length or not body.isascii():
        raise NotMine
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True,
                          max_num_fields=len(names))
    except ValueError:
        raise NotMine from None
    form = dict(pairs)
    if len(form) != len(pairs) or not form.keys() <= names:
        raise NotMine
    if any("\ufffd" in value for value in form.values()):  # not UTF-8 once decoded
        raise NotMine
    return form


def basic_credentials(environ: dict[str, Any]) -> tuple[str, str]:
    """``client_secret_basic`` (RFC 6749 §2.3.1): the client id and secret, as authlib's
    `extract_basic_authorization` reads them (URL-decoded), both present."""
    scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        raise NotMine
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        raise NotMine from None
    client_id, colon, secret = decoded.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    if not (colon and client_id and secret):
        raise NotMine
    return client_id, secret


def _plain_host(environ: dict[str, Any]) -> str:
    """The request's host as werkzeug gives it (`Request.host`), when the URL map binds
    it without question; else the full path answers, with its 400 for a bad host."""
    header = environ.get("HTTP_HOST", "")
    match = _HOST.fullmatch(header)
    if match is None or (match.group(1) is not None and int(match.group(1)) > 65535):
        raise NotMine
    host = get_host(environ.get("wsgi.url_scheme", ""), header)
    if not host:
        raise NotMine
    return host


def raise_lane_failure() -> None:
    """``before_request``: re-raise the lane's unexpected error in the Flask app's context."""
    failed = request.environ.pop(_FAILED, None)
    if failed is not None:
        raise failed


def install(app: Flask) -> None:
    """Put the lane in front of ``app`` (inside ProxyFix, which create_app adds last)."""
    app.before_request_funcs.setdefault(None, []).insert(0, raise_lane_failure)
    app.wsgi_app = ExpressLane(app.wsgi_app, app)  # type: ignore[method-assign]


class ExpressLane:
    """WSGI middleware answering the plain success case of the hot machine requests."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.routes: dict[tuple[str, str], Callable[[dict[str, Any]], Answer]] = {
            ("POST", "/token"): self.token,
            ("GET", "/userinfo"): self.userinfo,
            ("POST", "/introspect"): self.introspect,
        }
        self.hsts = app.config["SESSION_COOKIE_SECURE"]  # as security_headers.py decides
        self.answered = 0  # requests the lane answered (tests check it did)

    @property
    def server(self) -> IdpAuthorizationServer:
        return self.app.extensions["oidc"]  # type: ignore[no-any-return]

    @property
    def platform(self) -> Platform:
        return self.app.extensions["idp"]  # type: ignore[no-any-return]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        route = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO")))
        if route is None or environ.get("QUERY_STRING") or self.app.debug:
            return self.wsgi_app(environ, start_response)
        try:
            environ[_PLAIN_HOST] = _plain_host(environ)
            head, tail, body = route(environ)
        except (NotMine, BearerError, OAuth2Error):  # refusals: the full path words them
            return self.wsgi_app(environ, start_response)
        except Exception as exc:
            # A fault (Redis or the database down, a bug): not retried by the full path —
            # that would double the wait and could repeat a side effect — but raised inside
            # it (`raise_lane_failure`), so errors.py logs and answers it as always.
            environ[_FAILED] = exc
            return self.wsgi_app(environ, start_response)
        self.answered += 1
        start_response("200 OK", self._finish(environ, head, tail, body))
        return [body]

    def _finish(self, environ: dict[str, Any], head: list[tuple[str, str]],
                tail: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
        """The response's headers, then those security_headers.py adds."""
        out = [*head, ("Content-Length", str(len(body))), *tail,
               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
        if self.hsts and environ.get("wsgi.url_scheme") in ("https", "wss"):
            out.append(_HSTS)
        return out

    def _require_secure_transport(self, environ: dict[str, Any]) -> None:
        """authlib's check at the token-style endpoints (oauth_request.check_transport)."""
        scheme, host = environ.get("wsgi.url_scheme", ""), environ[_PLAIN_HOST]  # as Flask's
        if not secure_transport(scheme, host, lambda: f"{scheme}://{host}/"):
            raise NotMine

    def _client(self, credentials: tuple[str, str], endpoint: str, db: Callable[[], Session]
                ) -> Client:
        """The client authenticated by ``client_secret_basic`` (`basic_credentials`), as
        authlib's `ClientAuthentication` would find it (its first method)."""
        client_id, secret = credentials
        if peer_clients.is_peer_id(client_id):  # federation peers: the full path
            raise NotMine
        client = self.server.query_client(client_id, db=db)
        if client is None or not client.check_endpoint_auth_method("client_secret_basic",
                                                                   endpoint):
            raise NotMine
        if not client.check_client_secret(secret):
            raise NotMine
        return client

    def _reader(self, stack: ExitStack) -> Callable[[], Session]:
        """A read-only session opened on first use (db.Database.reader), like the views'."""
        opened: list[Session] = []

        def db() -> Session:
            if not opened:
                opened.append(stack.enter_context(self.platform.db.reader()))
            return opened[0]

        return db

    # -- the three requests ----------------------------------------------------------------

    def token(self, environ: dict[str, Any]) -> Answer:
        """The token endpoint's two machine grants."""
        self._require_secure_transport(environ)
        form = read_form(environ, _TOKEN_PARAMETERS)
        if form.get("grant_type") == "refresh_token":
            return self._refresh(environ, form)
        if form.get("grant_type") != "client_credentials" or "refresh_token" in form:
            raise NotMine
        server = self.server
        server.keys.warm()
        with ExitStack() as stack:
            client = self._client(basic_credentials(environ), "token", self._reader(stack))
        scope = form.get("scope")
        requested = set((scope or "").split())
        if not client.check_grant_type("client_credentials") \
                or not requested <= set(server.scopes_supported) \
                or requested & PERSON_SCOPES or not requested <= client.scope_set:
            raise NotMine
        token = server.generate_token(grant_type="client_credentials", client=client,
                                      user=None, scope=scope, include_refresh_token=False)
        log_machine_token("client_credentials", client.client_id)
        return _AUTHLIB_JSON, [], self.app.json.dumps(token).encode()

    def _refresh(self, environ: dict[str, Any], form: dict[str, str]) -> Answer:
        """RFC 6749 §6 with rotation, as refresh.RefreshTokenGrant answers it: on PostgreSQL
        in one statement on the driver (refresh_driver.py), elsewhere in one transaction of
        the session. A token retired, revoked, expired, of another client or whose person
        or authority changed is handed over — so is a rotation lost to a concurrent use
        (nothing kept): the full path then finds it retired and revokes the family (reuse)."""
        server = self.server
        server.keys.warm()
        database = self.platform.db
        credentials = basic_credentials(environ)
        presented = form.get("refresh_token")
        address = (environ.get("REMOTE_ADDR") or "")[:64]
        if database.drives_psycopg:
            with ExitStack() as stack:
                client = self._client(credentials, "token", self._reader(stack))
            with database.autocommit_driver() as connection:
                found = refresh_driver.find_with_person(
                    connection, server.settings.secret_key, presented)
                row, token, user = self._rotation(form, client, found, None)
                if not refresh_driver.rotate_and_record(connection, server, row, token,
                                                        client, user, address):
                    raise NotMine  # nothing changed; the full path detects the reuse
            return _AUTHLIB_JSON, [], self.app.json.dumps(token).encode()
        with database.session() as session:
            client = self._client(credentials, "token", lambda: session)
            found = refresh.find_with_person(session, server.settings.secret_key, presented)
            row, token, user = self._rotation(form, client, found, session)
            if not refresh.rotate(session, server.settings.secret_key, row,
                                  token.get("refresh_token"), client_id=client.client_id,
                                  user=user, scope=token.get("scope", ""),
                                  ttl=server.settings.refresh_token_ttl):
                raise NotMine  # rolled back; the full path detects the reuse
            server.record_issue(session, token, client, "refresh_token", user, address)
        return _AUTHLIB_JSON, [], self.app.json.dumps(token).encode()

    def _rotation(self, form: dict[str, str], client: Client,
                  found: tuple[RefreshToken, Person | None] | None, session: Session | None
                  ) -> tuple[RefreshToken, dict[str, Any], AuthorizedPerson]:
        """The refresh grant's checks, then the new tokens: the presented token, what is
        issued, and for whom. ``session`` None: a grant acting for a legal person, whose
        authority is re-read through a session, is handed over."""
        server = self.server
        if not client.check_grant_type("refresh_token") or found is None:
            raise NotMine
        row, person = found
        scope = form.get("scope") or row.get_scope()
        if not refresh.is_live(row) or not row.check_client(client) \
                or not set(scope.split()) <= set(row.get_scope().split()) \
                or (row.acting is not None and session is None):
            raise NotMine
        user = refresh.authorized_person(server, session, row, person, client)
        if user is None:
            raise NotMine
        token = server.generate_token(
            grant_type="refresh_token", client=client, user=user, scope=scope,
            include_refresh_token=refresh.keeps_offline_access(scope))
        return row, token, user

    def userinfo(self, environ: dict[str, Any]) -> Answer:
        """OIDC Core §5.3 by GET, as views.userinfo answers it."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"), None, "GET", False)
        server = self.server
        server.keys.warm()
        with ExitStack() as stack:
            db = self._reader(stack)
            claims = UserInfo(self.platform, server.verifier).claims(
                db, token, lambda cid: server.query_client(cid, db=db),
                (environ.get("REMOTE_ADDR") or "")[:64])
        body = self.app.json.dumps(claims, separators=(",", ":")) + "\n"  # as jsonify
        return _JSON_TYPE, _NO_STORE, body.encode()

    def introspect(self, environ: dict[str, Any]) -> Answer:
        """RFC 7662 §2 for access tokens, in introspection.IntrospectionEndpoint's order:
        the caller is authenticated before the token is read, and the token checked to be
        the caller's before its person is."""
        self._require_secure_transport(environ)
        form = read_form(environ, _INTROSPECT_PARAMETERS)
        token = form.get("token")
        hint = form.get("token_type_hint")
        if not is_access_token(token) or (hint and hint not in ("access_token",
                                                                "refresh_token")):
            raise NotMine
        credentials = basic_credentials(environ)  # malformed: handed over before any I/O
        server = self.server
        server.keys.warm()
        endpoint: IntrospectionEndpoint = server._endpoints["introspection"][0]
        with ExitStack() as stack:
            db = self._reader(stack)
            client = self._client(credentials, "introspection", db)
            verified = server.verifier.verify(token, with_person_version=True)  # type: ignore[arg-type]
            found = endpoint._access(verified, db) \
                if verified is not None and issued_to(verified, client) else None
        if found is None or not endpoint.check_permission(found, client, None) \
                or not found.active:
            payload: dict[str, Any] = {"active": False}
        else:
            payload = endpoint.introspect_token(found)
        return _AUTHLIB_JSON, [], self.app.json.dumps(payload).encode()
