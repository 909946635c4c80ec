"""Registry photo reference and face comparison against the simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.realname.sources import (
    AuthorityRejected,
    DocumentType,
    Endpoint,
    HttpFaceService,
    HttpPopulationRegistry,
    InvalidCheckRequest,
    Verdict,
)
from simulator import create_app
from tests.simulator.server import CLIENT_ID, KEY, READ_TIMEOUT, Running, running

SIM_LIMIT = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    with running(create_app(key=KEY, client_id=CLIENT_ID, max_image_bytes=SIM_LIMIT)) as server:
        yield server


@pytest.fixture
def endpoint(simulator: Running) -> Endpoint:
    return Endpoint(simulator.url, CLIENT_ID, KEY, read_timeout=READ_TIMEOUT)


@pytest.fixture
def registry(endpoint: Endpoint) -> HttpPopulationRegistry:
    return HttpPopulationRegistry(endpoint)


@pytest.fixture
def face(endpoint: Endpoint) -> HttpFaceService:
    return HttpFaceService(endpoint, max_image_bytes=1024 * 1024)


def photo_ref(registry: HttpPopulationRegistry, name: str, number: str) -> str:
    ref = registry.photo_reference(name, DocumentType.RESIDENT_ID, number)
    assert ref.verdict is Verdict.MATCH and ref.photo_ref
    return ref.photo_ref


@pytest.mark.parametrize(("name", "number", "verdict"), [
    ("张伟", "110101198503120017", Verdict.MATCH),
    ("吴刚", "370202194501010713", Verdict.DECEASED),
    ("徐丽", "50010319860808082X", Verdict.CANCELLED),
    ("李四", "110101198503120017", Verdict.NO_MATCH),
])
def test_photo_reference_only_for_a_live_match(registry, name, number, verdict):
    result = registry.photo_reference(name, DocumentType.RESIDENT_ID, number)
    assert result.verdict is verdict
    assert (result.photo_ref is not None) is (verdict is Verdict.MATCH)


@pytest.mark.parametrize(("name", "number", "image", "verdict", "live", "matched"), [
    ("张伟", "110101198503120017", PNG, Verdict.MATCH, True, True),
    ("张伟", "110101198503120017", JPEG, Verdict.MATCH, True, True),
    ("孙浩", "12010119911212093X", JPEG, Verdict.NO_MATCH, True, False),
    ("朱琳", "43010219930303104X", JPEG, Verdict.NO_MATCH, False, False),
    ("张伟", "110101198503120017", JPEG + b"SIM-FACE:spoof", Verdict.NO_MATCH, False, False),
    ("孙浩", "12010119911212093X", PNG + b"SIM-FACE:match", Verdict.MATCH, True, True),
])
def test_face_comparison(registry, face, name, number, image, verdict, live, matched):
    result = face.compare(photo_ref(registry, name, number), image)
    assert (result.verdict, result.liveness_passed, result.matched) == (verdict, live, matched)
    assert 0 <= result.score <= 1
    assert result.reference.startswith("SIM-FCE-")


def test_face_image_over_client_limit_is_refused_locally(registry, endpoint):
    small = HttpFaceService(endpoint, max_image_bytes=100)
    with pytest.raises(InvalidCheckRequest, match="exceeds 100 bytes"):
        small.compare(photo_ref(registry, "张伟", "110101198503120017"), JPEG + b"\x00" * 100)


def test_face_image_over_authority_limit_is_rejected(registry, face):
    ref = photo_ref(registry, "张伟", "110101198503120017")
    with pytest.raises(AuthorityRejected) as info:
        face.compare(ref, JPEG + b"\x00" * SIM_LIMIT)
    assert info.value.code == "payload_too_large"


def test_unknown_photo_reference_is_rejected(face):
    with pytest.raises(AuthorityRejected) as info:
        face.compare("PH-does-not-exist", JPEG)
    assert info.value.code == "unknown_photo_ref"
