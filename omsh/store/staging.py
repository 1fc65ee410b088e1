"""Staging: the one way a client's bytes become an object's content.

Every front end stages an upload through :class:`Staging`: ``put`` (standard
input, from the command's worker thread), an SFTP file (requests on the
event loop) and a CDMI request body (on the event loop).  The bytes go to a
:class:`~omsh.store.content.ContentUpload`, a temporary file next to the
blobs; :meth:`Staging.finish` flushes it to disk, and only then may a
transaction attach it to an object (:meth:`StoreView.store_data`).  Until
then nothing is visible, and :meth:`Staging.discard` (a client that went
away, a failed write) leaves nothing behind, partial or whole.

How bytes are written depends on how they arrive:

* In order (``put``, CDMI, OpenSSH ``sftp``/``scp``): gathered into batches
  of about :data:`BATCH_BYTES`, each written to the staged file and hashed
  at the same time by two workers (copying into the page cache and hashing
  each release the GIL and take about as long) while the next batch
  gathers.  One batch is in flight at a time, so memory stays at about two
  batches whatever the size, and a client that sends faster than the disk
  takes it is held back by the front end's own flow control.  The staged
  file asks the kernel to write back as it grows, so the final ``fsync``
  has little left to do.
* Ahead of order (rclone: github.com/pkg/sftp sends up to 64 writes at
  once, and they arrive in any order): a write past a gap is held in memory
  until the bytes before it arrive, up to :data:`REORDER_LIMIT`.
* Anything else (sshfs, editors): writing over earlier bytes, reading back,
  changing the length, or holding more than the limit.  The upload then
  turns to random access: the staged file holds the whole content from then
  on and is hashed once, when it is finished.

An upload may change old content (an SFTP file opened without truncation,
a CDMI ranged update): bytes the writer does not write keep their old value,
as in a file system, and a gap past the old end reads as zeros.

The async methods are for the event loop; a caller in a worker thread uses
:func:`stage_chunks`, which waits in that thread instead.  Either way the
file work runs in workers: the executor given, or two threads of the
upload's own (started with its first full batch, so a small upload starts
none).  A caller that is itself one of an executor's workers must not give
that executor: it would wait for work queued behind itself.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from omsh.errors import OmshError
from omsh.store.content import ContentUpload, StoredContent

#: Bytes gathered before a batch is written.
BATCH_BYTES = 1024 * 1024
#: Bytes written ahead of a gap held in memory before going to random access.
REORDER_LIMIT = 16 * 1024 * 1024
#: Bytes asked of a blocking stream at a time (as much as it has: no copies).
READ_BYTES = 4 * BATCH_BYTES


class StagingFailed(OmshError):
    """A write to the staged file failed earlier: the upload can only be discarded."""

    def __init__(self) -> None:
        super().__init__("an earlier write failed; nothing will be stored")


class Staging:
    """An upload on its way into the store (see the module docstring).

    *base* and *base_size* are the old content kept where the writer does
    not write (a stream from :meth:`StoredContent.open`, then the staging's,
    closed when it is finished or discarded).  One request at a time: the async methods are
    not to be called while another is still running.
    """

    def __init__(
        self,
        upload: ContentUpload,
        executor: Executor | None = None,
        *,
        base: BinaryIO | None = None,
        base_size: int = 0,
    ) -> None:
        self.upload = upload
        self.base = base
        self.base_size = base_size
        self._executor = executor
        self._own_workers: ThreadPoolExecutor | None = None
        #: The first failure of file work; the upload can then only be discarded.
        self.failed: Exception | None = None
        #: The staged file holds the whole content (random access).
        self.random = False
        #: Where the in-order bytes have got to.
        self.accepted = 0
        self._batch: list[bytes] = []
        self._batched = 0
        #: Writes past a gap by offset, and their offsets in order.
        self._ahead: dict[int, bytes] = {}
        self._ahead_offsets: list[int] = []
        self._ahead_bytes = 0
        self._ahead_end = 0
        #: The file work in flight (at most one piece at a time).
        self._pending: Future[Any] | None = None

    @classmethod
    def create(
        cls,
        directory: str,
        executor: Executor | None = None,
        *,
        base: StoredContent | None = None,
    ) -> Staging:
        """A new staged file in *directory*, changing the committed content *base* if given.

        Blocking (it creates and opens files): call it in a worker.
        """
        upload = ContentUpload(directory)
        if base is None:
            return cls(upload, executor)
        try:
            stream = base.open()
        except BaseException:
            upload.discard()
            raise
        return cls(upload, executor, base=stream, base_size=base.size)

    @property
    def size(self) -> int:
        """The content's size so far (as ``stat`` shows a file being written)."""
        if self.random:
            return self.upload.size
        return max(self.accepted, self._ahead_end, self.base_size)

    # -- requests (event loop) -------------------------------------------

    async def write(self, offset: int, data: bytes) -> None:
        """Write *data* at *offset*; a gap before it keeps the old content (or zeros)."""
        self._check()
        if not self.random and self._accept(offset, data):
            if self._batched >= BATCH_BYTES:
                await self._write_behind()
            return
        await self._to_random_access()
        await self._run(self.upload.write_at, offset, data)

    async def feed(self, data: bytes) -> None:
        """The next bytes of a stream (right after those written in order).

        Called for every piece a CDMI body arrives in, so the common case
        (nothing held, no random access) queues without :meth:`_accept`.
        """
        if self.random or self._ahead or self.failed is not None:
            await self.write(self.accepted, data)
            return
        self._queue(data)
        if self._batched >= BATCH_BYTES:
            await self._write_behind()

    async def keep_old(self, end: int) -> None:
        """Keep the old content up to *end*: a ranged update starts writing there.

        Copied behind, while the first bytes of the range gather.
        """
        self._check()
        if self.random or end <= self.accepted:
            return
        assert not self._ahead, "writes held ahead of order would be overwritten"
        batch = self._take_batch()

        def keep() -> None:
            self._write_serially(batch)
            self.upload.append_from(self.base, end, self.base_size)

        self.accepted = end
        await self._behind(keep)

    async def read(self, offset: int, length: int) -> bytes:
        """Read back what was written (and the old content not overwritten)."""
        self._check()
        await self._to_random_access()
        result: bytes = await self._run(self.upload.read_at, offset, length)
        return result

    async def resize(self, size: int) -> None:
        """``ftruncate``: cut or extend the content to *size*."""
        self._check()
        if not self.random and not self._ahead and self.accepted <= size <= self.size:
            # OpenSSH scp cuts the old tail after writing in place.
            self.base_size = min(self.base_size, size)
            return
        await self._to_random_access()
        await self._run(self.upload.resize, size)

    async def drain(self) -> Any:
        """Wait for the file work in flight and return its result; a failure is kept.

        Shielded: a cancelled request must not look done while a worker
        still writes (:meth:`discard` waits for it instead).
        """
        pending = self._pending
        if pending is None:
            return None
        waited = asyncio.wrap_future(pending)
        try:
            return await asyncio.shield(waited)
        except asyncio.CancelledError:
            if not waited.done():
                waited.add_done_callback(_consume)
            raise
        except Exception as exc:
            self.failed = exc
            raise
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None

    async def finish(self) -> ContentUpload:
        """Put everything in place and close it: the upload is ready to be stored.

        The last batch, the writes held after their gaps and the old content
        after the last write go in; then the file is closed (and hashed, after
        random access).  The caller stores the upload, then discards it.
        """
        self._check()
        batch, ahead = self._take()
        await self._run(self._complete, batch, ahead)
        self._let_go(discard=False)
        return self.upload

    # -- for a caller in a worker thread ---------------------------------

    def feed_blocking(self, data: bytes) -> None:
        """:meth:`feed` that waits in the calling thread (not on an event loop)."""
        self._check()
        assert not self.random and not self._ahead, "a blocking caller writes in order"
        self._queue(data)
        if self._batched >= BATCH_BYTES:
            works = self._batch_works(self._take_batch())
            self._wait_blocking()
            self._start(*works)

    def finish_blocking(self) -> ContentUpload:
        """:meth:`finish` in the calling thread: the last batch and the close run there."""
        self._check()
        self._wait_blocking()
        batch, ahead = self._take()
        try:
            self._complete(batch, ahead)
        except Exception as exc:
            self.failed = exc
            raise
        self._let_go(discard=False)
        return self.upload

    def _wait_blocking(self) -> None:
        pending = self._pending
        if pending is None:
            return
        try:
            pending.result()
        except Exception as exc:
            self.failed = exc
            raise
        finally:
            self._pending = None

    # -- letting go ------------------------------------------------------

    def discard(self) -> None:
        """Delete the staged file and close the old content; idempotent.

        If a worker is still busy with the file (a request was cancelled),
        that happens once it is done.
        """
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            self._let_go(discard=True)
        else:
            pending.add_done_callback(lambda _: self._let_go(discard=True))

    def _let_go(self, *, discard: bool) -> None:
        """Close the old content, stop our own workers; with *discard*, delete the file."""
        if self.base is not None:
            with contextlib.suppress(OSError):
                self.base.close()
            self.base = None
        if self._own_workers is not None:
            self._own_workers.shutdown(wait=False)
            self._own_workers = None
            self._executor = None
        if discard:
            self.upload.discard()

    # -- in order (event loop) -------------------------------------------

    def _check(self) -> None:
        if self.failed is not None:
            raise StagingFailed()

    def _accept(self, offset: int, data: bytes) -> bool:
        """Queue *data* if it is in order or can wait for its gap; else False.

        Held writes never overlap each other or the bytes in order, so the
        order they are put in place cannot matter; a write that would
        overlap sends the upload to random access, where writes land in the
        order they came.
        """
        end = offset + len(data)
        held = self._ahead_offsets
        if offset == self.accepted:
            if held and held[0] < end:
                return False
            self._queue(data)
            while held and held[0] == self.accepted:
                piece = self._ahead.pop(held.pop(0))
                self._ahead_bytes -= len(piece)
                self._queue(piece)
            return True
        if offset < self.accepted or self._ahead_bytes + len(data) > REORDER_LIMIT:
            return False
        at = bisect.bisect_left(held, offset)
        if at < len(held) and held[at] < end:
            return False
        if at > 0 and held[at - 1] + len(self._ahead[held[at - 1]]) > offset:
            return False
        held.insert(at, offset)
        self._ahead[offset] = data
        self._ahead_bytes += len(data)
        self._ahead_end = max(self._ahead_end, end)
        return True

    def _queue(self, data: bytes) -> None:
        self._batch.append(data)
        self._batched += len(data)
        self.accepted += len(data)

    def _take_batch(self) -> list[bytes]:
        batch, self._batch, self._batched = self._batch, [], 0
        return batch

    def _take(self) -> tuple[list[bytes], dict[int, bytes]]:
        """The queued batch and the held writes, handed over to the file work."""
        ahead, self._ahead, self._ahead_offsets, self._ahead_bytes = self._ahead, {}, [], 0
        return self._take_batch(), ahead

    async def _to_random_access(self) -> None:
        if self.random:
            return
        batch, ahead = self._take()
        await self._run(self._make_random, batch, ahead)
        self.random = True

    # -- handing work to the workers ---------------------------------------

    def _workers(self) -> Executor:
        if self._executor is None:
            self._own_workers = ThreadPoolExecutor(2, thread_name_prefix="omsh-staging")
            self._executor = self._own_workers
        return self._executor

    def _start(self, *works: Callable[[], Any]) -> None:
        """Start *works* at once, in workers; the work before must be done."""
        assert self._pending is None, "one piece of file work at a time"
        workers = self._workers()
        if len(works) == 1:
            self._pending = workers.submit(works[0])
        else:
            self._pending = _all_of([workers.submit(work) for work in works])

    async def _write_behind(self) -> None:
        """Hand the queued batch to two workers once the work in flight is done."""
        await self._behind(*self._batch_works(self._take_batch()))

    async def _behind(self, *works: Callable[[], Any]) -> None:
        """Start *works* once the work in flight is done, without waiting for them."""
        await self.drain()
        self._start(*works)

    async def _run(self, func: Callable[..., Any], *args: object) -> Any:
        """``func(*args)`` in a worker, after the work in flight; its result."""
        await self.drain()
        self._start(functools.partial(func, *args))
        return await self.drain()

    # -- file work (workers) ---------------------------------------------

    def _batch_works(self, batch: list[bytes]) -> tuple[Callable[[], None], ...]:
        """Writing *batch* to the file and hashing it: two works, for two workers."""
        upload = self.upload

        def store() -> None:
            for chunk in batch:
                upload.store_bytes(chunk)

        def count() -> None:
            for chunk in batch:
                upload.count_bytes(chunk)

        return store, count

    def _write_serially(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self.upload.write(chunk)

    def _make_random(self, batch: list[bytes], ahead: dict[int, bytes]) -> None:
        """Stage the whole content so far: in-order bytes, the old tail, held writes."""
        self._write_serially(batch)
        self.upload.append_from(self.base, self.base_size, self.base_size)
        for offset, piece in ahead.items():  # in arrival order, though none overlap
            self.upload.write_at(offset, piece)

    def _complete(self, batch: list[bytes], ahead: dict[int, bytes]) -> None:
        """Finish an upload (see :meth:`finish`).

        In order, held writes go after their gaps (the old content, or zeros
        past its end), then the old tail.  Held writes do not overlap (see
        :meth:`_accept`), so this stays in order and the hash is still
        computed as the bytes go by.
        """
        if not self.random:
            self._write_serially(batch)
            for offset, piece in sorted(ahead.items()):
                self.upload.append_from(self.base, offset, self.base_size)
                self.upload.write(piece)
            self.upload.append_from(self.base, self.base_size, self.base_size)
        self.upload.finish(sync=False)
        start_sync(self.upload)


# -- syncing staged files together ------------------------------------------

#: Finished uploads whose ``fsync`` has been started, and its future.
_syncing: dict[ContentUpload, Future[None]] = {}
_syncing_lock = threading.Lock()
#: ``fsync`` calls in flight at once: the file system merges concurrent ones
#: into one journal commit (64 staged 4 KiB files: ~6 ms instead of ~60 one
#: after another).
SYNC_WORKERS = 16
_syncers: ThreadPoolExecutor | None = None


def start_sync(upload: ContentUpload) -> None:
    """Start the ``fsync`` of a finished upload in the shared pool; nobody waits yet.

    Not for an upload that will be kept in the database
    (:attr:`ContentUpload.inlined`): the storage's own commit ``fsync``
    makes it durable, and its staged file is only read back.

    It runs while the upload queues for its transaction (and while the batch
    before it commits); :func:`sync_staged` waits for it just before the
    commit.
    """
    global _syncers
    if upload.inlined:  # kept in the database: the storage's commit fsync covers it
        return
    with _syncing_lock:
        if _syncers is None:
            _syncers = ThreadPoolExecutor(SYNC_WORKERS, thread_name_prefix="omsh-fsync")
        future = _syncing[upload] = _syncers.submit(_sync_one, upload)

    def forget(_: Future[None]) -> None:  # done: nothing left to wait for
        with _syncing_lock:
            if _syncing.get(upload) is future:
                del _syncing[upload]

    future.add_done_callback(forget)


def sync_staged() -> int:
    """Wait for every ``fsync`` of a finished upload still running; how many.

    A group commit calls it just before its transaction commits, so
    ``acknowledged = durable`` holds without any writer waiting for its own
    ``fsync`` alone: they ran concurrently since each upload finished
    (ARCHITECTURE §4, "fsync policy").  An upload discarded meanwhile is
    skipped.  A failed ``fsync`` leaves its upload unsynced, so its
    ``attach_to`` tries again and fails the write that holds it.
    """
    with _syncing_lock:
        started = list(_syncing.values())
        _syncing.clear()
    for future in started:
        with contextlib.suppress(Exception):
            future.result()
    return len(started)


def _sync_one(upload: ContentUpload) -> None:
    with contextlib.suppress(FileNotFoundError):  # discarded: nothing to keep
        upload.sync()


def _all_of(futures: list[Future[Any]]) -> Future[None]:
    """One future for *futures*: done when all are, failed as the first that failed."""
    together: Future[None] = Future()
    together.set_running_or_notify_cancel()
    left = len(futures)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def one_done(future: Future[Any]) -> None:
        nonlocal left
        try:
            future.result()
            failure = None
        except BaseException as exc:  # CancelledError too: the executor shut down
            failure = exc
        with lock:
            if failure is not None:
                failures.append(failure)
            left -= 1
            last = not left
        if last:
            if failures:
                together.set_exception(failures[0])
            else:
                together.set_result(None)

    for future in futures:
        future.add_done_callback(one_done)
    return together


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve an outcome nobody waits for any more, so a failure is not logged."""
    if not future.cancelled():
        future.exception()


def stage_chunks(chunks: Iterable[bytes], directory: str) -> ContentUpload:
    """Stage *chunks* in *directory* and finish the upload, waiting in this thread.

    For ``put`` (standard input) and values already in memory.  Any failure,
    :class:`~omsh.errors.TransferAborted` from the stream included, deletes
    the staged file; the caller stores the upload it gets, then discards it.
    """
    staging = Staging.create(directory)
    try:
        for chunk in chunks:
            staging.feed_blocking(chunk)
        return staging.finish_blocking()
    except BaseException:
        with contextlib.suppress(Exception):
            staging._wait_blocking()  # the file is deleted once no worker writes it
        staging.discard()
        raise
