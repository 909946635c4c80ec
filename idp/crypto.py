"""Personal-data protection: field encryption, blind indexes and masking (R-70, DESIGN.md).

ID numbers, names, phone numbers and card numbers are stored encrypted (AES-256-GCM by
default, SM4-GCM selectable) and found through a keyed blind index (HMAC-SHA256), so the
database never holds them in clear and cannot be searched without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class DecryptionError(ValueError):
    """A protected value could not be decrypted (wrong key, or tampered with)."""


def _derive(key: bytes, purpose: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(key)


class DataProtector:
    """Encrypts personal fields and computes their blind indexes with keys from one master."""

    def __init__(self, master_key: bytes, cipher: str = "aes-256-gcm") -> None:
        if len(master_key) != 32:
            raise ValueError("master key must be 32 bytes")
        self.cipher = cipher
        self._index_key = _derive(master_key, b"idp blind index")
        if cipher == "aes-256-gcm":
            self._aes = AESGCM(_derive(master_key, b"idp field encryption aes-256-gcm"))
            self._tag = "a"
        elif cipher == "sm4-gcm":
            self._sm4_key = _derive(master_key, b"idp field encryption sm4-gcm", 16)
            self._tag = "s"
        else:
            raise ValueError(f"unknown cipher {cipher!r}")

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext``; ``context`` (the field's name) is bound as associated data."""
        nonce = os.urandom(12)
        aad = context.encode()
        if self._tag == "a":
            sealed = self._aes.encrypt(nonce, plaintext.encode(), aad)
        else:
            enc = Cipher(algorithms.SM4(self._sm4_key), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            sealed = enc.update(plaintext.encode()) + enc.finalize() + enc.tag
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._tag}.{body}"

    def decrypt(self, token: str, context: str) -> str:
        """Reverse `encrypt`; raises `DecryptionError` on any mismatch."""
        try:
            version, tag, body = token.split(".", 2)
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError as exc:
            raise DecryptionError("malformed protected value") from exc
        if version != _VERSION or tag != self._tag or len(raw) < 28:
            raise DecryptionError("protected value from another key or cipher")
        nonce, sealed = raw[:12], raw[12:]
        aad = context.encode()
        try:
            if tag == "a":
                return self._aes.decrypt(nonce, sealed, aad).decode()
            dec = Cipher(algorithms.SM4(self._sm4_key), modes.GCM(nonce, sealed[-16:])).decryptor()
            dec.authenticate_additional_data(aad)
            return (dec.update(sealed[:-16]) + dec.finalize()).decode()
        except InvalidTag as exc:
            raise DecryptionError("protected value failed authentication") from exc

    def blind_index(self, kind: str, normalized: str) -> str:
        """Keyed index of a normalised value: equal values match, nothing else is revealed."""
        mac = hmac.new(self._index_key, f"{kind}\x00{normalized}".encode(), hashlib.sha256)
        return mac.hexdigest()


def keyed_digest(secret_key: str, value: str) -> str:
    """Fast keyed hash for long random secrets (client secrets, refresh tokens).

    Random 256-bit secrets cannot be guessed, so argon2 would only cost CPU on every token
    request; HMAC-SHA256 with the node's secret key keeps a database leak useless.
    """
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def random_token(nbytes: int = 32) -> str:
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode().rstrip("=")


# -- masking (R-11, R-70) ------------------------------------------------------------------


def mask_id_number(number: str) -> str:
    """Hide the middle of a document number, birth-date digits included (R-11).

    ``350203199001011234`` becomes ``3502**********1234``; shorter numbers keep at most a
    quarter of their characters at each end.
    """
    n = len(number)
    if n >= 15:
        return number[:4] + "*" * (n - 8) + number[-4:]
    keep = max(1, n // 4)
    if n <= 2:
        return "*" * n
    return number[:keep] + "*" * (n - 2 * keep) + number[-keep:]


def mask_phone(phone: str) -> str:
    """``13812345678`` becomes ``138****5678``; a shorter number keeps only a quarter."""
    digits = phone.removeprefix("+86")
    if len(digits) < 11:  # 3 + 4 kept of fewer digits would show (nearly) all of them
        return mask_id_number(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """Keep the first character of a Chinese name, or the initials of a Latin one.

    A name with no wide (CJK) character is Latin, diacritics included: ``Zoë Li`` → ``Z** L*``.
    """
    if not name:
        return name
    if not any(unicodedata.east_asian_width(c) in ("W", "F") for c in name):
        return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())
    return name[0] + "*" * (len(name) - 1)
