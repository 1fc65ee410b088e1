"""Data object values on the wire: transfer encodings, small values, byte ranges.

A CDMI JSON read carries the value as a JSON string, ``utf-8`` when the
bytes are text and ``base64`` otherwise (spec §8.4.6).  The encoding a
client chose when it wrote the value is remembered together with the hash
of the bytes it applies to, so a value written as base64 reads back as
base64 — and a value replaced later by SSH, SFTP or a plain PUT (a new hash)
is judged afresh.

Values up to :data:`WHOLE_VALUE_LIMIT` bytes are read whole inside the request's
transaction and answered from memory (one worker hop per request); larger
ones stream from the committed content (a blob file), chunk by chunk.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omsh.store.content import CHUNK_SIZE, StoredContent, read_span
from omsh.store.model import DataObject
from omsh.store.view import StoreView

#: Values this small are read into memory within the transaction (not to be
#: confused with :data:`omsh.store.content.INLINE_LIMIT`, what the store keeps
#: in the database rather than in a blob file).
WHOLE_VALUE_LIMIT = 256 * 1024
#: Values this small are kept in :class:`SmallValues` once read.
CACHED_LIMIT = 64 * 1024
CACHE_BYTES = 32 * 1024 * 1024


class SmallValues:
    """Recently read small values, by SHA-256: a GET of a hot object reads no file.

    Keyed by the content hash the store computed when the bytes came in, so
    an entry can never be stale: a changed value has another hash.  The
    caller has already passed the ACL check for the object that names the
    hash.  Thread-safe (the loop and the workers both read through it);
    bounded by total size, least recently used first out.
    """

    def __init__(self, capacity: int = CACHE_BYTES) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            data = self._entries.get(digest)
            if data is not None:
                self._entries.move_to_end(digest)
            return data

    def put(self, digest: str, data: bytes) -> None:
        if len(data) > CACHED_LIMIT or not digest:
            return
        with self._lock:
            if digest in self._entries:
                return
            self._entries[digest] = data
            self._size += len(data)
            while self._size > self.capacity:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)


def whole_value(view: StoreView, obj: DataObject, subject: str, cache: SmallValues) -> bytes:
    """The value of a small object (read permission checked), from *cache* if there."""
    view.require_read(obj, subject)
    data = cache.get(obj.sha256)
    if data is None:
        _, content = view.open_content(obj, subject)
        data = read_range(content, 0, obj.size - 1) if obj.size else b""
        cache.put(obj.sha256, data)
    return data


def remember_encoding(obj: DataObject, encoding: str) -> None:
    """Note how a client sent the whole of *obj*'s current value."""
    obj.value_encoding = (encoding, obj.sha256)


def declared_encoding(obj: DataObject) -> str | None:
    """The encoding a client wrote *obj*'s current bytes with, if still current."""
    remembered = getattr(obj, "value_encoding", None)
    if isinstance(remembered, tuple) and remembered[1] == obj.sha256:
        return str(remembered[0])
    return None


def read_range(content: StoredContent, start: int, end: int) -> bytes:
    """Bytes *start*..*end* (inclusive) of committed content."""
    return content.read(start, end - start + 1)


def inline_encoding(data: bytes, declared: str | None) -> str:
    """``utf-8`` for text (unless the client chose base64), else ``base64``."""
    if declared == "base64":
        return "base64"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64"
    return "utf-8"


def streamed_encoding(declared: str | None, whole: bool) -> str:
    """For a value too big to check: ``utf-8`` only when known to be text.

    A part of a text value may cut a character in two, so only the whole
    value of one written as ``utf-8`` goes out as ``utf-8``.
    """
    return "utf-8" if declared == "utf-8" and whole else "base64"


def encode(data: bytes, encoding: str) -> str:
    return data.decode("utf-8") if encoding == "utf-8" else base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class StreamedValue:
    """A value to stream into a CDMI JSON body: which bytes, how encoded."""

    content: StoredContent
    start: int
    end: int
    encoding: str


def json_with_value(body: dict[str, Any], value: str, encoding: str) -> bytes:
    """*body* with ``value`` last; base64 needs no escaping, so it is not scanned."""
    head = json.dumps(body, ensure_ascii=False)[:-1] + (", " if body else "")
    if encoding == "base64":
        return f'{head}"value": "{value}"}}'.encode()
    return f'{head}"value": {json.dumps(value, ensure_ascii=False)}}}'.encode()


def content_chunks(content: StoredContent, start: int, end: int) -> Generator[bytes, None, None]:
    """Bytes *start*..*end* of committed content, :data:`CHUNK_SIZE` at a time (blocking)."""
    return read_span(content.open(), start, end - start + 1, CHUNK_SIZE)


async def stream_json_value(
    response: web.StreamResponse,
    body: dict[str, Any],
    value: StreamedValue,
    in_thread: Callable[[Callable[[], bytes | None]], Any],
) -> None:
    """Write *body* with its ``value`` field encoded chunk by chunk.

    Blocking reads run through *in_thread*; base64 is encoded in multiples
    of three bytes so the pieces concatenate into one valid string.
    """
    head = json.dumps(body, ensure_ascii=False)[:-1]
    await response.write((head + (", " if body else "") + '"value": "').encode("utf-8"))
    chunks = content_chunks(value.content, value.start, value.end)
    decoder = codecs.getincrementaldecoder("utf-8")()
    carry = b""
    try:
        while (chunk := await in_thread(lambda: next(chunks, None))) is not None:
            if value.encoding == "utf-8":
                text = decoder.decode(chunk)
                await response.write(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8"))
            else:
                data = carry + chunk
                usable = len(data) - len(data) % 3
                carry = data[usable:]
                await response.write(base64.b64encode(data[:usable]))
    finally:
        # Close the file now, also when the client went away; a read still
        # running in a worker (only if this task was cancelled) leaves it to
        # the garbage collector.
        with contextlib.suppress(ValueError):
            chunks.close()
    if value.encoding == "utf-8":
        decoder.decode(b"", final=True)  # a value cut short mid-character is an error
    elif carry:
        await response.write(base64.b64encode(carry))
    await response.write(b'"}')


#: Every stored value served as itself is whatever a user uploaded: an HTML
#: value must not run as a page of this origin (the browser pages of
#: :mod:`omsh.web` share it, with their session cookie), so it is sandboxed
#: and its declared type is never second-guessed.
STORED_VALUE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def plain_response(request: web.BaseRequest, data: bytes, headers: dict[str, str]) -> web.Response:
    """A small value from memory, honouring ``Range`` as ``FileResponse`` does.

    One range (``A-B``, ``A-``, ``-N``) gives 206 with ``Content-Range``; a
    range that starts past the end or cannot be parsed gives 416.
    """
    size = len(data)
    headers = {**headers, "Accept-Ranges": "bytes"}
    try:
        wanted = request.http_range
    except ValueError:
        return _unsatisfiable(size, headers)
    start, stop = wanted.start, wanted.stop
    if start is None and stop is None:
        return web.Response(body=data, headers=headers)
    if start is None or (start < 0 and stop is None):  # the last N bytes
        start = max(0, size + (start or 0))
        stop = size
    stop = size if stop is None else min(stop, size)
    if start >= size or stop <= start:
        return _unsatisfiable(size, headers)
    headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return web.Response(status=206, body=data[start:stop], headers=headers)


def _unsatisfiable(size: int, headers: dict[str, str]) -> web.Response:
    return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
