"""The simulated authorities' check endpoints (docs/authorities.md, one section each).

Every endpoint: failure mode first (a down authority checks nothing), then the signature,
then the JSON body, then the per-person magic mode, then the answer — verdict and reference
only, never the record (R-70).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from simulator.records import Person, Records, same_name
from simulator.signing import SignatureError, verify

bp = Blueprint("authorities", __name__)

DOCUMENT_TYPES = ("resident_id", "hk_macao_residence_permit", "taiwan_residence_permit",
                  "foreign_permanent_residence")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_PREFIX = {"population_registry": "POP", "carrier": "CAR", "bank": "BNK",
           "social_security": "SSC", "provident_fund": "HPF", "driving_licence": "DLF",
           "face": "FCE", "business_registry": "BIZ"}

Answer = dict[str, Any]
Check = Callable[[Any, Answer], tuple["Person | None", Answer]]


class Refused(Exception):
    """The request is malformed; becomes a 4xx answer with the contract's error code."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str = "") -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def _fields(payload: Answer, *names: str) -> list[str]:
    values = []
    for name in names:
        value = payload.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 128:
            raise Refused(400, "invalid_request", f"{name} is required")
        values.append(value.strip())
    return values


def _apply_mode(mode: str) -> tuple[Response, int] | None:
    if mode == "down":
        return error(503, "unavailable", "authority is down (simulated)")
    if mode == "slow":
        time.sleep(current_app.extensions["simulator"].config.slow_seconds)
    return None


def _serve(authority: str, check: Check) -> tuple[Response, int]:
    """Run one check request through failure modes, signing and validation."""
    sim = current_app.extensions["simulator"]
    header_mode = request.headers.get("X-Sim-Mode", "")
    failed = _apply_mode(header_mode if header_mode in ("slow", "down")
                         else sim.modes.get(authority))
    if failed:
        return failed
    body = request.get_data(cache=True)
    try:
        verify(request.headers, request.method, request.path, body, sim.clients, sim.nonces)
    except SignatureError as exc:
        return error(401, exc.code)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error(400, "invalid_request", "body must be a JSON object")
    try:
        person, answer = check(sim, payload)
    except Refused as exc:
        return error(exc.status, exc.code, exc.message)
    if person is not None and (failed := _apply_mode(person.sim_mode)):
        return failed
    answer["reference"] = f"SIM-{_PREFIX[authority]}-{secrets.token_hex(6)}"
    return jsonify(answer), 200


def _person(records: Records, number: str, name: str) -> Person | None:
    person = records.by_number(number)
    return person if person is not None and same_name(person.name, name) else None


def _registry_verdict(sim: Any, payload: Answer) -> tuple[Person | None, str]:
    name, kind, number = _fields(payload, "name", "document_type", "document_number")
    if kind not in DOCUMENT_TYPES:
        raise Refused(400, "invalid_request", "unsupported document_type")
    person = _person(sim.records, number, name)
    if person is None or person.document_type != kind:
        return sim.records.by_number(number), "no_match"
    return person, {"active": "match"}.get(person.status, person.status)


def _element(field: str, *, phone: str | None = None) -> Check:
    """Build a check: the person's ``field`` must equal the submitted value (and phone)."""
    def check(sim: Any, payload: Answer) -> tuple[Person | None, Answer]:
        wanted = ("name", "id_number", field) + ((phone,) if phone else ())
        values = dict(zip(wanted, _fields(payload, *wanted), strict=True))
        person = _person(sim.records, values["id_number"], values["name"])
        ok = person is not None and _owns(person, field, values)
        return sim.records.by_number(values["id_number"]), {
            "verdict": "match" if ok else "no_match"}
    return check


def _owns(person: Person, field: str, values: dict[str, str]) -> bool:
    if field == "phone":
        return values["phone"] in person.carrier_phones
    if field == "card_number" and "phone" in values:
        return person.bank_card == values[field] and person.bank_phone == values["phone"]
    held = {"card_number": person.social_security_card,
            "account_number": person.provident_fund_account,
            "file_number": person.licence_file}[field]
    return held is not None and held.upper() == values[field].upper()


@bp.post("/population/v1/verify")
def population_verify() -> tuple[Response, int]:
    def check(sim: Any, payload: Answer) -> tuple[Person | None, Answer]:
        person, verdict = _registry_verdict(sim, payload)
        return person, {"verdict": verdict}
    return _serve("population_registry", check)


@bp.post("/population/v1/photo-reference")
def population_photo_reference() -> tuple[Response, int]:
    def check(sim: Any, payload: Answer) -> tuple[Person | None, Answer]:
        person, verdict = _registry_verdict(sim, payload)
        ref = person.photo_ref if person is not None and verdict == "match" else None
        return person, {"verdict": verdict, "photo_ref": ref}
    return _serve("population_registry", check)


@bp.post("/carrier/v1/three-element")
def carrier_three_element() -> tuple[Response, int]:
    return _serve("carrier", _element("phone"))


@bp.post("/bank/v1/four-element")
def bank_four_element() -> tuple[Response, int]:
    return _serve("bank", _element("card_number", phone="phone"))


@bp.post("/social-security/v1/card")
def social_security_card() -> tuple[Response, int]:
    return _serve("social_security", _element("card_number"))


@bp.post("/provident-fund/v1/account")
def provident_fund_account() -> tuple[Response, int]:
    return _serve("provident_fund", _element("account_number"))


@bp.post("/traffic/v1/licence-file")
def driving_licence_file() -> tuple[Response, int]:
    return _serve("driving_licence", _element("file_number"))


@bp.post("/face/v1/compare")
def face_compare() -> tuple[Response, int]:
    return _serve("face", _face_check)


def _face_check(sim: Any, payload: Answer) -> tuple[Person | None, Answer]:
    """Score by the person's seeded face behaviour; markers inside the image override it."""
    image_b64 = payload.get("image")
    person = sim.records.by_photo_ref(payload.get("photo_ref"))
    if person is None:
        raise Refused(400, "unknown_photo_ref", "photo_ref is not known")
    if not isinstance(image_b64, str) or not image_b64:
        raise Refused(400, "invalid_image", "image is required")
    try:
        image = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(400, "invalid_image", "image is not base64") from exc
    if len(image) > sim.config.max_image_bytes:
        raise Refused(413, "payload_too_large", f"image over {sim.config.max_image_bytes} bytes")
    if not image.startswith(_IMAGE_MAGIC):
        raise Refused(400, "invalid_image", "image must be JPEG or PNG")
    behaviour = person.face
    for marker in ("no_match", "spoof", "match"):
        if f"SIM-FACE:{marker}".encode() in image:
            behaviour = marker
            break
    score, liveness = {"match": (0.93, "pass"), "no_match": (0.21, "pass"),
                       "spoof": (0.88, "fail")}[behaviour]
    verdict = "match" if behaviour == "match" else "no_match"
    return person, {"verdict": verdict, "score": score, "liveness": liveness}
