"""Why a delegation operation was refused: a stable ``code`` and messages (zh, en)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "org_not_found": ("未找到该法人账户", "No such legal-person account"),
    "org_inactive": ("该法人账户已停用或注销", "The legal-person account is suspended or closed"),
    "grant_not_found": ("未找到该授权", "No such grant"),
    "not_authorised": ("您无权进行此项授权操作", "You may not perform this operation on the grant"),
    "person_inactive": ("授权人或被授权人的账户不存在或不可用",
                        "The grantor's or grantee's account is missing or not active"),
    "self_grant": ("不能授权给自己", "You cannot grant authority to yourself"),
    "cycle": ("不能授权给授权链上的上级", "You cannot grant authority to someone above you "
              "in the chain"),
    "duplicate": ("该人员在同一授权链上已持有重叠的有效授权",
                  "This person already holds an overlapping active grant in the same chain"),
    "level_exceeded": ("授权最多三级,不能再向下授权", "At most three levels: no further "
                       "delegation is possible"),
    "redelegation_not_allowed": ("您的授权不允许再授权", "Your grant does not allow "
                                 "delegating further"),
    "scope_exceeds": ("授权事项超出了您自己的授权范围", "The service items exceed your own "
                      "authority"),
    "validity_exceeds": ("授权有效期超出了您自己的有效期", "The validity exceeds your own "
                         "validity"),
    "invalid_validity": ("授权有效期无效:结束时间须晚于开始时间和当前时间",
                         "Invalid validity: the end must be after the start and after now"),
    "empty_scope": ("请至少选择一项授权事项", "Choose at least one service item"),
    "invalid_scope": ("授权事项格式无效", "Invalid service items"),
    "unknown_service_item": ("该应用未提供所选的服务事项", "The department system does not "
                             "offer this service item"),
    "grant_not_active": ("该授权已失效", "The grant is no longer active"),
    "not_pending": ("该申请已处理", "The application has already been handled"),
    "not_under_review": ("该授权无需确认或确认期限已过", "The grant is not awaiting review, or "
                         "the review deadline has passed"),
    "invalid_deadline": ("确认期限须晚于当前时间", "The review deadline must be in the future"),
}


class DelegationError(ValueError):
    """A refused operation. Nothing was changed: the caller's transaction is rolled back."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        zh, en = MESSAGES[code]
        self.message = zh
        self.messages = {"zh": zh, "en": en}
