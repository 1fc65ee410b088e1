"""Writing an upload behind the event loop: the one way streamed bytes reach a staged file.

A front end (a CDMI request body, an SFTP file) gathers what arrives into
batches of about a megabyte on the event loop and hands each batch to
:class:`WriteBehind`, which writes it in worker threads while the next one
gathers.  One batch is in flight at a time, so memory stays at about two
batches whatever the size, and a client that sends faster than the disk
takes it is held back by the front end's own flow control.

A batch is written to the file and hashed at the same time, in two workers
(:meth:`ContentUpload.store_bytes` and ``count_bytes`` each release the GIL
and take about as long), and every :data:`WRITEBACK_BYTES` the kernel is asked
to start writing to disk, so that the final ``fsync`` has little left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from omsh.store.content import ContentUpload

#: Bytes gathered on the event loop before a batch is written.
BATCH_BYTES = 1024 * 1024
#: Bytes written between two requests to the kernel to start writing back.
WRITEBACK_BYTES = 16 * 1024 * 1024

InThread = Callable[[Callable[[], Any]], Awaitable[Any]]


class WriteBehind:
    """Batches of *upload* written by worker threads (through *in_thread*), one at a time."""

    def __init__(self, upload: ContentUpload, in_thread: InThread) -> None:
        self.upload = upload
        self.in_thread = in_thread
        self.pending: asyncio.Future[Any] | None = None
        #: Bytes handed to :meth:`write` so far.
        self.written = 0
        self._unflushed = 0

    async def submit(self, *works: Callable[[], Any]) -> None:
        """Start *works* (at once, in parallel) once the previous batch is written."""
        await self.drain()
        self.pending = asyncio.gather(*(self.in_thread(work) for work in works))

    async def write(self, batch: list[bytes]) -> None:
        """Append and hash the chunks of *batch* (as received: no copy on the loop)."""
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
        """Wait for the batch in flight; its failure is raised here."""
        # Shielded: a cancelled request must not look done while a worker
        # still writes, or a clean-up after it would race with the worker.
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
