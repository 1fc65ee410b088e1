"""Streaming a request body into a staged upload, never whole in memory.

The body is fed, piece by piece as aiohttp receives it, to
:class:`~omsh.store.staging.Staging` (as SFTP and ``put`` stage theirs),
which writes and hashes it behind in batches while the next one arrives, so
memory stays at about two batches whatever the size, and aiohttp's flow
control pauses a client that sends faster than the disk takes it.  The staged
file only becomes an object in a later transaction; a client that goes away,
a body shorter than announced or any other failure deletes it.

A patch (``Content-Range`` or ``?value:A-B``) builds the complete new value
in the upload: the old bytes before the range, the body, the old bytes
after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass

from omsh.cdmi.context import Backend
from omsh.cdmi.protocol import fail
from omsh.store.content import ContentUpload, StoredContent
from omsh.store.staging import Staging


@dataclass(frozen=True)
class Patch:
    """Where a partial write goes: its offset, and the value it changes (if any)."""

    start: int
    base: StoredContent | None


async def stage(
    backend: Backend,
    body: AsyncIterable[bytes],
    *,
    patch: Patch | None = None,
    expected: int | None = None,
) -> ContentUpload:
    """Stream *body* into a finished upload; *expected* bytes exactly, if given."""
    directory, executor = backend.store.temporary_directory(), backend.executor
    base = patch.base if patch is not None else None
    staging = await backend.in_thread(lambda: Staging.create(directory, executor, base=base))
    received = 0
    try:
        if patch is not None:
            await staging.keep_old(patch.start)
        async for chunk in body:
            received += len(chunk)
            await staging.feed(chunk)
        if expected is not None and received != expected:
            fail(400, f"the body has {received} bytes, not the {expected} announced")
        return await staging.finish()
    except BaseException:
        staging.discard()
        raise
