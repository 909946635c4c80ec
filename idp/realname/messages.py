"""What registration tells people, per outcome code, in Simplified Chinese and English.

One table serves both fronts: the JSON API puts the Chinese text in a problem's ``title`` and
the English in ``detail``; the pages pass the Chinese text through gettext (the English is
in the web catalogue). Placeholders use ``%(name)s``, as gettext does.
"""

from __future__ import annotations

import math

from idp.realname.reg_state import RegistrationError

# code: (status for the API, Chinese, English)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "注册已过期,请重新开始。",
                  "The registration has expired; please start again."),
    "closed": (503, "暂时无法在线注册,请稍后再试或到政务服务大厅办理。",
               "Online registration is not available now; try later or visit a service hall."),
    "channel_invalid": (422, "注册渠道无效。", "Unknown registration channel."),
    "name_missing": (422, "请输入姓名。", "Please enter your name."),
    "name_invalid": (422, "姓名格式不正确,请按证件上的姓名填写。",
                     "The name is not valid; enter it as on your document."),
    "document_type_offline": (422, "该证件类型暂不支持在线注册,请携带证件到政务服务大厅办理。",
                              "This document type cannot register online; please visit a "
                              "service hall with the document."),
    "id_number_missing": (422, "请输入证件号码。", "Please enter the document number."),
    "id_number_invalid": (422, "证件号码不正确。", "The document number is not valid."),
    "already_registered": (409, "该证件号码已注册。如忘记密码,可通过“找回密码”重新设置。",
                           "This document number is already registered. If you forgot the "
                           "password, use password recovery."),
    "identity_no_match": (422, "姓名与证件号码不匹配,请核对后重试。",
                          "The name and document number do not match; please check them."),
    "identity_deceased": (403, "无法使用该身份信息注册。如有疑问,请到政务服务大厅咨询。",
                          "This identity cannot be registered. Please ask at a service hall."),
    "identity_cancelled": (403, "该证件已注销,无法注册。请使用有效证件,或到政务服务大厅咨询。",
                           "This document has been cancelled and cannot be used to register."),
    "factor_unknown": (404, "不支持的核验方式。", "Unknown verification factor."),
    "factor_done": (409, "该项已核验,请选择其他核验方式。",
                    "This factor is already verified; choose another one."),
    "field_missing": (422, "请填写完整的核验信息。", "Please fill in every field."),
    "field_format": (422, "核验信息格式不正确,请核对后重试。",
                     "A field has the wrong format; please check it."),
    "field_check_digit": (422, "银行卡号校验位不正确,请核对后重试。",
                          "The bank card number's check digit is wrong."),
    "factor_no_match": (422, "%(check)s核验未通过:信息与本人不一致。"
                             "可核对后重试,或选择其他核验方式。",
                        "The %(check)s check failed: the details do not belong to you. Check "
                        "them or choose another factor."),
    "authority_unavailable": (503, "暂时无法完成%(check)s核验,请稍后重试或选择其他核验方式。",
                              "The %(check)s check cannot be done right now; retry later or "
                              "choose another factor."),
    "rate_limited": (429, "核验次数过多,请于 %(minutes)d 分钟后再试。",
                     "Too many verification attempts; try again in %(minutes)d minutes."),
    "sms_limited": (429, "验证码发送过于频繁,请于 %(minutes)d 分钟后再试。",
                    "Too many codes sent; try again in %(minutes)d minutes."),
    "sms_unavailable": (503, "短信暂时无法发送,请稍后重试或选择其他核验方式。",
                        "The SMS could not be sent; retry later or choose another factor."),
    "code_missing": (422, "请输入 6 位短信验证码。", "Please enter the 6-digit SMS code."),
    "code_wrong": (422, "验证码错误,还可尝试 %(remaining)d 次。",
                   "Wrong code; %(remaining)d attempts left."),
    "code_expired": (422, "验证码错误或已失效,请重新获取。",
                     "The code is wrong or expired; request a new one."),
    "phone_taken": (409, "该手机号已绑定其他账号,请选择其他核验方式。",
                    "This phone is bound to another account; choose another factor."),
    "factors_missing": (409, "请先完成至少两项核验。", "Complete at least two checks first."),
    "password_missing": (422, "请设置密码。", "Please set a password."),
    "password_too_short": (422, "密码至少 8 位。", "The password needs at least 8 characters."),
    "password_too_long": (422, "密码不能超过 128 位。", "The password may have at most 128 "
                                                      "characters."),
    "password_too_simple": (422, "密码须包含数字、小写字母、大写字母、符号中的至少三类。",
                            "Use at least three of: digits, lower case, upper case, symbols."),
    "password_invalid": (422, "密码格式不正确。", "The password is not valid."),
    "password_mismatch": (422, "两次输入的密码不一致。", "The two passwords differ."),
    "agreement_version": (409, "服务协议已更新,请阅读最新版本后再确认。",
                          "The agreement has changed; read the current version and accept it."),
    "agreement_unchecked": (422, "请阅读并勾选同意服务协议。",
                            "Please read the agreement and tick the box to accept it."),
    "linked_expired": (400, "可信平台登录已过期,请重新开始。",
                       "The trusted platform sign-in expired; please start again."),
    "linked_refused": (403, "可信平台未返回您的实名身份。",
                       "The trusted platform did not confirm your identity."),
    "linked_level_too_low": (403, "您在可信平台的实名等级不足,请使用在线核验注册。",
                             "Your assurance at the trusted platform is too low; register "
                             "with online checks instead."),
}

# The check each authority (or factor) does, as the messages name it.
CHECKS: dict[str, tuple[str, str]] = {
    "population_registry": ("身份信息", "identity"),
    "identity": ("身份信息", "identity"),
    "carrier": ("手机号", "phone number"),
    "phone": ("手机号", "phone number"),
    "bank": ("银行卡", "bank card"),
    "bank_card": ("银行卡", "bank card"),
    "social_security": ("社保卡", "social security card"),
    "provident_fund": ("公积金账户", "provident fund account"),
    "driving_licence": ("驾驶证档案编号", "driving licence file number"),
    "face": ("人脸", "face"),
    "trusted_platform": ("可信平台身份", "trusted platform identity"),
    "sms": ("短信", "SMS"),
}


def params(exc: RegistrationError, lang: str) -> dict[str, object]:
    """The placeholder values of an error's message in ``lang`` (``zh`` or ``en``)."""
    check = CHECKS.get(exc.authority or "", ("", ""))
    return {"check": check[0] if lang == "zh" else check[1],
            "minutes": max(1, math.ceil(exc.retry_in / 60)),
            "remaining": exc.remaining or 0}


def texts(exc: RegistrationError) -> tuple[int, str, str]:
    """(HTTP status, Chinese text, English text) of an error, placeholders filled."""
    status, zh, en = MESSAGES.get(exc.code, MESSAGES["field_format"])
    if exc.code == "id_number_invalid" and exc.messages:
        return status, exc.messages.get("zh", zh), exc.messages.get("en", en)
    return status, zh % params(exc, "zh"), en % params(exc, "en")
