"""authlib's view of a Flask request (`FlaskOAuth2Request`), without its up-front costs.

authlib's constructor builds the request's full URL (`Request.url`: host, path and query
re-quoted as an IRI) only to check that the transport is secure (RFC 6749 §3.1, §3.2:
TLS is required; authlib admits plain http to ``localhost`` and loopback addresses, RFC
8252 §7.3) — about a tenth of a client_credentials request's own CPU (bench/README.md,
round 5). That verdict depends only on the scheme and the Host header, so it is computed
once per (scheme, host) with authlib's own `is_secure_transport`, on the URL authlib would
have built, and the URL itself is built only if something reads ``uri``. A plain-http
request from elsewhere still gets `InsecureTransportError`, exactly as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InsecureTransportError

_MAX_HOSTS = 256  # the hosts a node is reached by; beyond that (forged Host headers) no memo
_secure: dict[tuple[bool, str, str], bool] = {}


def secure_transport(scheme: str, host: str, url: Callable[[], str]) -> bool:
    """authlib's ``is_secure_transport(url())``, remembered per scheme and host.

    The URL is ``scheme://host/…`` (werkzeug's `get_current_url`), so its scheme and host
    name — all `is_secure_transport` looks at — are those two values; authlib's override
    ``AUTHLIB_INSECURE_TRANSPORT`` is part of the key, read on every call as authlib does.
    """
    key = (bool(os.getenv("AUTHLIB_INSECURE_TRANSPORT")), scheme, host)
    secure = _secure.get(key)
    if secure is None:
        secure = is_secure_transport(url())
        if len(_secure) < _MAX_HOSTS:
            _secure[key] = secure
    return secure


def check_transport(request: Any) -> None:
    """authlib's ``InsecureTransportError.check(request.url)`` (see `secure_transport`)."""
    if not secure_transport(request.scheme, request.host, lambda: request.url):
        raise InsecureTransportError()


class LeanOAuth2Request(FlaskOAuth2Request):
    """`FlaskOAuth2Request` with the transport check memoised and ``uri`` built on demand.

    Sets the attributes `OAuth2Request.__init__` sets (tests/oidc/test_api_responses.py
    compares the two), except ``uri``, which is a property here.
    """

    def __init__(self, request: Any) -> None:  # noqa: D107 - see the class docstring
        check_transport(request)
        self.method = request.method
        self.headers = request.headers
        self._body = None
        self.payload = FlaskOAuth2Payload(request)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self._request = request

    @property
    def uri(self) -> str:
        return self._request.url  # type: ignore[no-any-return]
