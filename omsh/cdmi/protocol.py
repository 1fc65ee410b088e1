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

from aiohttp import HttpVersion11, web

from omsh.errors import AlreadyExists, NotEmpty, NotFound, OmshError, PermissionDenied
from omsh.store.content import MissingContent

VERSION_HEADER = "X-CDMI-Specification-Version"
SUPPORTED_VERSIONS = ("1.1.1", "1.1", "1.0.2")
CURRENT_VERSION = SUPPORTED_VERSIONS[0]
#: Pre-release and vendor spellings of 1.0.x (libcdmi 0.1.2 sends ``1.0.1h``):
#: answered as the 1.0 family's final version, 1.0.2.
_LEGACY_1_0 = re.compile(r"1\.0\.\d{1,3}[a-z]{0,8}")
LEGACY_ANSWER = "1.0.2"

CDMI_OBJECT = "application/cdmi-object"
CDMI_CONTAINER = "application/cdmi-container"
CDMI_CAPABILITY = "application/cdmi-capability"
CDMI_TYPES = (CDMI_OBJECT, CDMI_CONTAINER, CDMI_CAPABILITY)

OBJECTID_PREFIX = "/cdmi_objectid/"
CAPABILITIES_PREFIX = "/cdmi_capabilities/"


class HTTPProblem(Exception):
    """An error answer: status, one-line message and any headers it needs."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def fail(status: int, message: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPProblem(status, message, headers)


def status_for(error: OmshError) -> int:
    """The HTTP status for a store or command error."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, AlreadyExists | NotEmpty):
        return 409
    if isinstance(error, MissingContent):  # the server's damage, not the client's
        return 500
    return 400  # usage, names, metadata, "is a container"...


def base_type(content_type: str | None) -> str:
    """``application/cdmi-object+json; charset=utf-8`` -> ``application/cdmi-object``."""
    if not content_type:
        return ""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.removesuffix("+json")


def negotiate_version(request: web.BaseRequest) -> str | None:
    """The version to answer with, None for non-CDMI requests; 400 if none fits.

    The client lists the versions it speaks (comma-separated, any order);
    the answer is the highest one this server speaks too (spec §5.3).
    """
    offered = request.headers.get(VERSION_HEADER)
    if offered is None:
        return None
    spoken = {part.strip() for part in offered.split(",")}
    for version in SUPPORTED_VERSIONS:  # highest first
        if version in spoken:
            return version
    if any(_LEGACY_1_0.fullmatch(part) for part in spoken):
        return LEGACY_ANSWER
    fail(
        400,
        f"unsupported {VERSION_HEADER} {offered[:40]!r}; this server speaks "
        + ", ".join(SUPPORTED_VERSIONS),
    )


@dataclass(slots=True)
class Target:
    """What a request URI names."""

    kind: str  # "path", "objectid" or "capabilities"
    path: str = "/"  # store path (kind "path") or capability path
    object_id: str = ""
    trailing_slash: bool = False
    #: Names below the container an ID names (``/cdmi_objectid/ID/a/b``, spec §5.10).
    below: tuple[str, ...] = ()

    @property
    def names_by_path(self) -> bool:
        """Whether the URI ends in a name (not a bare ID): its trailing '/' then matters."""
        return self.kind != "objectid" or bool(self.below)


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
        if len(names) < 2:
            fail(400, "use /cdmi_objectid/ID, /cdmi_objectid/ID/ or /cdmi_objectid/ID/NAME...")
        if not _HEX.fullmatch(names[1]):
            fail(400, "object ID must be hex digits")
        return Target(
            "objectid", object_id=names[1], trailing_slash=trailing, below=tuple(names[2:])
        )
    if names and names[0] == "cdmi_capabilities":
        return Target("capabilities", path="/" + "/".join(names[1:]), trailing_slash=trailing)
    return Target("path", path=path, trailing_slash=trailing or path == "/")


