"""What the pages tell people: one kind, specific sentence per outcome (R-70, DESIGN.md).

Services answer with outcome codes; this module turns them into the user's language.
"""

from __future__ import annotations

import math

from flask_babel import gettext as _
from flask_babel import ngettext

from idp.accounts.login import LoginResult, Outcome
from idp.accounts.sms_codes import SendOutcome, SendResult


def minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def locked(seconds: int) -> str:
    return ngettext("账号已锁定,请于 %(num)d 分钟后再试。",
                    "账号已锁定,请于 %(num)d 分钟后再试。", minutes(seconds))


def throttled(seconds: int) -> str:
    return ngettext("此网络的尝试次数过多,请于 %(num)d 分钟后再试。",
                    "此网络的尝试次数过多,请于 %(num)d 分钟后再试。", minutes(seconds))


def account_status(status: str) -> str:
    if status == "banned":
        return _("该账号已被停用。如有疑问,请携带身份证件到政务服务大厅咨询。")
    if status == "closed":
        return _("该账号已注销,无法登录。")
    if status == "phone_cooling_off":  # idp.accounts.recovery.COOLING_OFF
        return _("该账号的绑定手机号刚在政务服务大厅更换,为保护账号安全,暂时不能用短信"
                 "验证码登录或找回密码。请用密码登录;如非本人办理,请携带身份证件到大厅处理。")
    return _("该账号当前无法登录。")


def password_login(result: LoginResult) -> str:
    if result.outcome is Outcome.BAD_CREDENTIALS:
        return ngettext("账号或密码错误,还可尝试 %(num)d 次。",
                        "账号或密码错误,还可尝试 %(num)d 次。", result.remaining)
    return _common(result)


def current_password_wrong(remaining: int) -> str:
    return ngettext("当前密码错误,还可尝试 %(num)d 次。",
                    "当前密码错误,还可尝试 %(num)d 次。", remaining)


def sms_login(result: LoginResult) -> str:
    if result.outcome is Outcome.BAD_CREDENTIALS:
        return ngettext("验证码错误,还可尝试 %(num)d 次。",
                        "验证码错误,还可尝试 %(num)d 次。", result.remaining)
    if result.outcome is Outcome.EXPIRED:
        return _("验证码错误或已失效,请重新获取。")
    return _common(result)


def second_factor(result: LoginResult) -> str:
    if result.outcome is Outcome.BAD_CREDENTIALS:
        return ngettext("动态口令错误或已使用过,还可尝试 %(num)d 次。",
                        "动态口令错误或已使用过,还可尝试 %(num)d 次。", result.remaining)
    if result.outcome is Outcome.LOCKED:
        return ngettext("动态口令验证已锁定,请于 %(num)d 分钟后再试。",
                        "动态口令验证已锁定,请于 %(num)d 分钟后再试。", minutes(result.retry_in))
    return _common(result)


def _common(result: LoginResult) -> str:
    if result.outcome is Outcome.LOCKED:
        return locked(result.retry_in)
    if result.outcome is Outcome.THROTTLED:
        return throttled(result.retry_in)
    if result.outcome is Outcome.UNAVAILABLE:
        return account_status(result.status)
    return _("登录失败,请重试。")


def sms_sent(result: SendResult, masked_phone: str) -> str:
    if result.outcome is SendOutcome.SENT:
        return _("如果该手机号已绑定账号,验证码已发送至 %(phone)s,5 分钟内有效。",
                 phone=masked_phone)
    if result.outcome is SendOutcome.TOO_SOON:
        return ngettext("获取验证码过于频繁,请 %(num)d 秒后再试。",
                        "获取验证码过于频繁,请 %(num)d 秒后再试。", result.retry_in)
    if result.outcome is SendOutcome.PHONE_DAILY:
        return _("该手机号今日获取验证码的次数已达上限,请明天再试。")
    if result.outcome is SendOutcome.ADDRESS_HOURLY:
        return ngettext("此网络获取验证码过于频繁,请于 %(num)d 分钟后再试。",
                        "此网络获取验证码过于频繁,请于 %(num)d 分钟后再试。",
                        minutes(result.retry_in))
    return _("短信发送失败,请稍后再试。")


def password_strength(code: str) -> str:
    if code == "password_too_short":
        return _("新密码至少需要 8 位。")
    if code == "password_too_long":
        return _("新密码不能超过 128 位。")
    return _("新密码需包含数字、小写字母、大写字母、符号中的至少三类。")


def id_type_label(id_type: str) -> str:
    """Identity documents by their names on the card (R-03)."""
    labels = {
        "resident_id": _("居民身份证"),
        "hkmo_residence": _("港澳居民居住证"),
        "tw_residence": _("台湾居民居住证"),
        "foreign_permanent": _("外国人永久居留身份证"),
        "hkmo_permit": _("港澳居民来往内地通行证"),
        "tw_permit": _("台湾居民来往大陆通行证"),
        "passport": _("护照"),
    }
    return labels.get(id_type, id_type)


def realname_label(level: int) -> str:
    """Real-name levels as DESIGN.md "Assurance" defines them."""
    if level >= 3:
        return _("三级:已在服务窗口现场核验")
    if level == 2:
        return _("二级:在线核验,并通过银行卡、人脸或电子身份证等强认证")
    return _("一级:在线实名核验")
