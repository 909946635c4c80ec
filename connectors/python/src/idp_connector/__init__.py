"""Connect a Python department system to the unified identity platform (统一身份认证平台).

OpenID Connect authorization code + PKCE on authlib's client; see docs/integration/.
Flask: ``from idp_connector.flask import IdpConnector, current_user, require_level,
require_authority``.
Any WSGI app: ``from idp_connector.wsgi import IdpMiddleware``.
"""

from idp_connector.client import LoginError, OidcClient, PlatformUnavailable
from idp_connector.config import ConfigError, ConnectorConfig
from idp_connector.identity import User, acr_for_level, level_of
from idp_connector.sessions import MemorySessionStore, SessionStore, SqliteSessionStore
from idp_connector.tokens import LogoutTokenError, TokenError, verify_id_token, verify_logout_token

__all__ = [
    "ConfigError", "ConnectorConfig", "LoginError", "LogoutTokenError", "MemorySessionStore",
    "OidcClient", "PlatformUnavailable", "SessionStore", "SqliteSessionStore", "TokenError",
    "User", "acr_for_level", "level_of", "verify_id_token", "verify_logout_token",
]
__version__ = "0.1.0"
