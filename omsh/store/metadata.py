"""Typed user metadata.

Values are scalars of five types so that ``size > 10`` compares numbers and
``taken < 2024-01-01T00:00:00`` compares instants: ``str``, ``int``,
``float``, ``bool`` and timezone-aware ``datetime`` (UTC).  Text from a
command line is typed by :func:`parse_value`: ``5`` is an int, ``'5'``
(quoted) is a string.  Keys starting with ``cdmi_`` are reserved for system
metadata and cannot be set by clients.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from omsh.errors import OmshError

MetadataValue = str | int | float | bool | datetime

MAX_KEY_BYTES = 255
MAX_VALUE_BYTES = 64 * 1024
MAX_ITEMS = 1024
RESERVED_PREFIX = "cdmi_"

#: Integers are 64-bit signed, as in the indexes and most CDMI clients.
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1

# ASCII digits only: Python's int() also accepts "٣", which nobody means as 3.
_INT = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", re.ASCII)
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?", re.ASCII
)


class InvalidMetadata(OmshError):
    """A metadata key or value that may not be stored."""


_MIMETYPE = re.compile(r"[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[^\s;]+)*", re.ASCII)
MAX_MIMETYPE = 255


def is_mimetype(text: str) -> bool:
    """Whether *text* is a ``type/subtype[; k=v]`` media type we will store."""
    return len(text) <= MAX_MIMETYPE and bool(_MIMETYPE.fullmatch(text))


def validate_key(key: str) -> str:
    if not key:
        raise InvalidMetadata("empty metadata key")
    if key.startswith(RESERVED_PREFIX):
        raise InvalidMetadata(f"{key}: keys starting with {RESERVED_PREFIX!r} are reserved")
    if any(ord(ch) < 32 or ch in "=" for ch in key):
        raise InvalidMetadata(f"{key!r}: a key may not contain '=' or control characters")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidMetadata(f"metadata key longer than {MAX_KEY_BYTES} bytes")
    return key


def validate_value(value: MetadataValue) -> MetadataValue:
    if isinstance(value, str):
        if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            raise InvalidMetadata(f"metadata value longer than {MAX_VALUE_BYTES} bytes")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidMetadata("metadata numbers must be finite")
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise InvalidMetadata("date out of range") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidMetadata("integer out of the 64-bit range; quote it to store text")
    elif not isinstance(value, bool):
        raise InvalidMetadata(f"unsupported metadata type {type(value).__name__}")
    return value


def parse_value(text: str, *, quoted: bool = False) -> MetadataValue:
    """Type a value typed by a person: quoted text is always a string."""
    if quoted:
        return validate_value(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(text):
        # Checked by length first: int() refuses more than 4300 digits.
        if len(text.lstrip("+-").lstrip("0")) > 19:
            raise InvalidMetadata("integer out of the 64-bit range; quote it to store text")
        return validate_value(int(text))
    if _FLOAT.fullmatch(text):
        return validate_value(float(text))
    if _DATETIME.fullmatch(text):
        try:
            return validate_value(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    return validate_value(text)


def type_name(value: MetadataValue) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, datetime):
        return "datetime"
    return type(value).__name__


def format_timestamp(value: datetime | float) -> str:
    """CDMI's timestamp form, ``YYYY-MM-DDThh:mm:ss.ssssssZ``."""
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    value = value.astimezone(UTC)
    # Not strftime("%Y"): glibc writes year 5 as "5", which is no timestamp.
    return f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S.%fZ")


def to_json(value: MetadataValue) -> str | int | float | bool:
    """A JSON-ready form: datetimes become CDMI timestamps."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def to_text(value: MetadataValue) -> str:
    """How a value is shown to a person; strings that would re-type are quoted."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value and _would_retype(value):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _would_retype(text: str) -> bool:
    """Whether *text*, typed back unquoted, would not come back as this string."""
    try:
        return parse_value(text) != text
    except InvalidMetadata:
        return True