@dataclass(slots=True)
class Selectors:
    """The ``?field;field:argument`` part of a CDMI URI (spec §8.4, §9.4, §8.6).

    ``children:A-B``, ``value:A-B`` and ``metadata:NAME`` select their field
    too, so *fields* lists every field a read returns (none: all of them).
    *metadata* holds the arguments of ``metadata:``: prefixes for a read,
    item names for an update.
    """

    fields: list[str] = field(default_factory=list)
    children_range: tuple[int, int] | None = None
    value_range: tuple[int, int] | None = None
    metadata: list[str] = field(default_factory=list)
    #: The ``?query=EXPR`` extension, kept whole.
    query: str | None = None

    def select(self, name: str) -> None:
        if name not in self.fields:
            self.fields.append(name)


_FIELD = re.compile(r"[A-Za-z_]+")
_RANGE = re.compile(r"(\d{1,18})-(\d{1,18})")


def _range(text: str, what: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(text)
    if not match:
        fail(400, f"{what} range must be A-B (inclusive, from 0)")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        fail(400, f"{what} range end is before its start")
    return start, end


def parse_selectors(query_string: str) -> Selectors:
    """Parse a raw CDMI query string; each part is percent-decoded on its own."""
    selectors = Selectors()
    if query_string.startswith("query="):
        selectors.query = _decoded(query_string[len("query=") :], "query")
        return selectors
    for raw in query_string.split(";"):
        if not raw:
            continue
        name, colon, argument = _decoded(raw, "selector").partition(":")
        if not _FIELD.fullmatch(name):
            fail(400, f"invalid field selector {raw[:60]!r}")
        if not colon:
            selectors.select(name)
        elif name == "children":
            selectors.children_range = _range(argument, "children")
        elif name == "value":
            selectors.value_range = _range(argument, "value")
        elif name == "metadata" and argument:
            selectors.metadata.append(argument)
        else:
            fail(400, f"selector {name!r} takes no argument")
        if colon:
            selectors.select(name)
    return selectors


def _decoded(text: str, what: str) -> str:
    try:
        return unquote(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        fail(400, f"{what} is not valid UTF-8")


@dataclass(slots=True)
class Answer:
    """A complete JSON answer, serialised where it was built (in the worker)."""

    body: bytes
    content_type: str
    status: int = 200

    @classmethod
    def of(cls, document: dict[str, Any], content_type: str, status: int = 200) -> Answer:
        return cls(json.dumps(document, ensure_ascii=False).encode("utf-8"), content_type, status)

    def response(self, version: str | None) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body,
            content_type=self.content_type,
            charset="utf-8",
            headers={VERSION_HEADER: version} if version else None,
        )


def error_response(
    status: int, message: str, version: str | None, *, headers: dict[str, str] | None = None
) -> web.Response:
    """A one-line error: JSON for CDMI requests, plain text otherwise."""
    sent = dict(headers or {})
    if version:
        sent[VERSION_HEADER] = version
    if status == 401:
        sent["WWW-Authenticate"] = 'Basic realm="omsh", charset="UTF-8"'
    if version:
        return web.Response(
            status=status,
            body=json.dumps({"error": message}).encode(),
            content_type="application/json",
            headers=sent,
        )
    return web.Response(status=status, text=message + "\n", headers=sent)


_CONTINUED = "omsh.cdmi.continued"


async def accept_body(request: web.BaseRequest) -> None:
    """Tell a client waiting with ``Expect: 100-continue`` to send its body.

    Called just before a body is read, so a request refused on its headers
    (credentials, permissions, a body announced too large) is answered
    without the client ever sending it.
    """
    expect = request.headers.get("Expect")
    if expect is None or request.get(_CONTINUED):
        return
    if expect.strip().lower() != "100-continue":
        fail(417, f"unsupported Expect: {expect[:40]}")
    request[_CONTINUED] = True
    if request.version >= HttpVersion11:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer proper has not started


def _no_constants(name: str) -> NoReturn:
    fail(400, f"malformed JSON body: {name} is not JSON")


def parse_json_body(data: bytes) -> dict[str, Any]:
    """A request's JSON object; anything else (or nothing parseable) is a 400."""
    try:
        document = (
            json.loads(data.decode("utf-8"), parse_constant=_no_constants) if data.strip() else {}
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(400, f"malformed JSON body: {exc}")
    except RecursionError:
        fail(400, "malformed JSON body: nested too deeply")
    if not isinstance(document, dict):
        fail(400, "the JSON body must be an object")
    return document
