"""Data objects: CDMI JSON and plain (non-CDMI) reads and writes.

Reads decide everything in one transaction: small values are read into
memory there and answered in one piece (see :mod:`omsh.cdmi.values`); large
ones are served from the committed blob file (``sendfile`` for plain GETs,
encoded chunk by chunk for CDMI JSON).

Writes: a small plain body or a CDMI JSON value (already in memory) is
staged and stored by one worker call; a large or chunked plain body is
checked first (may the caller write there?), streamed into a staged upload
(:mod:`omsh.cdmi.staging`) and stored in a second transaction.  A patch —
``Content-Range`` on a plain PUT, ``?value:A-B`` on a CDMI one — is refused
with 409 if the value changed between reading its old bytes and storing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omsh.cdmi.bodies import ObjectFields, media_type, object_fields, read_json
from omsh.cdmi.context import Backend, Call, Located, refuse_reserved, target_path
from omsh.cdmi.protocol import CDMI_OBJECT, Answer, accept_body, fail
from omsh.cdmi.representation import dataobject_body, select_fields
from omsh.cdmi.staging import Patch, stage
from omsh.cdmi.updates import apply_metadata, copy_or_move, resolve_source
from omsh.cdmi.values import (
    STORED_VALUE_HEADERS,
    WHOLE_VALUE_LIMIT,
    SmallValues,
    StreamedValue,
    declared_encoding,
    encode,
    inline_encoding,
    json_with_value,
    plain_response,
    read_range,
    remember_encoding,
    stream_json_value,
    streamed_encoding,
    whole_value,
)
from omsh.errors import IsAContainer
from omsh.store.content import CHUNK_SIZE, ContentUpload, StoredContent
from omsh.store.model import Container, DataObject
from omsh.store.view import StoreView

#: A CDMI JSON create without ``mimetype`` gets this one (spec §8.2.5).
DEFAULT_MIMETYPE = "text/plain"
_CONTENT_RANGE = re.compile(r"bytes (\d{1,18})-(\d{1,18})/(\d{1,18}|\*)")

# -- reading -------------------------------------------------------------------


@dataclass(slots=True)
class PlainValue:
    """A plain GET's answer: the bytes (small values) or the blob file."""

    headers: dict[str, str]
    data: bytes | None = None
    path: str | None = None

    def response(self, request: web.BaseRequest) -> web.StreamResponse:
        if self.data is not None:
            return plain_response(request, self.data, self.headers)
        assert self.path is not None
        return web.FileResponse(self.path, headers=self.headers, chunk_size=CHUNK_SIZE)

    @classmethod
    def of(cls, headers: dict[str, str], content: StoredContent) -> PlainValue:
        """The blob file served with ``sendfile``; bytes kept in the database as they are."""
        if content.filename is None:
            return cls(headers, data=content.data)
        return cls(headers, path=content.filename)


@dataclass(frozen=True)
class StreamedObject:
    """A CDMI JSON answer whose value is too big to hold: fields, then the value."""

    body: dict[str, Any]
    value: StreamedValue


def read_plain(view: StoreView, found: Located, values: SmallValues) -> PlainValue:
    """A plain GET needs read on the object, like ``cat``.

    Its strong ETag is the value's SHA-256, which the store already knows.
    """
    obj = found.obj
    if not isinstance(obj, DataObject):
        raise IsAContainer(found.subject)
    headers = {"Content-Type": obj.mimetype, **STORED_VALUE_HEADERS}
    if obj.size <= WHOLE_VALUE_LIMIT:
        headers["ETag"] = f'"{obj.sha256}"'
        return PlainValue(headers, data=whole_value(view, obj, found.subject, values))
    _, content = view.open_content(obj, found.subject)
    return PlainValue.of(headers, content)


def read_cdmi(
    view: StoreView, call: Call, found: Located, values: SmallValues
) -> Answer | StreamedObject:
    """A CDMI GET: read-metadata for the fields, read too if the value is wanted."""
    obj = found.obj
    assert isinstance(obj, DataObject)
    selectors = call.selectors
    view.stat(obj, found.subject)
    body = dataobject_body(view, obj, selectors.metadata)
    if selectors.fields and "value" not in selectors.fields:
        return Answer.of(select_fields(body, selectors.fields), CDMI_OBJECT)
    start, end = _value_range(obj.size, selectors.value_range)
    body["valuerange"] = f"{start}-{end}" if obj.size else ""
    declared = declared_encoding(obj)
    if obj.size <= WHOLE_VALUE_LIMIT:
        data = whole_value(view, obj, found.subject, values)[start : end + 1]
    else:
        _, content = view.open_content(obj, found.subject)
        if end - start + 1 > WHOLE_VALUE_LIMIT:
            whole = (start, end) == (0, obj.size - 1)
            body["valuetransferencoding"] = encoding = streamed_encoding(declared, whole)
            selected = select_fields(body, selectors.fields)
            return StreamedObject(selected, StreamedValue(content, start, end, encoding))
        data = read_range(content, start, end)
    body["valuetransferencoding"] = encoding = inline_encoding(data, declared)
    selected = select_fields(body, selectors.fields)
    return Answer(json_with_value(selected, encode(data, encoding), encoding), CDMI_OBJECT)


