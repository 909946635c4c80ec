"""SMS port: the carrier gateway over HTTP, or a development outbox (DESIGN.md).

Messages are rendered from named templates so nothing but the template name and a masked
phone ever reaches the log; codes stay out of logs (R-70).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Protocol

import requests

from idp.crypto import mask_phone
from idp.store import Store, get_json, set_json

log = logging.getLogger(__name__)

TEMPLATES = {
    "login_code": "【政务服务】您的登录验证码为{code},5分钟内有效,请勿泄露。",
    "verify_code": "【政务服务】您的验证码为{code},5分钟内有效,请勿泄露。",
    "password_reset": "【政务服务】您的密码已重置。如非本人操作,请立即联系客服。",
    "counter_code": ("【政务服务】您正在政务服务大厅窗口办理统一身份认证账号,验证码为{code},"
                     "请告知窗口工作人员,5分钟内有效。"),
    "recovery_code": "【政务服务】您正在找回密码,验证码为{code},5分钟内有效,请勿泄露。",
    "phone_old_code": "【政务服务】您正在更换绑定手机号,验证码为{code},5分钟内有效,请勿泄露。",
    "phone_new_code": "【政务服务】您正在将本号码绑定为账号手机号,验证码为{code},5分钟内有效。",
    "phone_changed": ("【政务服务】您账号绑定的手机号已更换为{phone}。如非本人操作,"
                      "请立即携带身份证件到政务服务大厅办理。"),
    "phone_changed_counter": ("【政务服务】您账号绑定的手机号已在{hall}窗口更换,本号码已解绑。"
                              "如非本人办理,请立即致电{hotline}。"),
    "account_banned": "【政务服务】您的账号已被停用,原因:{reason}。如有疑问请联系{department}。",
    "account_unbanned": "【政务服务】您的账号已恢复使用。",
    "grant_changed": "【政务服务】您在{org}的授权已{change}。",
    "grant_received": "【政务服务】您已获授权代表{org}办理业务,有效期至{until}。",
    "grant_application": "【政务服务】有人申请代表{org}办理业务的授权,请登录处理。",
    "grant_application_refused": "【政务服务】您申请代表{org}办理业务的授权未获批准。",
    "grant_review": ("【政务服务】{org}的法定代表人已变更,原法定代表人所作的{count}项授权"
                     "须在{deadline}前确认保留,否则将失效。"),
    "grant_review_pending": ("【政务服务】{org}的法定代表人已变更,您的授权须经新法定代表人确认,"
                             "{deadline}前未确认将失效。"),
    "representative_replaced": ("【政务服务】您已不再是{org}的法定代表人,"
                                "相关权限已转交新法定代表人。"),
}


class SmsError(RuntimeError):
    """The gateway could not accept the message; the user is told to retry later."""


class SmsGateway(Protocol):
    def send(self, phone: str, template: str, params: dict[str, str]) -> None:
        """Send a templated message; raise `SmsError` if it cannot be accepted."""


@dataclass(frozen=True)
class OutboxMessage:
    phone: str
    template: str
    text: str
    at: float


class OutboxSms:
    """Development gateway: keeps recent messages in the Store for the outbox page and tests."""

    KEEP = 50
    TTL = 24 * 3600

    def __init__(self, store: Store) -> None:
        self._store = store

    def send(self, phone: str, template: str, params: dict[str, str]) -> None:
        text = TEMPLATES[template].format(**params)
        message = {"phone": phone, "template": template, "text": text, "at": time.time()}
        for key in (f"sms-outbox:{phone}", "sms-outbox"):
            kept = get_json(self._store, key) or []
            set_json(self._store, key, ([message] + kept)[: self.KEEP], self.TTL)
        log.info("sms outbox: %s to %s", template, mask_phone(phone))

    def messages(self, phone: str | None = None) -> list[OutboxMessage]:
        key = f"sms-outbox:{phone}" if phone else "sms-outbox"
        return [OutboxMessage(**m) for m in get_json(self._store, key) or []]


class HttpSms:
    """Carrier gateway: POST JSON, signed with HMAC-SHA256 over timestamp and body."""

    def __init__(self, url: str, key: str, timeout: float = 5.0) -> None:
        self._url = url
        self._key = key.encode()
        self._timeout = timeout

    def send(self, phone: str, template: str, params: dict[str, str]) -> None:
        body = json.dumps({"phone": phone, "template": template, "params": params},
                          ensure_ascii=False).encode()
        ts = str(int(time.time()))
        signature = hmac.new(self._key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        try:
            resp = requests.post(self._url, data=body, timeout=self._timeout, headers={
                "Content-Type": "application/json", "X-Timestamp": ts,
                "X-Signature": signature})
        except requests.RequestException as exc:
            raise SmsError("gateway unreachable") from exc
        if resp.status_code != 200:
            raise SmsError(f"gateway answered {resp.status_code}")
        log.info("sms sent: %s to %s", template, mask_phone(phone))
