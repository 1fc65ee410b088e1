"""Request handling: one coroutine per method, store work in worker threads.

Every request is authenticated (or anonymous), its URI decoded by
:func:`~omsh.cdmi.protocol.parse_target`, and its store work done in one
:meth:`Store.run` call inside the executor through a :class:`StoreView` for
the caller — the same checks, catalog upkeep and audit as the shell.

Values stream both ways: a non-CDMI GET is a ``FileResponse`` on the
committed blob (sendfile, ``Range`` → 206), a CDMI JSON GET writes the value
encoded chunk by chunk, and a PUT body is staged into a
:class:`~omsh.store.content.ContentUpload` as it arrives and only stored once
it is complete — a client that goes away mid-PUT leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from omsh.authn import Authenticator
from omsh.cdmi.auth import BasicAuth
from omsh.cdmi.protocol import (
    CDMI_CAPABILITY,
    CDMI_CONTAINER,
    CDMI_OBJECT,
    CDMI_TYPES,
    OBJECTID_PREFIX,
    VERSION_HEADER,
    HTTPProblem,
    Selectors,
    Target,
    base_type,
    error_response,
    fail,
    json_response,
    negotiate_version,
    parse_json_body,
    parse_selectors,
    parse_target,
    status_for,
)
from omsh.cdmi.representation import (
    capability_body,
    container_body,
    dataobject_body,
    select_fields,
    uri_of,
)
from omsh.errors import AlreadyExists, OmshError, PermissionDenied
from omsh.store.access import Perm, Principal
from omsh.store.acl import ACE, InvalidACL
from omsh.store.content import CHUNK_SIZE, ContentUpload
from omsh.store.database import Store
from omsh.store.metadata import MetadataValue, validate_key
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.query import parse_query
from omsh.store.view import StoreView

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_JSON_LIMIT = 16 * 1024 * 1024
#: Objects up to this size are checked for valid UTF-8 to pick utf-8 over base64.
UTF8_PROBE_LIMIT = 1024 * 1024
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
CONTAINER_FIELDS = frozenset(
    {"metadata", "domainURI", "copy", "move", "reference", "deserialize", "snapshot", "exports"}
)
SOURCES = ("copy", "move", "reference", "deserialize", "serialize", "deserializevalue")
UNSUPPORTED = frozenset(
    {"reference", "deserialize", "serialize", "deserializevalue", "snapshot", "exports"}
)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Located:
    obj: StoreObject
    path: str
    subject: str


def locate(view: StoreView, target: Target) -> Located:
    """The object a target names (by path or ID), with the subject for errors."""
    if target.kind == "objectid":
        obj = view.by_object_id(target.object_id)
        return Located(obj, obj.path, OBJECTID_PREFIX + target.object_id)
    obj = view.resolve(target.path)
    return Located(obj, target.path, target.path)


def typed_metadata(raw: Any) -> tuple[dict[str, MetadataValue], list[ACE] | None]:
    """User metadata from a CDMI body (scalars only) and ``cdmi_acl`` if present.

    Other ``cdmi_*`` items are system metadata: clients echo them back, so
    they are ignored rather than refused — but never stored.
    """
    if not isinstance(raw, dict):
        fail(400, "metadata must be a JSON object")
    values: dict[str, MetadataValue] = {}
    acl = None
    for key, value in raw.items():
        if key == "cdmi_acl":
            if not isinstance(value, list):
                fail(400, "cdmi_acl must be a JSON array of ACEs")
            acl = [ACE.from_cdmi(entry) for entry in value]
            continue
        if key.startswith("cdmi_"):
            continue
        if isinstance(value, bool | int | float | str) and value is not None:
            values[validate_key(key)] = value
        else:
            fail(400, f"metadata {key!r}: values must be strings, numbers or booleans")
    return values, acl


def decode_value(document: dict[str, Any]) -> bytes | None:
    if "value" not in document:
        return None
    value = document["value"]
    encoding = document.get("valuetransferencoding", "utf-8")
    if not isinstance(value, str):
        fail(400, "value must be a JSON string")
    if encoding in ("utf-8", "json"):
        return value.encode("utf-8", "surrogatepass")
    if encoding == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            fail(400, "value is not valid base64")
    fail(400, f"unknown valuetransferencoding {encoding!r} (utf-8, base64)")


class CdmiService:
    """The CDMI endpoint's state: store, executor, authentication, limits."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        authenticator: Authenticator,
        *,
        json_limit: int = DEFAULT_JSON_LIMIT,
    ) -> None:
        self.store = store
        self.executor = executor
        self.auth = BasicAuth(authenticator)
        self.json_limit = json_limit

    # -- plumbing --------------------------------------------------------

    async def _in_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def _view(
        self, principal: Principal, work: Callable[[StoreView], T], *, write: bool = False
    ) -> T:
        return await self._in_thread(
            lambda: self.store.run(lambda root: work(StoreView(root, principal)), write=write)
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The one entry point: errors become status codes, never tracebacks."""
        version: str | None = None
        principal: Principal | None = None
        try:
            version = negotiate_version(request)
            target = parse_target(request.raw_path)
            peer = request.remote or "?"
            principal = await self.auth.principal(request.headers.get("Authorization"), peer)
            selectors = parse_selectors(request.query_string)
            if target.kind == "capabilities":
                return self.capabilities(request, target, version)
            handler = {
                "GET": self.get,
                "HEAD": self.get,
                "PUT": self.put,
                "DELETE": self.delete,
            }.get(request.method)
            if handler is None:
                raise HTTPProblem(405, f"method {request.method} not supported")
            return await handler(request, target, principal, version, selectors)
        except HTTPProblem as problem:
            return error_response(problem.status, problem.message, version)
        except InvalidACL as exc:
            return error_response(400, str(exc), version)
        except PermissionDenied as exc:
            if principal is not None and principal.is_anonymous:
                return error_response(401, "authentication required", version)
            return error_response(403, str(exc), version)
        except OmshError as exc:
            return error_response(status_for(exc), str(exc), version)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("CDMI %s %s failed", request.method, request.raw_path[:200])
            return error_response(500, "internal error (details are in the server log)", version)

    # -- capabilities ----------------------------------------------------

    def capabilities(
        self, request: web.Request, target: Target, version: str | None
    ) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            fail(405, "capabilities are read-only")
        path = target.path.rstrip("/") or "/"
        if path not in ("/", "/container", "/dataobject"):
            fail(404, "no such capability")
        return json_response(capability_body(path), content_type=CDMI_CAPABILITY, version=version)

    # -- GET -------------------------------------------------------------

    async def get(
        self,
        request: web.Request,
        target: Target,
        principal: Principal,
        version: str | None,
        selectors: Selectors,
    ) -> web.StreamResponse:
        wants_value = version is None or (
            not selectors.fields or "value" in selectors.fields or bool(selectors.value_range)
        )

        def read(view: StoreView) -> dict[str, Any]:
            found = locate(view, target)
            obj = found.obj
            if isinstance(obj, Container):
                view.require(obj, Perm.READ, found.subject)
                if selectors.query is not None:
                    return {"query": self._query_body(view, obj, selectors.query)}
                body = container_body(
                    view,
                    obj,
                    children_range=selectors.children_range,
                    prefixes=selectors.metadata_prefixes,
                )
                return {"container": body}
            assert isinstance(obj, DataObject)
            view.require(obj, Perm.READ_METADATA, found.subject)
            result: dict[str, Any] = {
                "mimetype": obj.mimetype,
                "size": obj.size,
                "declared": getattr(obj, "value_encoding", None),
                "object": dataobject_body(view, obj, selectors.metadata_prefixes),
            }
            if wants_value:
                _, result["file"] = view.open_content(obj, found.subject)
            return result

        found = await self._view(principal, read)
        if "query" in found:
            return json_response(found["query"], content_type="application/json", version=version)
        if "container" in found:
            body = found["container"]
            if selectors.fields:
                body = select_fields(body, selectors.fields)
            return json_response(body, content_type=CDMI_CONTAINER, version=version)
        if version is None:
            headers = {"Content-Type": found["mimetype"], "Accept-Ranges": "bytes"}
            return web.FileResponse(found["file"], headers=headers, chunk_size=CHUNK_SIZE)
        return await self._object_json(request, found, version, selectors, wants_value)

    def _query_body(self, view: StoreView, container: Container, text: str) -> dict[str, Any]:
        """The ``?query=`` extension: the shell's query language over a subtree."""
        result = view.query(parse_query(text), container.path)
        return {
            "query": text,
            "results": [
                {
                    "objectID": result.catalog.object(d).object_id,
                    "objectURI": uri_of(result.path(d), container=False),
                }
                for d in result.ordered()
            ],
            "count": len(result),
            "transaction": result.transaction,
            "complete_as_of": result.as_of,
        }

    async def _object_json(
        self,
        request: web.Request,
        found: dict[str, Any],
        version: str,
        selectors: Selectors,
        wants_value: bool,
    ) -> web.StreamResponse:
        body: dict[str, Any] = found["object"]
        size: int = found["size"]
        start, end = 0, size - 1
        if selectors.value_range:
            start, end = selectors.value_range
            if size == 0 or start >= size:
                fail(416, f"value range beyond the object's {size} bytes")
            end = min(end, size - 1)
        encoding = "base64"
        if wants_value:
            encoding = await self._in_thread(
                lambda: _choose_encoding(found["file"], size, found["declared"], start, end)
            )
            body["valuerange"] = f"{start}-{end}" if size else ""
            body["valuetransferencoding"] = encoding
        if selectors.fields:
            body = select_fields(body, [*selectors.fields, "valuerange", "valuetransferencoding"])
        response = web.StreamResponse(
            status=200, headers={VERSION_HEADER: version, "Content-Type": CDMI_OBJECT}
        )
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        if not wants_value:
            await response.write(json.dumps(body, ensure_ascii=False).encode())
            return response
        head = json.dumps(body, ensure_ascii=False)[:-1]
        await response.write((head + (", " if body else "") + '"value": "').encode())
        async for piece in self._encoded(found["file"], start, end, encoding):
            await response.write(piece)
        await response.write(b'"}')
        await response.write_eof()
        return response

    async def _encoded(
        self, path: str, start: int, end: int, encoding: str
    ) -> AsyncIterator[bytes]:
        """The value's bytes start..end as JSON string content, chunk by chunk."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        carry = b""
        async for chunk in self._file_chunks(path, start, end):
            if encoding == "utf-8":
                text = decoder.decode(chunk)
                yield json.dumps(text, ensure_ascii=False)[1:-1].encode()
            else:
                data = carry + chunk
                usable = len(data) - len(data) % 3
                carry = data[usable:]
                yield base64.b64encode(data[:usable])
        if carry:
            yield base64.b64encode(carry)

    async def _file_chunks(self, path: str, start: int, end: int) -> AsyncIterator[bytes]:
        stream = await self._in_thread(lambda: open(path, "rb"))  # noqa: SIM115
        try:
            stream.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                wanted = min(CHUNK_SIZE, remaining)
                chunk = await self._in_thread(lambda n=wanted: stream.read(n))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            stream.close()

    # -- DELETE ----------------------------------------------------------

    async def delete(
        self,
        request: web.Request,
        target: Target,
        principal: Principal,
        version: str | None,
        selectors: Selectors,
    ) -> web.StreamResponse:
        def remove(view: StoreView) -> None:
            found = locate(view, target)
            view.remove(found.obj.path, recursive=True)

        await self._view(principal, remove, write=True)
        return web.Response(status=204, headers={VERSION_HEADER: version} if version else {})

    # -- PUT -------------------------------------------------------------

    async def put(
        self,
        request: web.Request,
        target: Target,
        principal: Principal,
        version: str | None,
        selectors: Selectors,
    ) -> web.StreamResponse:
        media = base_type(request.headers.get("Content-Type"))
        if version is not None:
            if media == CDMI_CONTAINER:
                if target.kind == "path" and not target.trailing_slash:
                    fail(400, "container URIs end with '/'")
                return await self._put_container(request, target, principal, version)
            if media == CDMI_OBJECT:
                if target.kind == "path" and target.trailing_slash:
                    fail(400, "data object URIs do not end with '/'")
                return await self._put_object_json(request, target, principal, version, selectors)
            fail(400, f"a CDMI PUT needs Content-Type {CDMI_OBJECT} or {CDMI_CONTAINER}")
        if media in CDMI_TYPES:
            fail(400, f"Content-Type {media} needs the {VERSION_HEADER} header")
        if target.kind == "path" and target.trailing_slash:
            return await self._put_container(request, target, principal, None)
        return await self._put_value(request, target, principal)

    async def _read_json(self, request: web.Request) -> dict[str, Any]:
        length = request.content_length
        if length is not None and length > self.json_limit:
            fail(
                413,
                f"CDMI JSON bodies are limited to {self.json_limit} bytes;"
                " PUT large values as plain HTTP bodies (without the CDMI header)",
            )
        data = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > self.json_limit:
                fail(
                    413,
                    f"CDMI JSON bodies are limited to {self.json_limit} bytes;"
                    " PUT large values as plain HTTP bodies (without the CDMI header)",
                )
        return parse_json_body(bytes(data))

    async def _put_container(
        self, request: web.Request, target: Target, principal: Principal, version: str | None
    ) -> web.StreamResponse:
        document = await self._read_json(request) if version else {}
        if not version and await request.content.read(1):
            fail(400, "a container PUT without the CDMI header must have an empty body")
        _check_fields(document, CONTAINER_FIELDS)
        metadata, acl = typed_metadata(document.get("metadata", {}))
        source = _source(document)

        def apply(view: StoreView) -> tuple[bool, dict[str, Any]]:
            path = _target_path(view, target)
            existing = view.lookup(path)
            created = existing is None
            if source is not None:
                kind, origin = source
                if existing is not None:
                    raise AlreadyExists(path)
                origin_path = _source_path(view, origin)
                if kind == "copy":
                    container = view.copy(origin_path, path, recursive=True)
                else:
                    container = view.move(origin_path, path)
            elif existing is None:
                container = view.make_container(path)
            else:
                container = existing
            if not isinstance(container, Container):
                fail(409, "a data object exists at that URI")
            _apply_metadata(view, container, path, document, metadata, acl, None)
            body = container_body(view, container, children_range=None, prefixes=[])
            return created, body

        created, body = await self._view(principal, apply, write=True)
        return _created_or_updated(created, body, CDMI_CONTAINER, version)

    async def _put_object_json(
        self,
        request: web.Request,
        target: Target,
        principal: Principal,
        version: str,
        selectors: Selectors,
    ) -> web.StreamResponse:
        document = await self._read_json(request)
        _check_fields(document, OBJECT_FIELDS)
        source = _source(document)
        if source is not None and "value" in document:
            fail(400, "give either a value or a copy/move source, not both")
        mimetype = document.get("mimetype")
        if mimetype is not None and not isinstance(mimetype, str):
            fail(400, "mimetype must be a string")
        metadata, acl = typed_metadata(document.get("metadata", {}))
        value = decode_value(document)
        upload = None
        if source is None:
            if value is None:
                value = b""
            if selectors.value_range:
                start, end = selectors.value_range
                if len(value) != end - start + 1:
                    fail(400, "the value's length does not match ?value:A-B")
            upload = await self._stage(
                principal,
                target,
                [value],
                start_at=(selectors.value_range[0] if selectors.value_range else None),
            )
        try:

            def apply(view: StoreView) -> tuple[bool, dict[str, Any]]:
                path = _target_path(view, target)
                existing = view.lookup(path)
                if isinstance(existing, Container):
                    fail(409, "a container exists at that URI")
                created = existing is None
                keep_content = (
                    existing is not None and "value" not in document and not (selectors.value_range)
                )
                if source is not None:
                    kind, origin = source
                    origin_path = _source_path(view, origin)
                    obj = (view.copy if kind == "copy" else view.move)(origin_path, path)
                elif keep_content:
                    obj = existing
                else:
                    assert upload is not None
                    obj = view.store_data(path, upload, mimetype=mimetype)
                    if created and "value" in document:
                        obj.value_encoding = (
                            "base64"
                            if document.get("valuetransferencoding") == "base64"
                            else "utf-8"
                        )
                assert isinstance(obj, DataObject)
                if mimetype is not None and mimetype != obj.mimetype:
                    view.set_mimetype(obj, path, mimetype)
                _apply_metadata(
                    view, obj, path, document, metadata, acl, selectors.metadata_prefixes
                )
                return created, dataobject_body(view, obj, [])

            created, body = await self._view(principal, apply, write=True)
        finally:
            if upload is not None:
                upload.discard()
        return _created_or_updated(created, body, CDMI_OBJECT, version)

    async def _put_value(
        self, request: web.Request, target: Target, principal: Principal
    ) -> web.StreamResponse:
        """Non-CDMI PUT: the body is the value, streamed; Content-Range patches."""
        media = request.headers.get("Content-Type")
        mimetype = media.strip() if media else None
        start = None
        content_range = request.headers.get("Content-Range")
        if content_range is not None:
            match = _CONTENT_RANGE.fullmatch(content_range.strip())
            if not match or int(match.group(2)) < int(match.group(1)):
                fail(400, "Content-Range must be 'bytes A-B/N' or 'bytes A-B/*'")
            start = int(match.group(1))
            expected = int(match.group(2)) - start + 1
            if request.content_length is not None and request.content_length != expected:
                fail(400, "Content-Range does not match the body's length")
        upload = await self._stage(
            principal, target, request.content.iter_chunked(CHUNK_SIZE), start_at=start
        )
        try:

            def apply(view: StoreView) -> bool:
                path = _target_path(view, target)
                created = view.lookup(path) is None
                obj = view.store_data(path, upload, mimetype=mimetype if created else None)
                if not created and mimetype and mimetype != obj.mimetype:
                    view.set_mimetype(obj, path, mimetype)
                return created

            created = await self._view(principal, apply, write=True)
        finally:
            upload.discard()
        return web.Response(status=201 if created else 204)

    async def _stage(
        self,
        principal: Principal,
        target: Target,
        chunks: Any,
        *,
        start_at: int | None,
    ) -> ContentUpload:
        """Stream *chunks* into a new upload after checking the write is allowed.

        With *start_at* the chunks replace bytes of the existing value from
        that offset (a ``Content-Range`` or ``?value:`` patch): the old bytes
        before and after are copied around them, so the new value is
        complete before anything is stored.
        """

        def check(view: StoreView) -> tuple[str, str | None]:
            path = _target_path(view, target)
            view.check_can_store(path)
            existing = view.lookup(path)
            if start_at is not None and isinstance(existing, DataObject):
                return path, view.open_content(existing, path)[1]
            return path, None

        _, old_file = await self._view(principal, check)
        upload = ContentUpload(self.store.temporary_directory())
        try:
            old = await self._in_thread(lambda: open(old_file, "rb")) if old_file else None  # noqa: SIM115
            try:
                if start_at is not None:
                    await self._in_thread(lambda: _copy_prefix(old, upload, start_at))
                written = 0
                if isinstance(chunks, list):
                    for chunk in chunks:
                        await self._in_thread(lambda c=chunk: upload.write(c))
                        written += len(chunk)
                else:
                    async for chunk in chunks:
                        await self._in_thread(lambda c=chunk: upload.write(c))
                        written += len(chunk)
                if start_at is not None and old is not None:
                    await self._in_thread(lambda: _copy_rest(old, upload, start_at + written))
            finally:
                if old is not None:
                    old.close()
            await self._in_thread(upload.finish)
        except BaseException:
            upload.discard()
            raise
        return upload


def _copy_prefix(old: Any, upload: ContentUpload, start: int) -> None:
    """Bytes 0..start-1 of the old value (zero-filled past its end)."""
    remaining = start
    if old is not None:
        while remaining > 0:
            chunk = old.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            upload.write(chunk)
            remaining -= len(chunk)
    while remaining > 0:
        piece = min(CHUNK_SIZE, remaining)
        upload.write(b"\0" * piece)
        remaining -= piece


def _copy_rest(old: Any, upload: ContentUpload, offset: int) -> None:
    old.seek(offset)
    while chunk := old.read(CHUNK_SIZE):
        upload.write(chunk)


def _choose_encoding(path: str, size: int, declared: str | None, start: int, end: int) -> str:
    """utf-8 when the bytes sent are valid UTF-8 (checked up to a limit), else base64."""
    if declared == "base64":
        return "base64"
    length = end - start + 1 if size else 0
    if length > UTF8_PROBE_LIMIT:
        return "utf-8" if declared == "utf-8" and start == 0 and end == size - 1 else "base64"
    with open(path, "rb") as stream:
        stream.seek(start)
        data = stream.read(length)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64"
    return "utf-8"


def _check_fields(document: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(document) - allowed)
    if unknown:
        fail(400, f"unknown field(s): {', '.join(unknown)}")
    present = [name for name in SOURCES if name in document]
    if len(present) > 1:
        fail(400, f"only one of {', '.join(SOURCES)} may be given")
    for name in present + [n for n in ("snapshot", "exports") if n in document]:
        if name in UNSUPPORTED:
            fail(400, f"{name} is not supported by this server (see /cdmi_capabilities/)")


def _source(document: dict[str, Any]) -> tuple[str, str] | None:
    for kind in ("copy", "move"):
        if kind in document:
            origin = document[kind]
            if not isinstance(origin, str) or not origin.startswith("/"):
                fail(400, f"{kind} must be an absolute URI path")
            return kind, origin
    return None


def _source_path(view: StoreView, origin: str) -> str:
    source = parse_target(origin)
    if source.kind == "capabilities":
        fail(400, "capabilities cannot be copied or moved")
    return locate(view, source).obj.path


def _target_path(view: StoreView, target: Target) -> str:
    if target.kind == "objectid":
        return view.by_object_id(target.object_id).path
    return target.path


def _apply_metadata(
    view: StoreView,
    obj: StoreObject,
    path: str,
    document: dict[str, Any],
    metadata: dict[str, MetadataValue],
    acl: list[ACE] | None,
    prefixes: list[str] | None,
) -> None:
    """CDMI §16.6: ``?metadata:name`` adds, replaces or (if absent) deletes that
    item; without a selector the body's metadata replaces all user metadata."""
    if "metadata" in document:
        current = obj.metadata
        if prefixes:
            updates = {k: v for k, v in metadata.items() if any(k.startswith(p) for p in prefixes)}
            deletions = tuple(
                k for k in current if any(k.startswith(p) for p in prefixes) and k not in updates
            )
        else:
            updates = metadata
            deletions = tuple(k for k in current if k not in metadata)
        if updates or deletions:
            view.set_metadata(obj, path, updates, deletions)
    if acl is not None:
        view.replace_acl(obj, path, acl, action="acl-set", detail="via CDMI")


def _created_or_updated(
    created: bool, body: dict[str, Any], content_type: str, version: str | None
) -> web.StreamResponse:
    if created and version:
        return json_response(body, status=201, content_type=content_type, version=version)
    status = 201 if created else 204
    return web.Response(status=status, headers={VERSION_HEADER: version} if version else {})


__all__ = ["DEFAULT_JSON_LIMIT", "CdmiService"]