def _value_range(size: int, wanted: tuple[int, int] | None) -> tuple[int, int]:
    """The inclusive byte range ``?value:A-B`` asks for, cut to the value; 416 if none."""
    if wanted is None:
        return 0, size - 1
    start, end = wanted
    if start >= size:
        fail(416, f"value range starts beyond the object's {size} bytes")
    return start, min(end, size - 1)


async def send_streamed(backend: Backend, call: Call, answer: StreamedObject) -> web.StreamResponse:
    """Send a CDMI JSON answer with a large value; a client gone mid-way just ends it."""
    response = web.StreamResponse(headers={**call.headers(), "Content-Type": CDMI_OBJECT})
    await response.prepare(call.request)
    if call.request.method != "HEAD":
        try:
            await stream_json_value(response, answer.body, answer.value, backend.in_thread)
            await response.write_eof()
        except ConnectionError:
            pass  # nothing can be told to a client that is gone
    return response


# -- writing -------------------------------------------------------------------------


def _store(
    view: StoreView, path: str, upload: ContentUpload, mimetype: str | None, *, replace: bool
) -> tuple[bool, DataObject]:
    """Create or update the data object at *path*; True if it was created.

    Without *replace* an existing object keeps its value (a metadata-only
    update) and *upload* is only used for a new one.
    """
    existing = view.lookup(path)
    if isinstance(existing, Container):
        fail(409, "a container exists at that URI")
    if existing is None:
        refuse_reserved(path)
    if isinstance(existing, DataObject) and not replace:
        obj = existing
    else:
        obj = view.store_data(path, upload, mimetype=mimetype if existing is None else None)
    if mimetype is not None and mimetype != obj.mimetype:
        view.set_mimetype(obj, path, mimetype)
    return existing is None, obj


@dataclass(frozen=True)
class _PatchPlan:
    path: str
    base: StoredContent | None
    base_hash: str | None


def _plan(view: StoreView, call: Call, patching: bool) -> _PatchPlan:
    """Before any body is read: may the caller write there?  Old bytes for a patch."""
    path = target_path(view, call.target)
    view.check_can_store(path)
    existing = view.lookup(path)
    if existing is None:
        refuse_reserved(path)
    if patching and isinstance(existing, DataObject):
        return _PatchPlan(path, view.open_content(existing, path)[1], existing.sha256)
    return _PatchPlan(path, None, None)


def _unchanged_since(view: StoreView, plan: _PatchPlan) -> None:
    existing = view.lookup(plan.path)
    current = existing.sha256 if isinstance(existing, DataObject) else None
    if current != plan.base_hash:
        fail(409, "the value changed while the patch was being received; send it again")


async def _patched(
    backend: Backend,
    call: Call,
    body: AsyncIterator[bytes],
    start: int,
    expected: int | None,
    apply: Callable[[StoreView, ContentUpload], Any],
) -> Any:
    """Plan, stage the patched value, and store it if nobody changed it meanwhile."""
    plan = await backend.view(call, lambda view: _plan(view, call, patching=True))
    upload = await stage(backend, body, patch=Patch(start, plan.base), expected=expected)

    def store(view: StoreView) -> Any:
        _unchanged_since(view, plan)
        return apply(view, upload)

    try:
        return await backend.view(call, store, write=True)
    finally:
        upload.discard()


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def received(request: web.BaseRequest) -> AsyncIterator[bytes]:
    """The body as aiohttp received it, piece by piece (no re-chunking copies)."""
    await accept_body(request)
    async for data, _ in request.content.iter_chunks():
        yield data


