"""Base58btc multibase and unsigned-varint multicodec prefixes, as used by did:key.

Small enough to carry here rather than pulling a dependency for two functions.
"""

from __future__ import annotations

from .errors import IdentityError, Reason

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Encode bytes as base58 (Bitcoin alphabet), keeping leading zero bytes as '1'."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    num = int.from_bytes(data, "big")
    out = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58 text; raises ``IdentityError(MALFORMED)`` on foreign characters."""
    num = 0
    for ch in text:
        try:
            num = num * 58 + _INDEX[ch]
        except KeyError:
            raise IdentityError(Reason.MALFORMED, f"invalid base58 character {ch!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * zeros + body


def multibase_b58_encode(data: bytes) -> str:
    """Multibase base58btc: the 'z' prefix followed by base58."""
    return "z" + b58encode(data)


def multibase_b58_decode(text: str) -> bytes:
    """Inverse of :func:`multibase_b58_encode`; only base58btc is accepted."""
    if not text.startswith("z"):
        raise IdentityError(Reason.MALFORMED, "only base58btc ('z') multibase is supported")
    return b58decode(text[1:])


def varint_encode(value: int) -> bytes:
    """Unsigned LEB128 varint, the multicodec prefix encoding."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_decode(data: bytes) -> tuple[int, int]:
    """Return (value, number of bytes consumed)."""
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise IdentityError(Reason.MALFORMED, "truncated varint")
