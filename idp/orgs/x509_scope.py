"""What an enterprise certificate sign-in may do (R-23, R-42; issue 4 review item 2).

The certificate proves the organisation, not the person at the keyboard: the USB key is
often held by finance staff, yet the session is the legal representative's. So a
certificate session (``SsoSession.acting_for``, or an access token whose ``amr`` has
``x509``) is scoped to its enterprise:

- the personal account centre (``/account`` and everything under it: password, phone,
  TOTP, history, apps), opening other enterprises (``/org``), and the delegation pages and
  API of any OTHER organisation need a personal sign-in (``PERSONAL``);
- the certificate's own organisation stays usable, but what hands out or prolongs
  authority — grant, change, approve an application, keep a grant after a change of
  representative — needs the representative in person (``STEP_UP``). The platform has no
  personal second factor that a certificate session could add (idp/web/stepup.py raises the
  real-name level with a face match for the same login), so a personal sign-in is the
  step-up: the page says so and the login form follows.

One rule table for the pages and the JSON API, applied before any view
(`idp.web.login_x509` registers it), so no view can forget it.
"""

from __future__ import annotations

import re

ALLOW, PERSONAL, STEP_UP = "allow", "personal", "step_up"


_WEB_ORG = re.compile(r"^/account/orgs/([^/]+)(/.*)?$")
_WEB_OPENING = re.compile(r"^/org/([^/]+)(/.*)?$")
_API_ORG = re.compile(r"^/api/v1/orgs/([^/]+)(/.*)?$")
# Operations that hand out or prolong authority (the rest of the org's pages stay usable).
_WEB_SENSITIVE = re.compile(r"^/grant$|^/grants/\d+/(change|approve)$")
_WEB_OPENING_SENSITIVE = re.compile(r"^/review/\d+/keep$")
_API_SENSITIVE = {("POST", re.compile(r"^/grants$")),
                  ("PATCH", re.compile(r"^/grants/\d+$")),
                  ("POST", re.compile(r"^/grants/\d+/(approve|keep)$"))}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def web_rule(path: str, credit_code: str) -> str:
    """A page request from a certificate session for ``credit_code``."""
    for pattern, sensitive, prefix in ((_WEB_ORG, _WEB_SENSITIVE, "/account"),
                                       (_WEB_OPENING, _WEB_OPENING_SENSITIVE, "/org")):
        if not _under(path, prefix):
            continue
        found = pattern.match(path)
        if found is None or found.group(1) != credit_code:
            return PERSONAL
        return STEP_UP if sensitive.match(found.group(2) or "") else ALLOW
    return ALLOW


def api_rule(path: str, method: str, credit_code: str | None) -> str:
    """An API request with a certificate session's token (``org`` claim: ``credit_code``)."""
    if _under(path, "/api/v1/me"):
        return PERSONAL
    if not _under(path, "/api/v1/orgs"):
        return ALLOW
    found = _API_ORG.match(path)
    if found is None or credit_code is None or found.group(1) != credit_code:
        return PERSONAL
    rest = found.group(2) or ""
    if any(method == m and pattern.match(rest) for m, pattern in _API_SENSITIVE):
        return STEP_UP
    return ALLOW
