"""Words and statuses for counter outcomes, shared by the pages and the JSON API (R-11, R-40).

`MESSAGES` maps an `idp.accounts.counter.CounterError` code to the clerk's message
(zh-CN, marked for translation); `STATUS` to the HTTP status the API answers;
`FIELD_MESSAGES` words the card-read field problems of `idp.accounts.counter_card`.
"""

from __future__ import annotations

from idp.staff.directory import N_

MESSAGES: dict[str, str] = {
    "registry_not_configured": N_("未配置人口库核验服务,暂不能办理。"),
    "registry_unavailable": N_("人口库核验服务暂时不可用,请稍后重试。"),
    "identity_no_match": N_("姓名与证件号码核验不一致,请核对证件。"),
    "identity_deceased": N_("人口库显示该证件持有人已死亡,不能办理。"),
    "identity_cancelled": N_("人口库显示该证件已注销,不能办理。"),
    "case_not_found": N_("办理记录不存在或已过期,请重新读卡。"),
    "phone_invalid": N_("请输入 11 位手机号码。"),
    "phone_taken": N_("该手机号已绑定其他账号。"),
    "sms_limited": N_("短信发送过于频繁,请稍后再试。"),
    "sms_unavailable": N_("短信服务暂时不可用,请稍后重试。"),
    "code_missing": N_("请输入短信验证码。"),
    "code_wrong": N_("短信验证码不正确。"),
    "code_expired": N_("短信验证码已失效,请重新发送。"),
    "phone_not_verified": N_("请先完成手机短信验证。"),
    "agreement_not_signed": N_("请确认申请人已签署书面服务协议。"),
    "agreement_version": N_("服务协议版本已更新,请打印并签署当前版本。"),
    "account_exists": N_("该证件已有账号,请重新办理(将升级为窗口实名)。"),
    "account_banned": N_("该账号已被封禁,不能办理。"),
    "account_closed": N_("该账号已注销,不能办理。"),
    "no_account": N_("该证件尚未注册账号。"),
    "same_phone": N_("新手机号与原绑定手机号相同。"),
    # Legal-person registration; registry verdicts as in the online opening.
    "agent_is_representative": N_("法定代表人本人办理时请选择“法定代表人本人”。"),
    "agent_no_match": N_("代理人姓名与证件号码核验不一致,请核对代理人身份证。"),
    "agent_deceased": N_("人口库显示代理人已死亡,不能办理。"),
    "agent_cancelled": N_("人口库显示代理人证件已注销,不能办理。"),
    "business_registry_not_configured": N_("未接入登记机关核验服务,暂不能办理法人开户。"),
    "business_registry_unavailable": N_("登记机关核验服务暂时不可用,请稍后重试;未保存任何信息。"),
    "org_not_registered": N_("登记机关未查到该统一社会信用代码。"),
    "org_not_active": N_("该单位已被吊销或注销,不能开户。"),
    "not_representative": N_("登记机关记录的法定代表人与所读身份证不一致。"),
    "name_mismatch": N_("单位名称与登记机关的记录不一致。"),
    "kind_mismatch": N_("单位类型与登记机关的记录不一致。"),
    "org_exists": N_("该统一社会信用代码已开户;法定代表人变更请另行办理。"),
    "representative_inactive": N_("法定代表人的个人账号不可用。"),
    "representative_no_account": N_("法定代表人须先注册个人账号或本人到场办理。"),
    # Counter phone change on a typed-in card: a colleague signs off (issue 5 hardening).
    "approval_required": N_("手工录入证件的换绑须由同厅另一位工作人员或主管复核。"),
    "approval_not_found": N_("复核申请不存在或已过期,请重新办理。"),
}

STATUS: dict[str, int] = {
    "registry_not_configured": 503, "registry_unavailable": 503, "identity_no_match": 422,
    "identity_deceased": 422, "identity_cancelled": 422, "case_not_found": 404,
    "phone_invalid": 422, "phone_taken": 409, "sms_limited": 429, "sms_unavailable": 503,
    "code_missing": 422, "code_wrong": 422, "code_expired": 422, "phone_not_verified": 409,
    "agreement_not_signed": 422, "agreement_version": 422, "account_exists": 409,
    "account_banned": 409, "account_closed": 409, "no_account": 409,
    "same_phone": 409, "agent_is_representative": 422, "agent_no_match": 422,
    "agent_deceased": 422, "agent_cancelled": 422, "business_registry_not_configured": 503,
    "business_registry_unavailable": 503, "org_not_registered": 422, "org_not_active": 422,
    "not_representative": 422, "name_mismatch": 422, "kind_mismatch": 422, "org_exists": 409,
    "representative_inactive": 409, "representative_no_account": 409,
    "approval_required": 409, "approval_not_found": 404,
}

FIELD_MESSAGES: dict[str, str] = {
    "missing": N_("必填。"), "type": N_("格式不正确。"), "too_long": N_("内容过长。"),
    "characters": N_("含有不允许的字符。"), "format": N_("格式不正确。"),
    "date": N_("日期格式应为 年-月-日。"), "unsupported": N_("不支持的证件类型。"),
    "mismatch": N_("与证件号码不一致。"), "not_yet_valid": N_("证件尚未生效。"),
    "expired": N_("证件已过有效期。"), "before_valid_from": N_("截止日期早于起始日期。"),
    "base64": N_("照片数据不正确。"), "not_jpeg": N_("照片须为 JPEG。"),
}

FIELD_LABELS: dict[str, str] = {
    "id_type": N_("证件类型"), "name": N_("姓名"), "sex": N_("性别"), "ethnicity": N_("民族"),
    "birth_date": N_("出生日期"), "address": N_("住址"), "id_number": N_("证件号码"),
    "issuing_authority": N_("签发机关"), "valid_from": N_("有效期起"),
    "valid_until": N_("有效期止"), "photo": N_("照片"),
}


def field_message(code: str) -> str:
    """The message of a card field problem; a document-number code names the wrong part."""
    return FIELD_MESSAGES.get(code, N_("证件号码不正确,请核对。"))
