"""Typed user metadata.

Values are scalars of five types so that ``size > 10`` compares numbers and
``taken < 2024-01-01T00:00:00`` compares instants: ``str``, ``int``,
``float``, ``bool`` and timezone-aware ``datetime`` (UTC).

Text from a command line is typed by one rule that shell quoting cannot
change (``n=5`` and ``'n=5'`` are the same word in ``sh``): the text decides
(:func:`parse_value`), and an explicit ``KEY:TYPE=VALUE`` forces a type
(:func:`split_key`, :data:`TYPE_NAMES`).  :func:`format_item` writes an item
back so that it reads back as the same value and type.  Keys starting with
``cdmi_`` are reserved for system metadata and cannot be set by clients.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from omsh.errors import OmshError, UsageError

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


class MisspelledValue(InvalidMetadata, UsageError):
    """A value that is not a spelling of the type ``KEY:TYPE=`` asked for (exit 2)."""


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
            raise InvalidMetadata(_INT_RANGE)
    elif not isinstance(value, bool):
        raise InvalidMetadata(f"unsupported metadata type {type(value).__name__}")
    return value


_INT_RANGE = "integer out of the 64-bit range; write KEY:str=VALUE to store text"


def _parse_int(text: str) -> int | None:
    if not _INT.fullmatch(text):
        return None
    # Checked by length first: int() refuses more than 4300 digits.
    if len(text.lstrip("+-").lstrip("0")) > 19:
        raise InvalidMetadata(_INT_RANGE)
    return int(text)


def _parse_float(text: str) -> float | None:
    return float(text) if _FLOAT.fullmatch(text) else None


def _parse_bool(text: str) -> bool | None:
    lowered = text.lower()
    return lowered == "true" if lowered in ("true", "false") else None


def _parse_datetime(text: str) -> datetime | None:
    if not _DATETIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


#: The explicit types of ``KEY:TYPE=VALUE``: each parser returns None for
#: text that is not one of its spellings, and the spellings are named in
#: the error.  ``time`` is another name for ``datetime`` (what ``meta`` shows).
_EXPLICIT: dict[str, tuple[Callable[[str], MetadataValue | None], str]] = {
    "str": (str, "any text"),
    "int": (_parse_int, "digits with an optional sign, like 42 or -7"),
    "float": (_parse_float, "a decimal number, like 1.5, -2 or 1e3"),
    "bool": (_parse_bool, "true or false (any case)"),
    "datetime": (_parse_datetime, "ISO 8601, like 2024-06-01 or 2024-06-01T12:00:00Z"),
}
_ALIASES = {"time": "datetime"}
TYPE_NAMES = (*_EXPLICIT, *_ALIASES)
#: The order the text rule tries; text that fits none stays a string.
_BY_TEXT = ("bool", "int", "float", "datetime")


def type_spellings() -> dict[str, str]:
    """Each explicit type name and how its values are written (for help texts)."""
    names = {name: spellings for name, (_, spellings) in _EXPLICIT.items()}
    return names | {alias: f"as {name}" for alias, name in _ALIASES.items()}


def split_key(spec: str) -> tuple[str, str | None]:
    """``KEY:TYPE`` into the key and the canonical type name; a plain key and None.

    Only a last ``:NAME`` that is one of :data:`TYPE_NAMES` counts, so keys
    such as ``dc:title`` keep their colon; a key that itself ends in
    ``:int`` is written with an explicit type (``x:int:str=…``).
    """
    key, colon, name = spec.rpartition(":")
    if colon and name in TYPE_NAMES:
        return key, _ALIASES.get(name, name)
    return spec, None


def parse_value(text: str, kind: str | None = None) -> MetadataValue:
    """Type *text*: as *kind* (a :data:`TYPE_NAMES` entry) if given, else by its text.

    By text, the first that fits wins: ``true``/``false`` (any case) a bool,
    digits an int, a decimal number a float, an ISO 8601 date or time a
    datetime (UTC if no offset), anything else the string itself.  With a
    *kind*, text that is not one of that type's spellings is a
    :class:`MisspelledValue`.
    """
    if kind is not None:
        parse, spellings = _EXPLICIT[_ALIASES.get(kind, kind)]
        value = parse(text)
        if value is None:
            raise MisspelledValue(f"{text[:60]!r} is not a {kind}: write {spellings}")
        return validate_value(value)
    for name in _BY_TEXT:
        if (value := _EXPLICIT[name][0](text)) is not None:
            return validate_value(value)
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
    """A value's text as a person reads it (strings as they are)."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_item(key: str, value: MetadataValue) -> str:
    """``KEY=VALUE``, or ``KEY:TYPE=VALUE`` where the text alone would read back otherwise.

    The explicit form is used for a string that looks like another type
    (``code:str=007``) and for a key that ends in a type name, so that
    :func:`split_key` and :func:`parse_value` give back this very item.
    """
    text = to_text(value)
    if split_key(key)[1] is None and _reads_back(text, value):
        return f"{key}={text}"
    return f"{key}:{type_name(value)}={text}"


def _reads_back(text: str, value: MetadataValue) -> bool:
    """Whether *text*, typed by the text rule, is *value* with *value*'s type."""
    try:
        parsed = parse_value(text)
    except InvalidMetadata:
        return False
    return type(parsed) is type(value) and parsed == value
