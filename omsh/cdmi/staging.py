"""Streaming a request body into a staged upload, never whole in memory.

The body is gathered on the event loop into batches of about
:data:`BATCH_BYTES` and each batch is written (and hashed) by a worker
thread while the next one arrives — one write in flight at a time, so memory
stays at about two batches whatever the size, and aiohttp's flow control
pauses a client that sends faster than the disk takes it.  The staged file
only becomes an object in a later transaction; a client that goes away, a
body shorter than announced or any other failure deletes it.

A patch (``Content-Range`` or ``?value:A-B``) builds the complete new value
in the upload: the old bytes before the range, the body, the old bytes
after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from omsh.cdmi.context import Backend
from omsh.cdmi.protocol import fail
from omsh.store.content import CHUNK_SIZE, ContentUpload

BATCH_BYTES = 1024 * 1024
WRITEBACK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Patch:
    """Where a partial write goes: its offset, and the value it changes (if any)."""

    start: int
    base: str | None


def _copy_prefix(old: BinaryIO | None, upload: ContentUpload, start: int) -> None:
    """Bytes 0..start-1 of the old value, zeros past its end."""
    remaining = start
    if old is not None:
        while remaining > 0 and (chunk := old.read(min(CHUNK_SIZE, remaining))):
            upload.write(chunk)
            remaining -= len(chunk)
    while remaining > 0:
        piece = min(CHUNK_SIZE, remaining)
        upload.write(b"\0" * piece)
        remaining -= piece


def _copy_rest(old: BinaryIO, upload: ContentUpload, offset: int) -> None:
    old.seek(offset)
    while chunk := old.read(CHUNK_SIZE):
        upload.write(chunk)


class _Writer:
    """Batches written by worker threads behind the event loop, one at a time.

    A batch is written to the file and hashed at the same time, in two
    workers (:meth:`ContentUpload.store_bytes` and ``count_bytes`` each
    release the GIL and take about as long), and every
    :data:`WRITEBACK_BYTES` the kernel is asked to start writing to disk,
    so that the final ``fsync`` has little left to do.
    """

    def __init__(self, backend: Backend, upload: ContentUpload) -> None:
        self.backend = backend
        self.upload = upload
        self.pending: asyncio.Future[Any] | None = None
        self.written = 0
        self._unflushed = 0

    async def submit(self, *works: Callable[[], None]) -> None:
        """Start *works* (at once) once the previous batch is written."""
        await self.drain()
        self.pending = asyncio.gather(*(self.backend.in_thread(work) for work in works))

    async def write(self, batch: list[bytes]) -> None:
        """Write and hash the chunks of *batch* (as received: no copy on the loop)."""
        size = sum(len(chunk) for chunk in batch)
        self.written += size
        self._unflushed += size
        writeback = self._unflushed >= WRITEBACK_BYTES
        if writeback:
            self._unflushed = 0
        upload = self.upload

        def store() -> None:
            for chunk in batch:
                upload.store_bytes(chunk)
            if writeback:
                upload.start_writeback()

        def count() -> None:
            for chunk in batch:
                upload.count_bytes(chunk)

        await self.submit(store, count)

    async def drain(self) -> None:
        # Shielded: a cancelled request must not look done while a worker
        # still writes, or the clean-up below would race with it.
        if self.pending is not None:
            await asyncio.shield(self.pending)
            self.pending = None

    def after_last(self, cleanup: Callable[[], None]) -> None:
        """Run *cleanup* now, or once the workers still busy are done."""
        pending, self.pending = self.pending, None
        if pending is None or pending.done():
            cleanup()
        else:
            pending.add_done_callback(lambda _: cleanup())


async def stage(
    backend: Backend,
    body: AsyncIterable[bytes],
    *,
    patch: Patch | None = None,
    expected: int | None = None,
) -> ContentUpload:
    """Stream *body* into a finished upload; *expected* bytes exactly, if given."""
    upload = await backend.in_thread(lambda: ContentUpload(backend.store.temporary_directory()))
    writer = _Writer(backend, upload)
    old: BinaryIO | None = None

    def close_old() -> None:
        if old is not None:
            with contextlib.suppress(OSError):
                old.close()

    try:
        if patch is not None:
            base = patch.base
            old = await backend.in_thread(lambda: open(base, "rb")) if base else None  # noqa: SIM115
            await writer.submit(lambda: _copy_prefix(old, upload, patch.start))
        batch: list[bytes] = []
        gathered = 0
        async for chunk in body:
            batch.append(chunk)
            gathered += len(chunk)
            if gathered >= BATCH_BYTES:
                await writer.write(batch)
                batch, gathered = [], 0
        if batch:
            await writer.write(batch)
        if expected is not None and writer.written != expected:
            fail(400, f"the body has {writer.written} bytes, not the {expected} announced")
        if old is not None:
            resume = patch.start if patch is not None else 0
            await writer.submit(lambda: _copy_rest(old, upload, resume + writer.written))
        await writer.submit(upload.finish)
        await writer.drain()
    except BaseException:
        writer.after_last(lambda: (upload.discard(), close_old()))
        raise
    close_old()
    return upload
