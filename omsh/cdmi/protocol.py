"""CDMI 1.1.1 on the wire: media types, versions, URIs, selectors, errors.

A request is a *CDMI request* when it carries ``X-CDMI-Specification-Version``
(spec §5.3); only those get the header back and CDMI JSON bodies.  Anything
else is plain HTTP on the same resources (§6.4, "non-CDMI").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import unquote

from aiohttp import web

from omsh.errors import (
    AlreadyExists,
    IsAContainer,
    NotAContainer,
    NotEmpty,
    NotFound,
    OmshError,
    PermissionDenied,
    UsageError,
)

VERSION_HEADER = "X-CDMI-Specification-Version"
SUPPORTED_VERSIONS = ("1.1.1", "1.1", "1.0.2")
CURRENT_VERSION = SUPPORTED_VERSIONS[0]

CDMI_OBJECT = "application/cdmi-object"
CDMI_CONTAINER = "application/cdmi-container"
CDMI_CAPABILITY = "application/cdmi-capability"
CDMI_TYPES = (CDMI_OBJECT, CDMI_CONTAINER, CDMI_CAPABILITY)

OBJECTID_PREFIX = "/cdmi_objectid/"
CAPABILITIES_PREFIX = "/cdmi_capabilities/"


class HTTPProblem(Exception):
    """An error answer: status and one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fail(status: int, message: str) -> NoReturn:
    raise HTTPProblem(status, message)


def status_for(error: OmshError) -> int:
    """The HTTP status for a store or command error."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, AlreadyExists | NotEmpty):
        return 409
    if isinstance(error, UsageError | IsAContainer | NotAContainer):
        return 400
    return 400


def base_type(content_type: str | None) -> str:
    """``application/cdmi-object+json; charset=utf-8`` -> ``application/cdmi-object``."""
    if not content_type:
        return ""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.removesuffix("+json")


def negotiate_version(request: web.Request) -> str | None:
    """The version to answer with, None for non-CDMI requests; 400 if none fits."""
    offered = request.headers.get(VERSION_HEADER)
    if offered is None:
        return None
    for version in (part.strip() for part in offered.split(",")):
        if version in SUPPORTED_VERSIONS:
            return version
    fail(
        400,
        f"unsupported {VERSION_HEADER} {offered!r}; this server speaks "
        + ", ".join(SUPPORTED_VERSIONS),
    )


@dataclass(frozen=True)
class Target:
    """What a request URI names."""

    kind: str  # "path", "objectid" or "capabilities"
    path: str = "/"  # store path (kind "path") or capability path
    object_id: str = ""
    trailing_slash: bool = False


_HEX = re.compile(r"[0-9A-Fa-f]+")


def parse_target(raw_path: str) -> Target:
    """Decode a request path segment by segment, refusing what could escape.

    Percent-decoding happens per segment so an encoded ``/`` can never
    create a new level; ``.``/``..`` segments (encoded or not), NUL and
    non-UTF-8 bytes are refused with 400 rather than normalised.
    """
    raw = raw_path.split("?", 1)[0]
    if not raw.startswith("/"):
        fail(400, "request path must be absolute")
    trailing = raw.endswith("/")
    names = []
    for segment in raw.split("/")[1:]:
        if segment == "":
            continue
        try:
            name = unquote(segment, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            fail(400, "request path is not valid UTF-8")
        if name in (".", "..") or "/" in name or "\0" in name:
            fail(400, f"invalid path segment {segment!r}")
        names.append(name)
    path = "/" + "/".join(names)
    if names and names[0] == "cdmi_objectid":
        if len(names) != 2:
            fail(400, "use /cdmi_objectid/ID or /cdmi_objectid/ID/")
        if not _HEX.fullmatch(names[1]):
            fail(400, "object ID must be hex digits")
        return Target("objectid", object_id=names[1], trailing_slash=trailing)
    if names and names[0] == "cdmi_capabilities":
        return Target("capabilities", path="/" + "/".join(names[1:]), trailing_slash=trailing)
    return Target("path", path=path, trailing_slash=trailing or path == "/")


@dataclass
class Selectors:
    """``?field;field:value`` selectors (spec §8.4.2, §9.4.2)."""

    fields: list[str] = field(default_factory=list)
    children_range: tuple[int, int | None] | None = None
    value_range: tuple[int, int] | None = None
    metadata_prefixes: list[str] = field(default_factory=list)
    query: str | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.fields or self.children_range or self.value_range or self.metadata_prefixes
        )


def _range(text: str, what: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match:
        fail(400, f"{what} range must be A-B")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        fail(400, f"{what} range end is before its start")
    return start, end


def parse_selectors(query_string: str) -> Selectors:
    """Parse a raw CDMI query string; the ``query=`` extension is kept whole."""
    selectors = Selectors()
    if not query_string:
        return selectors
    decoded = unquote(query_string)
    if decoded.startswith("query="):
        selectors.query = decoded[len("query=") :]
        return selectors
    for part in decoded.split(";"):
        if not part:
            continue
        name, _, argument = part.partition(":")
        if name == "children" and argument:
            selectors.children_range = _range(argument, "children")
        elif name == "value" and argument:
            selectors.value_range = _range(argument, "value")
        elif name == "metadata" and argument:
            selectors.metadata_prefixes.append(argument)
        elif argument:
            fail(400, f"selector {name!r} takes no argument")
        elif not re.fullmatch(r"[A-Za-z_]+", name):
            fail(400, f"invalid field selector {part!r}")
        else:
            selectors.fields.append(name)
    return selectors


def json_response(
    body: dict[str, Any],
    *,
    status: int = 200,
    content_type: str,
    version: str | None,
) -> web.Response:
    headers = {VERSION_HEADER: version} if version else {}
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type=content_type,
        charset="utf-8",
        headers=headers,
    )


def error_response(status: int, message: str, version: str | None) -> web.Response:
    """A one-line error: JSON for CDMI requests, plain text otherwise."""
    headers = {VERSION_HEADER: version} if version else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="omsh", charset="UTF-8"'
    if version:
        return web.Response(
            status=status,
            body=json.dumps({"error": message}).encode(),
            content_type="application/json",
            headers=headers,
        )
    return web.Response(status=status, text=message + "\n", headers=headers)


def parse_json_body(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(400, f"malformed JSON body: {exc}")
    if not isinstance(document, dict):
        fail(400, "the JSON body must be an object")
    return document