async def put_json(backend: Backend, call: Call) -> web.StreamResponse:
    """A CDMI JSON PUT: create or update, copy or move, patch with ``?value:A-B``."""
    fields = object_fields(await read_json(call.request, backend.json_limit))
    value_range = call.selectors.value_range
    if value_range is not None:
        if fields.value is None:
            fail(400, "?value:A-B needs a value in the body")
        if len(fields.value) != value_range[1] - value_range[0] + 1:
            fail(400, "the value's length does not match ?value:A-B")

    def apply(view: StoreView, upload: ContentUpload | None) -> tuple[bool, Answer]:
        path = target_path(view, call.target)
        before = view.lookup(path)
        was = declared_encoding(before) if isinstance(before, DataObject) else None
        created, obj = _apply_fields(view, path, fields, upload)
        encoding = _encoding_after(was, fields, ranged=value_range is not None)
        if encoding is not None:
            remember_encoding(obj, encoding)
        apply_metadata(view, obj, path, fields.metadata, call.selectors.metadata)
        return created, Answer.of(dataobject_body(view, obj, []), CDMI_OBJECT, 201)

    if value_range is not None:
        assert fields.value is not None
        body = _one_chunk(fields.value)
        expected = len(fields.value)
        created, answer = await _patched(backend, call, body, value_range[0], expected, apply)
    elif fields.source is None:  # a new object without a value is empty
        created, answer = await backend.store_bytes(call, fields.value or b"", apply)
    else:
        created, answer = await backend.view(call, lambda view: apply(view, None), write=True)
    return answer.response(call.version) if created else call.no_content()


def _encoding_after(was: str | None, fields: ObjectFields, *, ranged: bool) -> str | None:
    """The encoding a value reads back with after a write sent as *sent*.

    A whole value keeps the encoding it was sent with.  A ranged update
    (spec §8.4) changes part of the bytes: the value stays base64 if it was,
    or becomes base64 if the part was sent so; otherwise it is judged by its
    bytes (None: nothing to remember).
    """
    if fields.value is None:
        return None
    if not ranged:
        return fields.encoding
    return "base64" if "base64" in (was, fields.encoding) else None


def _apply_fields(
    view: StoreView, path: str, fields: ObjectFields, upload: ContentUpload | None
) -> tuple[bool, DataObject]:
    if fields.source is None:
        assert upload is not None
        mimetype = fields.mimetype
        if mimetype is None and view.lookup(path) is None:
            mimetype = DEFAULT_MIMETYPE
        return _store(view, path, upload, mimetype, replace=fields.value is not None)
    existing = view.lookup(path)
    if isinstance(existing, Container):
        fail(409, "a container exists at that URI")
    if existing is None:
        refuse_reserved(path)
    origin = resolve_source(view, fields.source, DataObject, "a data object")
    obj = copy_or_move(view, fields.source, origin, path)
    assert isinstance(obj, DataObject)
    if fields.mimetype is not None and fields.mimetype != obj.mimetype:
        view.set_mimetype(obj, path, fields.mimetype)
    return existing is None, obj


def _content_range(call: Call) -> tuple[int, int] | None:
    """``Content-Range: bytes A-B/N`` (or ``/*``) of a plain PUT, as (A, B)."""
    header = call.request.headers.get("Content-Range")
    if header is None:
        return None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if not match or int(match.group(2)) < int(match.group(1)):
        fail(400, "Content-Range must be 'bytes A-B/N' or 'bytes A-B/*' with A <= B")
    return int(match.group(1)), int(match.group(2))


async def put_plain(backend: Backend, call: Call) -> web.StreamResponse:
    """A plain PUT: the body is the value, its Content-Type the mimetype."""
    request = call.request
    mimetype = media_type(request.headers.get("Content-Type"))
    patch = _content_range(call)
    length = request.content_length

    def apply(view: StoreView, upload: ContentUpload) -> bool:
        created, _ = _store(view, target_path(view, call.target), upload, mimetype, replace=True)
        return created

    if patch is not None:
        expected = patch[1] - patch[0] + 1
        if length is not None and length != expected:
            fail(400, "Content-Range does not match the body's length")
        body = received(request)
        created = await _patched(backend, call, body, patch[0], expected, apply)
    elif length is not None and length <= WHOLE_VALUE_LIMIT:
        if "Expect" in request.headers:  # the client waits: check before it sends
            await backend.view(call, lambda view: _plan(view, call, patching=False))
        await accept_body(request)
        created = await backend.store_bytes(call, await request.read(), apply)
    else:
        await backend.view(call, lambda view: _plan(view, call, patching=False))
        body = received(request)
        upload = await stage(backend, body, expected=length)
        try:
            created = await backend.view(call, lambda view: apply(view, upload), write=True)
        finally:
            upload.discard()
    return call.no_content(201 if created else 204)
