"""Electronic business licence (电子营业执照): a signed licence document (R-21, R-23).

The licence is a compact JWS (RFC 7515) signed with ES256 (RFC 7518 §3.4) by the licence
issuer, whose public keys are configured in ``elicence_issuer_jwks`` (a JWKS, RFC 7517, as
JSON text or a file path). Its payload is a JSON object::

    {"iss": "<issuer>", "iat": 1700000000, "exp": 1700086400,
     "credit_code": "91350200MA2XK7L02E", "name": "厦门鹭江数字科技有限公司",
     "kind": "enterprise", "representative": "刘洋"}

``exp`` is required: an electronic licence presented online is a short-lived export from the
licence holder's app, so an old copy cannot be replayed for ever. Only ES256 is accepted,
whatever the header says (no ``none``, no HMAC with a public key: RFC 8725 §3.1).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.realname.documents import DocumentError, parse

ALGORITHM = "ES256"
MAX_TOKEN_CHARS = 16 * 1024
LEEWAY = 60  # seconds of clock skew tolerated on iat/exp
KINDS = frozenset({"enterprise", "social_organisation", "public_institution", "other"})

MESSAGES: dict[str, tuple[str, str]] = {
    "not_configured": ("平台尚未配置电子营业执照签发方公钥,暂不支持电子营业执照开户",
                       "No electronic licence issuer key is configured"),
    "malformed": ("电子营业执照格式无效", "The electronic licence is not a valid signed "
                  "document"),
    "bad_signature": ("电子营业执照签名验证失败", "The electronic licence signature does not "
                      "verify"),
    "wrong_issuer": ("电子营业执照不是由认可的签发方签发", "The electronic licence comes from "
                     "an issuer that is not trusted"),
    "expired": ("电子营业执照已过期,请重新导出", "The electronic licence has expired; export "
                "it again"),
    "incomplete": ("电子营业执照缺少统一社会信用代码、名称或法定代表人",
                   "The electronic licence lacks the credit code, name or representative"),
}


class ELicenceError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        zh, en = MESSAGES[code]
        self.message = zh
        self.messages = {"zh": zh, "en": en}


@dataclass(frozen=True)
class ELicence:
    """The verified licence data."""

    credit_code: str
    name: str
    kind: str
    representative: str
    issuer: str
    key_id: str


def load_issuer_keys(setting: str) -> KeySet | None:
    """The configured issuer JWKS (JSON text or a file path); None when not configured."""
    setting = setting.strip()
    if not setting:
        return None
    text = setting if setting.startswith("{") else Path(setting).read_text(encoding="utf-8")
    return KeySet.import_key_set(json.loads(text))


def verify(token: str, keys: KeySet | None, *, issuer: str = "",
           now: dt.datetime | None = None) -> ELicence:
    """Verify the licence's signature, issuer and lifetime; return its data."""
    if keys is None:
        raise ELicenceError("not_configured")
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN_CHARS:
        raise ELicenceError("malformed")
    try:
        obj = jws.deserialize_compact(token.strip(), keys, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise ELicenceError("bad_signature" if "signature" in type(exc).__name__.lower()
                            else "malformed") from None
    try:
        claims = json.loads(obj.payload)
    except (ValueError, UnicodeDecodeError):
        raise ELicenceError("malformed") from None
    if not isinstance(claims, dict):
        raise ELicenceError("malformed")
    _check_time(claims, now or dt.datetime.now(dt.UTC))
    if issuer and claims.get("iss") != issuer:
        raise ELicenceError("wrong_issuer")
    return _licence(claims, str(obj.protected.get("kid", "")))


def _check_time(claims: dict[str, Any], now: dt.datetime) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    stamp = now.timestamp()
    if not isinstance(exp, int) or isinstance(exp, bool) or exp + LEEWAY < stamp:
        raise ELicenceError("expired")
    if isinstance(iat, int) and not isinstance(iat, bool) and iat - LEEWAY > stamp:
        raise ELicenceError("expired")


def _licence(claims: dict[str, Any], kid: str) -> ELicence:
    name, rep, kind = claims.get("name"), claims.get("representative"), claims.get("kind")
    try:
        code = parse("uscc", str(claims.get("credit_code", ""))).number
    except DocumentError:
        raise ELicenceError("incomplete") from None
    if not (isinstance(name, str) and name.strip() and len(name) <= 200
            and isinstance(rep, str) and rep.strip() and len(rep) <= 64):
        raise ELicenceError("incomplete")
    return ELicence(code, name.strip(), kind if kind in KINDS else "enterprise", rep.strip(),
                    str(claims.get("iss", "")), kid)
