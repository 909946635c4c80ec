"""Check-character algorithms: ISO 7064 MOD 11-2, GB 11714-1997 and GB 32100-2015 MOD 31."""

from __future__ import annotations

# GB 11643-1999 §8.2: weight of position i (1-based, left to right) is 2**(18 - i) mod 11.
_MOD11_2_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))

# GB 32100-2015 §4.2: the 31-character code set (no I, O, Z, S, V), valued 0–30 in this order.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714-1997 §5: weights of the 8 body characters; letters count A=10 … Z=35.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def mod11_2(body: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character ("0"–"9" or "X") of 17 digits."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("MOD 11-2 needs exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(body, _MOD11_2_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def gb11714(body: str) -> str:
    """Return the GB 11714-1997 organisation-code check character of 8 body characters."""
    if len(body) != 8 or not body.isascii() or not body.isalnum():
        raise ValueError("GB 11714 needs exactly 8 ASCII letters or digits")
    total = sum(int(c, 36) * w for c, w in zip(body.upper(), _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_mod31(body: str) -> str:
    """Return the GB 32100-2015 check character of the first 17 characters of a USCC."""
    if len(body) != 17 or any(c not in _USCC_VALUES for c in body):
        raise ValueError("MOD 31 needs 17 characters of the USCC code set")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]
