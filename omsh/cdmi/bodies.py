"""CDMI JSON request bodies, checked whole before anything is stored.

A PUT body is turned into an :class:`ObjectFields` or :class:`ContainerFields`
up front: unknown fields, wrong JSON types, undecodable values, invalid media
types, metadata the store would refuse and malformed ``cdmi_acl`` entries are
all a 400 here, so a bad request never streams a value or opens a write
transaction.  The store checks again (it is the one authority); this only
makes the answer early and cheap.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omsh.cdmi.protocol import (
    VERSION_HEADER,
    Target,
    accept_body,
    fail,
    parse_json_body,
    parse_target,
)
from omsh.store.acl import ACE
from omsh.store.metadata import (
    MAX_ITEMS,
    RESERVED_PREFIX,
    MetadataValue,
    is_mimetype,
    validate_key,
    validate_value,
)

#: Fields a data object body may carry (spec §8.2.5); unsupported ones are refused.
OBJECT_FIELDS = frozenset(
    {
        "mimetype",
        "metadata",
        "domainURI",
        "value",
        "valuetransferencoding",
        "copy",
        "move",
        "reference",
        "deserialize",
        "serialize",
        "deserializevalue",
    }
)
#: Fields a container body may carry (spec §9.2.5).
CONTAINER_FIELDS = frozenset(
    {"metadata", "domainURI", "copy", "move", "reference", "deserialize", "snapshot", "exports"}
)
#: Where a new object's content may come from; at most one per request.
SOURCES = ("copy", "move", "reference", "deserialize", "serialize", "deserializevalue")
#: Fields this server does not implement (see /cdmi_capabilities/).
#: ``domainURI`` is accepted and ignored: there is one domain, and no
#: ``cdmi_domains`` capability is claimed.
UNSUPPORTED = frozenset(
    {"reference", "deserialize", "serialize", "deserializevalue", "snapshot", "exports"}
)
ENCODINGS = ("utf-8", "base64")
ACL_KEY = "cdmi_acl"


@dataclass(frozen=True)
class Metadata:
    """The ``metadata`` field: user items, and ``cdmi_acl`` if it was given."""

    items: dict[str, MetadataValue]
    acl: tuple[ACE, ...] | None


@dataclass(frozen=True)
class Source:
    """A ``copy`` or ``move`` field: what kind, and the object it names."""

    kind: str
    target: Target


@dataclass(frozen=True)
class ContainerFields:
    metadata: Metadata | None
    source: Source | None


@dataclass(frozen=True)
class ObjectFields:
    metadata: Metadata | None
    source: Source | None
    mimetype: str | None
    #: The decoded value, or None when the body has no ``value``.
    value: bytes | None
    #: How the client sent the value (``utf-8`` or ``base64``).
    encoding: str


def _checked_fields(document: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(document) - allowed)
    if unknown:
        fail(400, f"unknown field(s): {', '.join(name[:40] for name in unknown[:5])}")
    given = [name for name in SOURCES if name in document]
    if len(given) > 1:
        fail(400, f"only one of {', '.join(SOURCES)} may be given")
    for name in sorted(set(document) & UNSUPPORTED):
        fail(400, f"{name} is not supported by this server (see /cdmi_capabilities/)")


def _metadata(document: dict[str, Any]) -> Metadata | None:
    """User items (scalars, checked as the store will) and ``cdmi_acl``.

    The JSON type is the value's type, like the shell's ``KEY:TYPE=`` form:
    numbers and booleans keep theirs and a JSON string stays a string, never
    re-typed by its text (``"007"`` reads back as ``"007"``).  Other
    ``cdmi_*`` items are system metadata the server computes: clients echo
    them back from a read, so they are ignored, never stored.
    """
    if "metadata" not in document:
        return None
    raw = document["metadata"]
    if not isinstance(raw, dict):
        fail(400, "metadata must be a JSON object")
    items: dict[str, MetadataValue] = {}
    acl = None
    for key, value in raw.items():
        if key == ACL_KEY:
            if not isinstance(value, list):
                fail(400, "cdmi_acl must be a JSON array of ACEs")
            acl = tuple(ACE.from_cdmi(entry) for entry in value)
        elif key.startswith(RESERVED_PREFIX):
            continue
        elif isinstance(value, bool | int | float | str):
            items[validate_key(key)] = validate_value(value)
        else:
            fail(400, f"metadata {key[:60]!r}: values must be strings, numbers or booleans")
    if len(items) > MAX_ITEMS:
        fail(400, f"at most {MAX_ITEMS} metadata items per object")
    return Metadata(items, acl)


def _source(document: dict[str, Any]) -> Source | None:
    for kind in ("copy", "move"):
        if kind in document:
            origin = document[kind]
            if not isinstance(origin, str) or not origin.startswith("/"):
                fail(400, f"{kind} must be an absolute URI path on this server")
            target = parse_target(origin)
            if target.kind == "capabilities":
                fail(400, "capabilities cannot be copied or moved")
            return Source(kind, target)
    return None


def _value(document: dict[str, Any]) -> tuple[bytes | None, str]:
    encoding = document.get("valuetransferencoding", "utf-8")
    if encoding not in ENCODINGS:
        fail(400, f"valuetransferencoding must be one of {', '.join(ENCODINGS)}")
    if "value" not in document:
        return None, encoding
    value = document["value"]
    if not isinstance(value, str):
        fail(400, "value must be a JSON string")
    if encoding == "base64":
        try:
            if len(value) % 4:
                raise binascii.Error("not a whole number of base64 quanta")
            return binascii.a2b_base64(value.encode("ascii"), strict_mode=True), encoding
        except (binascii.Error, UnicodeEncodeError):
            fail(400, "value is not valid base64 (RFC 4648, padded, no line breaks)")
    try:
        return value.encode("utf-8"), encoding
    except UnicodeEncodeError:
        fail(400, "value is not valid Unicode (a lone surrogate?)")


async def read_json(request: web.BaseRequest, limit: int) -> dict[str, Any]:
    """The request's JSON object, refused with 413 once it passes *limit* bytes.

    Checked against Content-Length first, then while reading (a chunked body
    has none), so an oversized body is never held in memory whole.
    """
    length = request.content_length
    if length is not None and length > limit:
        _too_big(limit)
    await accept_body(request)
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            _too_big(limit)
    return parse_json_body(bytes(data))


def _too_big(limit: int) -> None:
    fail(
        413,
        f"CDMI JSON bodies are limited to {limit} bytes; send a large value as a plain"
        f" HTTP body instead (PUT without {VERSION_HEADER}, Content-Type its media type)",
    )


def container_fields(document: dict[str, Any]) -> ContainerFields:
    """A container body, checked."""
    _checked_fields(document, CONTAINER_FIELDS)
    return ContainerFields(_metadata(document), _source(document))


def object_fields(document: dict[str, Any]) -> ObjectFields:
    """A data object body, checked: a value (decoded) or a copy/move source, not both."""
    _checked_fields(document, OBJECT_FIELDS)
    mimetype = document.get("mimetype")
    if "mimetype" in document:
        if not (isinstance(mimetype, str) and is_mimetype(mimetype.strip().lower())):
            fail(400, "mimetype must be a media type like text/plain")
        mimetype = _normalised(mimetype)
    source = _source(document)
    value, encoding = _value(document)
    if source is not None and value is not None:
        fail(400, "give either a value or a copy/move source, not both")
    return ObjectFields(_metadata(document), source, mimetype, value, encoding)


def media_type(header: str | None) -> str | None:
    """A non-CDMI Content-Type as the data object's mimetype: lower case (spec §8.3.5)."""
    if header is None or not header.strip():
        return None
    mimetype = _normalised(header)
    if not is_mimetype(mimetype):
        fail(400, f"Content-Type {header[:60]!r} is not a media type like text/plain")
    return mimetype


def _normalised(mimetype: str) -> str:
    """Media types are case-insensitive (RFC 6838): stored, and compared, in lower case."""
    return mimetype.strip().lower()
