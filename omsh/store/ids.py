"""CDMI object identifiers (CDMI 1.1.1 §5.11).

Layout of the binary ID (all IDs here are 20 bytes, so 40 hex characters)::

    byte 0      reserved, zero
    bytes 1-3   IANA private enterprise number, big endian
    byte 4      reserved, zero
    byte 5      length of the whole ID in bytes
    bytes 6-7   CRC-16 of the whole ID computed with these two bytes zero
    bytes 8-    opaque data (random here)

The CRC is CRC-16/ARC (polynomial 0x8005 reflected, initial value 0), the
"CRC-16" the specification names.  The textual form is upper-case hex;
parsing accepts either case.
"""

from __future__ import annotations

import secrets

#: RFC 5612's enterprise number for documentation; the one CDMI's examples use.
DEFAULT_ENTERPRISE_NUMBER = 32473
OBJECT_ID_BYTES = 20
_MIN_ID_BYTES = 9
_MAX_ID_BYTES = 40


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC-16/ARC of *data*."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def new_object_id(enterprise_number: int = DEFAULT_ENTERPRISE_NUMBER) -> str:
    """A fresh random object ID as 40 upper-case hex characters."""
    raw = bytearray(OBJECT_ID_BYTES)
    raw[1:4] = enterprise_number.to_bytes(3, "big")
    raw[5] = OBJECT_ID_BYTES
    raw[8:] = secrets.token_bytes(OBJECT_ID_BYTES - 8)
    raw[6:8] = crc16(bytes(raw)).to_bytes(2, "big")
    return raw.hex().upper()


class InvalidObjectID(ValueError):
    """The text is not a well-formed CDMI object ID."""


def parse_object_id(text: str) -> str:
    """Validate *text* and return it in canonical (upper-case) form.

    Raises :class:`InvalidObjectID` naming what is wrong: not hex, a length
    outside 9..40 bytes, a length byte that disagrees, or a bad CRC.
    """
    if len(text) % 2 or not text:
        raise InvalidObjectID("object ID must be an even number of hex digits")
    try:
        raw = bytearray(bytes.fromhex(text))
    except ValueError:
        raise InvalidObjectID("object ID must be hex digits") from None
    if not _MIN_ID_BYTES <= len(raw) <= _MAX_ID_BYTES:
        raise InvalidObjectID(f"object ID must be {_MIN_ID_BYTES} to {_MAX_ID_BYTES} bytes")
    if raw[5] != len(raw) or raw[0] != 0 or raw[4] != 0:
        raise InvalidObjectID("object ID header is malformed")
    stored_crc = int.from_bytes(raw[6:8], "big")
    raw[6:8] = b"\0\0"
    if crc16(bytes(raw)) != stored_crc:
        raise InvalidObjectID("object ID checksum does not match")
    return text.upper()
