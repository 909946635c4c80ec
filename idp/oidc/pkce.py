"""PKCE (RFC 7636) as this node requires it: S256 only, mandatory for public clients.

``plain`` is refused (RFC 9700 §2.1.1: "plain" SHOULD NOT be used); a challenge without a
method would default to ``plain`` (RFC 7636 §4.3) and is refused likewise. The downgrade —
a code issued with a challenge redeemed without a verifier — fails in authlib's
`CodeChallenge.validate_code_verifier`.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge


class S256CodeChallenge(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}

    def validate_code_challenge(self, grant, redirect_uri):  # type: ignore[no-untyped-def]
        request = grant.request
        data = request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if request.client is not None and request.client.is_public and not challenge:
            raise InvalidRequestError("Public clients must use PKCE with S256.")
        if (challenge or method) and method != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)
