"""What a department system would receive for a sign-in, decoded (issue 7 item 6, R-60).

`preview` builds, for a signed-in TEST citizen and a registered client, the ID token header
and claims, the userinfo claims and the ``org``/``authority`` claims exactly as the platform
issues them to that client (its ``sub`` type, scopes, signing algorithm, policy), each with
an explanation. Nothing is signed and no authorization code is made: what the self-check
shows can never be presented at the client's callback or to an API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.accounts.sessions import SsoSession, public_sid
from idp.crypto import mask_id_number, mask_name
from idp.oidc import acting, consent
from idp.oidc.claims import ClaimContext, claims_for
from idp.oidc.models import Client
from idp.oidc.policy import has_mfa, session_level
from idp.oidc.runtime import keyring
from idp.oidc.subject import subject_for
from idp.platform import Platform

# Every claim the page may show, explained for a department developer (docs/integration §5).
EXPLAIN: dict[str, Any] = {
    "iss": _l("签发者:平台的地址。业务系统必须核对它与配置的 issuer 完全一致。"),
    "aud": _l("受众:您的 client_id。受众中没有您的 client_id 的令牌必须拒绝。"),
    "sub": _l("用户标识:业务系统以此识别用户。成对(pairwise)标识在不同业务系统之间各不相同,"
              "不能用来关联其他系统的用户。"),
    "iat": _l("签发时间(Unix 秒)。"),
    "exp": _l("过期时间(Unix 秒)。过期的 ID 令牌必须拒绝。"),
    "auth_time": _l("用户在平台完成登录的时间(Unix 秒)。"),
    "nonce": _l("业务系统发起登录时生成的随机值,必须与本浏览器会话中保存的一致,防止重放。"),
    "at_hash": _l("访问令牌的哈希值:用来核对访问令牌与这个 ID 令牌是同一次签发的。"),
    "acr": _l("实名认证等级:urn:idp:acr:realname:N,N 为 1 至 3。需要更高等级时用 "
              "acr_values 提升认证(require_level)。"),
    "amr": _l("本次登录使用的认证方式:pwd 密码、sms 短信验证码、otp 动态口令、qr 扫码、"
              "face 人脸、x509 数字证书、mfa 多因素。"),
    "sid": _l("平台会话标识:退出通知(back-channel logout)的 logout token 以 sid 指明要结束的"
              "会话,业务系统须按 sid 保存本地会话。本页只显示开头部分。"),
    "org": _l("用户当前代表的企业:统一社会信用代码 credit_code、名称 name、类型 type。"
              "只在用户选择代表企业办理时出现。"),
    "authority": _l("用户为该企业办事的授权:role 为 representative(法定代表人)或 delegate"
                    "(受托经办人),level 为授权层级,chain 为授权链,items 为可办理的事项"
                    "(\"*\" 表示全部),valid_until 为授权截止时间(null 表示长期)。"
                    "连接器用 has_authority(\"事项\") 检查。"),
    "name": _l("姓名:profile 范围为打码姓名,realname 范围为完整姓名(本页打码显示)。"),
    "phone_number": _l("绑定的手机号(E.164 格式,本页打码显示)。"),
    "phone_number_verified": _l("手机号已经短信或窗口核验。"),
    "id_type": _l("证件类型。"),
    "id_number_masked": _l("打码的证件号码。"),
    "id_number": _l("完整证件号码:仅限获准的系统使用 idcard 范围,每次读取都记入审计"
                    "(本页打码显示)。"),
    "realname_level": _l("账号的实名等级(1 至 3);本次登录的等级见 acr。"),
}
# Personal data the page never shows in full, although the client receives it (DESIGN.md).
MASK = {"name": mask_name, "id_number": mask_id_number,
        "phone_number": lambda v: v[:5] + "****" + v[-4:] if len(v) > 9 else "****"}


@dataclass
class Claim:
    name: str
    value: Any
    explanation: Any
    masked: bool = False


@dataclass
class Preview:
    """The decoded tokens and what stands between this sign-in and the client."""

    header: dict[str, Any]
    id_token: list[Claim]
    userinfo: list[Claim]
    enterprise: list[Claim]
    denials: list[str] = field(default_factory=list)  # the error the client would receive
    consent_scopes: list[str] = field(default_factory=list)  # the person would be asked
    acting_options: list[str] = field(default_factory=list)  # credit codes available
    org_not_authorised: bool = False  # the credit code asked for is not among the options


def _claims(values: dict[str, Any]) -> list[Claim]:
    found = []
    for name, value in values.items():
        masker = MASK.get(name)
        shown = masker(str(value)) if masker and value else value
        found.append(Claim(name, shown, EXPLAIN.get(name, ""), masked=shown != value))
    return found


def _denials(client: Client, sso: SsoSession, acting_for: bool) -> list[str]:
    """The client's mandatory policy, as `idp.oidc.policy.unmet_after_login` applies it."""
    found = []
    if session_level(sso) < client.min_realname_level:
        found.append("realname_level_insufficient")
    if client.require_mfa and not has_mfa(sso):
        found.append("second_factor_required")
    kind = acting.LEGAL_ACTING if acting_for else acting.NATURAL
    if kind not in (client.allowed_account_kinds or [acting.NATURAL]):
        found.append("account_kind_not_allowed")
    return found


def preview(platform: Platform, db: Session, client: Client, person: Person, sso: SsoSession,
            org_hint: str | None = None, now: int | None = None) -> Preview:
    """Everything the client would receive for this person's sign-in, acting for
    ``org_hint`` (a credit code) when given and allowed, else as themself."""
    settings, now = platform.settings, int(time.time()) if now is None else now
    sub = subject_for(client, person.sub, settings.secret_key)
    options = acting.options(db, person.id, client.client_id) if acting.serves_acting(
        client) else []
    chosen = acting.by_hint(options, org_hint) if org_hint else None
    if chosen is None and options and not acting.serves_natural(client):
        chosen = options[0]  # a client only for enterprises: the chooser would offer these
    ring = keyring(platform)
    alg = client.id_token_signed_response_alg or ring.default_alg
    header = {"alg": alg, "kid": ring.signer(alg).kid, "typ": "JWT"}
    id_token: dict[str, Any] = {
        "iss": settings.issuer, "aud": client.client_id, "sub": sub, "iat": now,
        "exp": now + settings.id_token_ttl, "auth_time": sso.auth_time,
        "nonce": "…", "at_hash": "…", "acr": sso.acr, "amr": list(sso.amr),
        "sid": public_sid(settings.secret_key, sso.sid)}
    enterprise = acting.claims(chosen, client, settings.secret_key) if chosen else {}
    id_token.update(enterprise)
    accounts = Accounts(db, platform.protector, platform.hasher)
    userinfo = {"sub": sub, **claims_for(ClaimContext(accounts, person, client), client.scope),
                **enterprise}
    wanted = consent.needs_consent(db, person.id, client, client.scope, set())
    return Preview(
        header=header, id_token=_claims(id_token), userinfo=_claims(userinfo),
        enterprise=_claims(enterprise), denials=_denials(client, sso, chosen is not None),
        consent_scopes=sorted(set(client.scope.split()) - {"openid"}) if wanted else [],
        acting_options=[a.credit_code for a in options],
        org_not_authorised=bool(org_hint) and (chosen is None or chosen.credit_code != org_hint))
