"""Unified social credit code of legal persons and other organisations (GB 32100-2015).

18 characters from the 31-character set 0–9 A–H J–N P–R T U W–Y (no I, O, Z, S, V):

- 1: registration authority code, 2: organisation type code — only the pairs of the
  standard's Annex A table (:data:`REGISTRATION_TYPES`);
- 3–8: GB/T 2260 division code of the registration authority (``100000`` for national level);
  the province (3–4) is checked strictly, the full code only named when known, because
  authorities also use codes of development zones that GB/T 2260 does not list;
- 9–17: the GB 11714-1997 organisation code, whose 9th character is its own MOD 11 check;
- 18: the MOD 31 check character (GB 32100-2015 §5).
"""

from __future__ import annotations

from idp.realname.documents import common, divisions
from idp.realname.documents.checksums import USCC_CHARSET, gb11714, uscc_mod31
from idp.realname.documents.errors import (
    CharsetError,
    CheckCharacterError,
    DivisionCodeError,
    OrganisationCodeError,
    RegistrationTypeError,
)
from idp.realname.documents.model import DocumentType, ParsedDocument
from idp.realname.documents.normalise import Normalised

# GB 32100-2015 Annex A (with the later A and N authorities): authority -> {type: name}.
REGISTRATION_TYPES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常驻新闻机构", "9": "其他"},
    "3": {
        "1": "律师执业机构",
        "2": "公证处",
        "3": "基层法律服务所",
        "4": "司法鉴定机构",
        "5": "仲裁委员会",
        "9": "其他",
    },
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {
        "1": "外国旅游部门常驻代表机构",
        "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "9": "其他",
    },
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}
NATIONAL_LEVEL = "100000"


def _require_charset(value: str) -> None:
    for i, c in enumerate(value):
        if c not in USCC_CHARSET:
            raise CharsetError(
                f"第 {i + 1} 位字符“{c}”不在统一社会信用代码字符集内（不使用 I、O、Z、S、V）",
                f"Character {i + 1} '{c}' is not in the credit-code character set "
                "(I, O, Z, S and V are not used)",
            )
    common.require_digits(value, 2, 8, "登记管理机关行政区划码", "division code")


def _require_type(value: str) -> str:
    name = REGISTRATION_TYPES.get(value[0], {}).get(value[1])
    if name is None:
        raise RegistrationTypeError(
            f"登记管理部门代码和机构类别代码（第 1–2 位）{value[:2]} 不是有效的组合",
            f"The registration authority and organisation type (characters 1–2) "
            f"{value[:2]} are not a valid pair",
        )
    return name


def _require_division(code: str) -> str | None:
    if code == NATIONAL_LEVEL:
        return None
    if code[:2] not in divisions.PROVINCES:
        raise DivisionCodeError(
            f"登记管理机关行政区划码的省级代码（第 3–4 位）{code[:2]} 不存在",
            f"The province code of the registration authority (characters 3–4) "
            f"{code[:2]} does not exist",
        )
    return divisions.region_name(code)


def parse_uscc(norm: Normalised) -> ParsedDocument:
    """Parse a unified social credit code."""
    value = norm.value
    common.require_length(value, (18,), "统一社会信用代码", "unified social credit code")
    _require_charset(value)
    type_name = _require_type(value)
    region = _require_division(value[2:8])
    org_check = gb11714(value[8:16])
    if value[16] != org_check:
        raise OrganisationCodeError(
            f"组织机构代码（第 9–17 位）的校验位错误：第 17 位应为 {org_check}，请核对是否输错",
            f"The organisation code (characters 9–17) fails its check: character 17 should "
            f"be {org_check}; please check for typos",
        )
    expected = uscc_mod31(value[:17])
    if value[17] != expected:
        raise CheckCharacterError(
            f"校验位错误：按前 17 位计算，最后一位应为 {expected}，请核对代码是否输错",
            f"Wrong check character: from the first 17 characters the last one should be "
            f"{expected}; please check the code for typos",
        )
    return ParsedDocument(
        DocumentType.USCC,
        value,
        norm.changes,
        division_code=value[2:8],
        region=region,
        details={"organisation_type": type_name, "organisation_code": value[8:17]},
    )
