"""Authentication gateway for department web systems that cannot speak OIDC (issue 7 item 3).

Runs beside nginx (``auth_request``): signs people in with the unified identity platform
(OIDC code flow + PKCE), keeps server-side sessions, and passes the identity to the legacy
system in HMAC-signed ``X-Idp-*`` headers; back-channel logout ends its sessions.
Legacy Python systems check the headers with `verify_identity`.
"""

from idp_gateway.signing import Identity, SignatureError, sign_identity, verify_identity

__all__ = ["Identity", "SignatureError", "sign_identity", "verify_identity"]
__version__ = "0.1.0"
