"""The simulated business registry (docs/authorities.md §12): seeded legal persons.

Credit codes are computed, never typed: the GB 11714 organisation-code check character and
the GB 32100 MOD 31 check character come from ``idp.realname.documents``. Every
representative is one of the seeded people (simulator/people.py), by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response

from idp.realname.documents import gb11714, uscc_mod31
from simulator.authorities import Refused, _fields, _serve
from simulator.records import Person, same_name

bp = Blueprint("business", __name__)

# ``type``: registration authority + organisation type (GB 32100 Annex A); ``org``: the 8-char
# organisation-code body; ``representative``: a person key of simulator/people.py.
ENTERPRISES: list[dict[str, str]] = [
    {"key": "E01", "name": "厦门鹭江数字科技有限公司", "kind": "enterprise", "type": "91",
     "division": "350200", "org": "MA2XK7L0", "representative": "P04"},
    {"key": "E02", "name": "北京长安商贸有限公司", "kind": "enterprise", "type": "91",
     "division": "110101", "org": "MA01BC23", "representative": "P01"},
    {"key": "E03", "name": "上海浦江社区服务中心", "kind": "social_organisation", "type": "52",
     "division": "310101", "org": "50123456", "representative": "P02"},
    {"key": "E04", "name": "厦门市思明区公共卫生服务中心", "kind": "public_institution",
     "type": "12", "division": "350203", "org": "42345678", "representative": "P05"},
    {"key": "E05", "name": "深圳南山电子商行", "kind": "enterprise", "type": "92",
     "division": "440305", "org": "L1234567", "representative": "P03", "status": "revoked",
     "note": "licence revoked (吊销)"},
    {"key": "E06", "name": "成都锦江旧货有限公司", "kind": "enterprise", "type": "91",
     "division": "510107", "org": "MA6CQ001", "representative": "P06",
     "status": "cancelled", "note": "deregistered (注销)"},
    {"key": "E07", "name": "福州闽江停摆有限公司", "kind": "enterprise", "type": "91",
     "division": "350102", "org": "MA8DN002", "representative": "P07", "sim_mode": "down",
     "note": "the registry answers 503 for this code"},
]


def credit_code(type_code: str, division: str, org_body: str) -> str:
    """A valid GB 32100 code: type + division + organisation code (GB 11714) + MOD 31."""
    body = type_code + division + org_body + gb11714(org_body)
    return body + uscc_mod31(body)


@dataclass(frozen=True)
class Enterprise:
    key: str
    credit_code: str
    name: str
    kind: str
    status: str
    representative: Person
    sim_mode: str = "ok"


def enterprises(people: list[Person]) -> dict[str, Enterprise]:
    """The seeded enterprises by credit code, bound to the seeded people."""
    by_key = {p.key: p for p in people}
    found = {}
    for raw in ENTERPRISES:
        rep = by_key.get(raw["representative"])
        if rep is None:  # a custom people seed without this representative
            continue
        code = credit_code(raw["type"], raw["division"], raw["org"])
        found[code] = Enterprise(raw["key"], code, raw["name"], raw["kind"],
                                 raw.get("status", "active"), rep, raw.get("sim_mode", "ok"))
    return found


def _registry(sim: Any) -> dict[str, Enterprise]:
    cached = getattr(sim, "_enterprises", None)
    if cached is None:
        cached = enterprises(sim.records.people)
        sim._enterprises = cached
    return cached  # type: ignore[no-any-return]


def _check(sim: Any, payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    code, rep_name, rep_number = _fields(
        payload, "credit_code", "representative_name", "representative_id_number")
    name = payload.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise Refused(400, "invalid_request", "name must be a string")
    ent = _registry(sim).get(code.upper())
    if ent is None:
        return None, {"verdict": "not_found"}
    rep = ent.representative
    rep_ok = rep.document_number == rep_number.upper() and same_name(rep.name, rep_name)
    answer: dict[str, Any] = {"status": ent.status, "name": ent.name, "kind": ent.kind,
                              "representative": "match" if rep_ok else "no_match"}
    name_ok = True
    if name is not None:
        name_ok = same_name(ent.name, name)
        answer["name_match"] = "match" if name_ok else "no_match"
    answer["verdict"] = "match" if rep_ok and name_ok else "no_match"
    return _Mode(ent.sim_mode), answer


@dataclass(frozen=True)
class _Mode:
    """Carries the enterprise's failure mode to `_serve` (which reads ``sim_mode``)."""

    sim_mode: str


@bp.post("/business/v1/verify")
def business_verify() -> tuple[Response, int]:
    return _serve("business_registry", _check)


__all__ = ["ENTERPRISES", "Enterprise", "bp", "credit_code", "enterprises"]
