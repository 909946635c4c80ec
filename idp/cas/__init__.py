"""CAS front-end (Apereo CAS Protocol 3.0): a second protocol onto the same accounts, SSO
sessions, login pages, access policies and audit as the OpenID Provider (issue 7 item 4).

- `idp.cas.services`: service registration (CLI ``idp cas-services``);
- `idp.cas.tickets`: service tickets in the Store; `idp.cas.validate`: validation;
- `idp.cas.slo`: single logout, a session-end hook of `idp.oidc.logout`.
"""

from __future__ import annotations

from flask import Flask

from idp.platform import Platform


def init_app(app: Flask, platform: Platform) -> None:
    """Register the ``/cas`` endpoints and the single-logout hook."""
    from idp.cas import slo
    from idp.cas.views import bp

    hooks = platform.services.setdefault("session_end_hooks", [])
    assert isinstance(hooks, list)
    if slo.notices not in hooks:
        hooks.append(slo.notices)
    app.register_blueprint(bp)
