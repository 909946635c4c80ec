"""Seeded synthetic people (docs/authorities.md, "Seeded records").

Entirely invented. Document numbers are given without their check character (17 digits);
records.py computes it (GB 11643 ISO 7064 MOD 11-2), and the bank card Luhn digit likewise,
so the data cannot drift from the rules. Fields a person lacks are simply absent.

``carrier_phones`` are the lines the carrier holds under this person (default: ``phone``);
``bank_phone`` is the phone reserved at the bank (default: ``phone``); ``face`` is how the
face service treats this person's registry photo; ``sim_mode`` makes every authority slow or
failing for this person; ``acr`` is the person's assurance at the trusted platform.
"""

from __future__ import annotations

from typing import Any

PEOPLE: list[dict[str, Any]] = [
    {"key": "P01", "name": "张伟", "base": "11010119850312001", "phone": "13800138001",
     "acr": "loa-3"},
    {"key": "P02", "name": "王芳", "base": "31010119900521002", "phone": "13800138002",
     "acr": "loa-2"},
    {"key": "P03", "name": "李娜", "base": "44030519921108024", "phone": "13800138003"},
    {"key": "P04", "name": "刘洋", "base": "35020319880630015", "phone": "13800138004"},
    {"key": "P05", "name": "陈静", "base": "33010619950214028", "phone": "13800138005"},
    {"key": "P06", "name": "杨磊", "base": "51010719790909037", "phone": "13800138006"},
    {"key": "P07", "name": "赵敏", "base": "42010220000101046", "phone": "13800138007",
     "acr": "loa-1"},
    {"key": "P08", "name": "黄强", "base": "61011319830717051", "phone": "13800138001",
     "carrier_phones": [], "note": "phone 13800138001 is registered to 张伟 (P01)"},
    {"key": "P09", "name": "周婷", "base": "32010219970402062", "phone": "13800138009",
     "bank_phone": "13700137009", "note": "bank card reserved phone is 13700137009"},
    {"key": "P10", "name": "吴刚", "base": "37020219450101071", "phone": "13800138010",
     "status": "deceased", "note": "deceased"},
    {"key": "P11", "name": "徐丽", "base": "50010319860808082", "phone": "13800138011",
     "status": "cancelled", "note": "document cancelled"},
    {"key": "P12", "name": "孙浩", "base": "12010119911212093", "phone": "13800138012",
     "face": "no_match", "note": "face does not match the registry photo"},
    {"key": "P13", "name": "朱琳", "base": "43010219930303104", "phone": "13800138013",
     "face": "spoof", "note": "face liveness fails"},
    {"key": "P14", "name": "马超", "base": "21010219870707115", "phone": "13800138014",
     "sim_mode": "slow", "note": "every authority is slow for this person"},
    {"key": "P15", "name": "郭敏", "base": "11010519960606126", "phone": "13800138015",
     "sim_mode": "down", "note": "every authority answers 503 for this person"},
    {"key": "P16", "name": "何欣", "base": "44010619990909132", "phone": "13800138016",
     "bank": False, "licence": False, "note": "no bank card, no driving licence"},
    {"key": "P17", "name": "陈家明", "base": "81000019840229011", "phone": "13800138017",
     "document_type": "hk_macao_residence_permit", "note": "Hong Kong resident"},
    {"key": "P18", "name": "李嘉欣", "base": "81000019930115022", "phone": "13800138018",
     "document_type": "hk_macao_residence_permit", "note": "Hong Kong resident"},
    {"key": "P19", "name": "何敏仪", "base": "82000019890420034", "phone": "13800138019",
     "document_type": "hk_macao_residence_permit", "note": "Macao resident"},
    {"key": "P20", "name": "林志豪", "base": "83000019820825015", "phone": "13800138020",
     "document_type": "taiwan_residence_permit", "note": "Taiwan resident"},
    {"key": "P21", "name": "蔡宜珊", "base": "83000019941130026", "phone": "13800138021",
     "document_type": "taiwan_residence_permit", "note": "Taiwan resident"},
    {"key": "P22", "name": "John Smith", "base": "91184019800704001", "phone": "13800138022",
     "document_type": "foreign_permanent_residence", "note": "foreign permanent resident"},
    {"key": "P23", "name": "Anna Schmidt", "base": "93127619870312002", "phone": "13800138023",
     "document_type": "foreign_permanent_residence", "note": "foreign permanent resident"},
]
