"""Personal-data protection: field encryption, blind indexes, masking (R-70, DESIGN.md)."""

from __future__ import annotations

import base64
import os

import pytest

from idp.crypto import (
    DataProtector,
    DecryptionError,
    keyed_digest,
    mask_id_number,
    mask_name,
    mask_phone,
    random_token,
)

KEY = bytes(range(32))
CIPHERS = ["aes-256-gcm", "sm4-gcm"]


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("plaintext", ["110105194912310029", "张三", "", "Zoë O'Brien · 𠀀"])
def test_encrypt_round_trips(cipher, plaintext):
    protector = DataProtector(KEY, cipher)
    token = protector.encrypt(plaintext, "person.name")
    assert plaintext not in token or plaintext == ""
    assert protector.decrypt(token, "person.name") == plaintext


@pytest.mark.parametrize("cipher", CIPHERS)
def test_encryption_is_randomised(cipher):
    protector = DataProtector(KEY, cipher)
    assert protector.encrypt("张三", "person.name") != protector.encrypt("张三", "person.name")


@pytest.mark.parametrize("cipher", CIPHERS)
def test_context_is_bound(cipher):
    """A name's ciphertext pasted into the phone column does not decrypt."""
    protector = DataProtector(KEY, cipher)
    token = protector.encrypt("13800138000", "person.phone")
    with pytest.raises(DecryptionError):
        protector.decrypt(token, "person.name")


def _flip(token: str, index: int) -> str:
    version, tag, body = token.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x01
    return f"{version}.{tag}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("index", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_tampering_is_detected(cipher, index):
    protector = DataProtector(KEY, cipher)
    token = protector.encrypt("110105194912310029", "person.id_number")
    with pytest.raises(DecryptionError):
        protector.decrypt(_flip(token, index), "person.id_number")


@pytest.mark.parametrize("cipher", CIPHERS)
def test_wrong_key_is_refused(cipher):
    token = DataProtector(KEY, cipher).encrypt("张三", "person.name")
    with pytest.raises(DecryptionError):
        DataProtector(os.urandom(32), cipher).decrypt(token, "person.name")


def test_other_cipher_is_refused():
    token = DataProtector(KEY, "aes-256-gcm").encrypt("张三", "person.name")
    with pytest.raises(DecryptionError):
        DataProtector(KEY, "sm4-gcm").decrypt(token, "person.name")


@pytest.mark.parametrize("token", [
    "", "garbage", "v1.a.", "v1.a.!!!!", "v2.a.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.a.AAAA", "v1.a.é", "v1.s." + "A" * 40,
])
def test_malformed_token_raises_decryption_error_only(token):
    with pytest.raises(DecryptionError):
        DataProtector(KEY).decrypt(token, "person.name")


@pytest.mark.parametrize("key,cipher", [(b"short", "aes-256-gcm"), (KEY, "des")])
def test_bad_key_or_cipher_refused(key, cipher):
    with pytest.raises(ValueError):
        DataProtector(key, cipher)


def test_blind_index_is_stable_kind_separated_and_key_dependent():
    a, b = DataProtector(KEY), DataProtector(KEY, "sm4-gcm")
    index = a.blind_index("id", "110105194912310029")
    assert index == b.blind_index("id", "110105194912310029")  # same master key
    assert len(index) == 64
    assert index != a.blind_index("id", "110105194912310028")
    assert index != a.blind_index("phone", "110105194912310029")
    assert index != DataProtector(os.urandom(32)).blind_index("id", "110105194912310029")


def test_keyed_digest_depends_on_key_and_value():
    assert keyed_digest("k1", "secret") == keyed_digest("k1", "secret")
    assert keyed_digest("k1", "secret") != keyed_digest("k2", "secret")
    assert keyed_digest("k1", "secret") != keyed_digest("k1", "secreT")


def test_random_token_is_url_safe_and_unique():
    tokens = {random_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and "=" not in t and "+" not in t and "/" not in t for t in tokens)


@pytest.mark.parametrize("number,masked", [
    ("350203199001011234", "3502**********1234"),  # 18-digit resident ID
    ("11010519491231002X", "1101**********002X"),
    ("350203900101123", "3502*******1123"),  # 15-digit first-generation ID
    ("H12345678", "H1*****78"),  # HK/Macao permit
    ("E1234567", "E1****67"),
    ("12345", "1***5"),
    ("123", "1*3"),
    ("12", "**"),
    ("1", "*"),
    ("", ""),
])
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked
    assert len(mask_id_number(number)) == len(number)


@pytest.mark.parametrize("phone,masked", [
    ("13812345678", "138****5678"),
    ("+8613812345678", "138****5678"),
    ("+85261234567", "+85*****4567"),
    ("1390000", "1*****0"),
    ("123456", "1****6"),
    ("12", "**"),
    ("", ""),
])
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("name,masked", [
    ("张三", "张*"),
    ("欧阳娜娜", "欧***"),
    ("买买提·艾力", "买*****"),
    ("John Smith", "J*** S****"),
    ("Zoë Li", "Z** L*"),
    ("A", "A"),
    ("", ""),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
