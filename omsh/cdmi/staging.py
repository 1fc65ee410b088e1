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
import os
from collections.abc import AsyncIterable
from dataclasses import dataclass

from omsh.cdmi.context import Backend
from omsh.cdmi.protocol import fail
from omsh.store.content import ContentUpload
from omsh.store.writebehind import BATCH_BYTES, WriteBehind


@dataclass(frozen=True)
class Patch:
    """Where a partial write goes: its offset, and the value it changes (if any)."""

    start: int
    base: str | None


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
    # The value a patch changes: a descriptor and its size (-1, 0 for none).
    old_fd, old_size = -1, 0

    def close_old() -> None:
        if old_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(old_fd)

    def open_old(path: str) -> tuple[int, int]:
        fd = os.open(path, os.O_RDONLY)
        return fd, os.fstat(fd).st_size

    try:
        if patch is not None:
            base = patch.base
            if base:
                old_fd, old_size = await backend.in_thread(lambda: open_old(base))
            # The old bytes before the range (zeros past the old end).
            await writer.submit(lambda: upload.append_from(old_fd, patch.start, old_size))
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
        if old_fd >= 0:
            # The old bytes after the range.
            await writer.submit(lambda: upload.append_from(old_fd, old_size, old_size))
        await writer.submit(upload.finish)
        await writer.drain()
    except BaseException:

        def clean_up() -> None:
            upload.discard()
            close_old()

        writer.after_last(clean_up)
        raise
    close_old()
    return upload
