"""Streaming a request body into a staged upload, never whole in memory.

The body is gathered on the event loop into batches of about
:data:`~omsh.store.writebehind.BATCH_BYTES`, each written and hashed behind
by :class:`~omsh.store.writebehind.WriteBehind` while the next one arrives,
so memory stays at about two batches whatever the size, and aiohttp's flow
control pauses a client that sends faster than the disk takes it.  The staged file
only becomes an object in a later transaction; a client that goes away, a
body shorter than announced or any other failure deletes it.

A patch (``Content-Range`` or ``?value:A-B``) builds the complete new value
in the upload: the old bytes before the range, the body, the old bytes
after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import BinaryIO

from omsh.cdmi.context import Backend
from omsh.cdmi.protocol import fail
from omsh.store.content import CHUNK_SIZE, ContentUpload
from omsh.store.writebehind import BATCH_BYTES, WriteBehind


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


async def stage(
    backend: Backend,
    body: AsyncIterable[bytes],
    *,
    patch: Patch | None = None,
    expected: int | None = None,
) -> ContentUpload:
    """Stream *body* into a finished upload; *expected* bytes exactly, if given."""
    upload = await backend.in_thread(lambda: ContentUpload(backend.store.temporary_directory()))
    writer = WriteBehind(upload, backend.in_thread)
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
