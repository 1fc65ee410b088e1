"""The files an SFTP session holds open: committed content, or an upload.

asyncssh keeps whatever :meth:`StoreSFTPServer.open` returns and hands it
back with each read, write, ``fstat`` and close; these classes are that
handle.  A :class:`ReadFile` reads a committed blob.  A :class:`WriteFile` is
an upload staged in a :class:`~omsh.store.content.ContentUpload` that becomes
an object only when the client closes it, so a client that goes away leaves
nothing behind, partial or whole.

How clients write, and what a :class:`WriteFile` does about it:

* In order (OpenSSH ``sftp``/``scp``, paramiko, lftp): batches of about
  :data:`WRITE_BATCH` bytes are written and hashed behind, in two workers
  (:class:`~omsh.store.writebehind.WriteBehind`, as CDMI does), while the
  next batch gathers on the event loop.
* Ahead of order (rclone: github.com/pkg/sftp sends up to 64 writes at once,
  and they arrive in any order): a write past the gap is held in memory until
  the bytes before it arrive, up to :data:`REORDER_LIMIT`.
* Anything else (sshfs, editors): writing over earlier bytes, reading back,
  changing the length, or holding more than the limit.  The upload then turns
  to random access: the staged file holds the whole content from then on and
  is hashed once, when the file is closed.

Opened without truncation on an existing object, bytes the client does not
write keep their old value, as in a file system; a gap past the old end reads
as zeros.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import errno
import functools
import os
import stat
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from asyncssh import FILEXFER_TYPE_REGULAR, SFTPAttrs, SFTPFailure

from omsh.store.content import ContentUpload
from omsh.store.writebehind import BATCH_BYTES, WriteBehind

T = TypeVar("T")

#: Upload bytes gathered on the event loop before workers write them.
WRITE_BATCH = BATCH_BYTES
#: Bytes of committed content read per worker call when downloading.
READ_AHEAD = 512 * 1024
#: Bytes written ahead of a gap held in memory before going to random access.
REORDER_LIMIT = 16 * 1024 * 1024


class OpenFile:
    """A handle asyncssh keeps for an open file and passes back to us."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def size(self) -> int:
        raise NotImplementedError

    def attributes(self) -> SFTPAttrs:
        raise NotImplementedError

    async def drain(self) -> None:
        """Wait for writing behind to finish (see :class:`WriteFile`)."""

    def release(self) -> None:
        """Free what the handle holds (descriptors, temporary files); idempotent.

        Called in a worker, after :meth:`drain`.
        """

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Just enough of ``seek`` for asyncssh's ``ranges`` extension: no holes."""
        if whence == os.SEEK_DATA:
            if offset >= self.size:
                raise OSError(errno.ENXIO, "no data past the end")
            return offset
        if whence == os.SEEK_HOLE:
            return max(offset, self.size)
        raise OSError(errno.EINVAL, "only SEEK_DATA and SEEK_HOLE are supported")


class ReadFile(OpenFile):
    """Content open read-only through a descriptor; attributes as they were at open.

    A committed blob never changes, so reads go through a read-ahead buffer:
    one worker call reads :data:`READ_AHEAD` bytes and the next requests (an
    SFTP client asks for 32 KiB at a time, many at once) are answered from
    it on the event loop, while the following piece is read behind.  A file
    still being written (*live*) is read directly every time.
    """

    def __init__(self, path: str, fd: int, attrs: SFTPAttrs, *, live: bool = False) -> None:
        super().__init__(path)
        self.fd = fd
        self._attrs = attrs
        self._live = live
        self._buffer = b""
        self._buffer_at = -1  # nothing read yet
        self._ahead: asyncio.Future[bytes] | None = None
        self._ahead_at = 0

    @property
    def size(self) -> int:
        return self._attrs.size or 0

    def attributes(self) -> SFTPAttrs:
        return self._attrs

    async def read(self, offset: int, length: int, executor: Executor) -> bytes:
        """Up to *length* bytes at *offset*; fewer only at the end of the content."""
        loop = asyncio.get_running_loop()
        if self._live or length > READ_AHEAD:
            return await loop.run_in_executor(executor, os.pread, self.fd, length, offset)
        if not self._holds(offset, length):
            ahead, self._ahead = self._ahead, None
            if ahead is not None and self._ahead_at == offset:
                self._buffer = await ahead
            else:
                if ahead is not None:
                    ahead.add_done_callback(_consume)
                self._buffer = await loop.run_in_executor(
                    executor, os.pread, self.fd, READ_AHEAD, offset
                )
            self._buffer_at = offset
        end = self._buffer_at + len(self._buffer)
        if self._ahead is None and len(self._buffer) == READ_AHEAD and end < self.size:
            self._ahead_at = end
            self._ahead = loop.run_in_executor(executor, os.pread, self.fd, READ_AHEAD, end)
        start = offset - self._buffer_at
        return self._buffer[start : start + length]

    def _holds(self, offset: int, length: int) -> bool:
        if self._buffer_at < 0:
            return False
        start = offset - self._buffer_at
        at_end = len(self._buffer) < READ_AHEAD
        return start >= 0 and (start + length <= len(self._buffer) or at_end)

    async def drain(self) -> None:
        """Let a read ahead finish before the descriptor is closed."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            with contextlib.suppress(OSError):
                await ahead

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _consume(future: asyncio.Future[bytes]) -> None:
    """Retrieve a read ahead nobody wants any more, so a failure is not logged."""
    if not future.cancelled():
        future.exception()


class WriteFile(OpenFile):
    """An upload on its way to becoming the object at *path* (see the module docstring).

    The async methods run on the event loop, one request at a time (asyncssh
    answers a session's requests in order); file work goes to *executor*.
    """

    def __init__(
        self,
        path: str,
        upload: ContentUpload,
        executor: Executor,
        *,
        base_fd: int = -1,
        base_size: int = 0,
        append: bool = False,
    ) -> None:
        super().__init__(path)
        self.upload = upload
        self.executor = executor
        #: The committed content kept where the client does not write.
        self.base_fd = base_fd
        self.base_size = base_size
        self.append = append
        self.opened = time.time()
        #: Times the client set (``fsetstat``), kept when the upload is stored.
        self.mtime: float | None = None
        self.atime: float | None = None
        #: Removed by the client while open: closing then stores nothing.
        self.abandoned = False
        #: The first write error; the upload can then only be discarded.
        self.failed: Exception | None = None
        #: The staged file holds the whole content (random access).
        self.random = False
        #: Where the in-order bytes have got to (event loop).
        self.accepted = 0
        self._batch: list[bytes] = []
        self._batched = 0
        #: Writes past a gap by offset, and their offsets in order.
        self._ahead: dict[int, bytes] = {}
        self._ahead_offsets: list[int] = []
        self._ahead_bytes = 0
        self._ahead_end = 0
        self._behind = WriteBehind(upload, self._in_thread)

    # -- what clients see ------------------------------------------------

    @property
    def size(self) -> int:
        if self.random:
            return self.upload.size
        return max(self.accepted, self._ahead_end, self.base_size)

    def attributes(self) -> SFTPAttrs:
        """What ``stat`` shows while the file is open: the size so far, as sshd does."""
        mtime = self.opened if self.mtime is None else self.mtime
        atime = mtime if self.atime is None else self.atime
        return SFTPAttrs(
            type=FILEXFER_TYPE_REGULAR,
            size=self.size,
            permissions=stat.S_IFREG | 0o644,
            atime=int(atime),
            mtime=int(mtime),
        )

    def set_times(self, mtime: float | None, atime: float | None) -> None:
        if mtime is not None:
            self.mtime = mtime
        if atime is not None:
            self.atime = atime

    # -- requests --------------------------------------------------------

    async def write(self, offset: int, data: bytes) -> None:
        if self.failed is not None:
            raise SFTPFailure(f"{self.path}: an earlier write failed; nothing will be stored")
        try:
            if self.append:
                offset = self.size
            if not self.random and self._accept(offset, data):
                if self._batched >= WRITE_BATCH:
                    await self._flush()
                return
            await self._to_random_access()
            await self._run(self.upload.write_at, offset, data)
        except Exception as exc:
            self.failed = exc
            raise

    async def read(self, offset: int, length: int) -> bytes:
        """Read back what was written (and the old content not overwritten)."""
        await self._to_random_access()
        return await self._run(self.upload.read_at, offset, length)

    async def resize(self, size: int) -> None:
        """``ftruncate``: cut or extend the content to *size*."""
        if not self.random and not self._ahead and self.accepted <= size <= self.size:
            # OpenSSH scp cuts the old tail after writing in place.
            self.base_size = min(self.base_size, size)
            return
        await self._to_random_access()
        await self._run(self.upload.resize, size)

    async def drain(self) -> None:
        """Wait for the batch being written; its failure is kept and raised."""
        try:
            await self._behind.drain()
        except Exception as exc:
            self.failed = exc
            raise

    async def complete(self) -> None:
        """Put everything in place (held writes, old content kept, the last batch)
        and flush it to disk: the upload is then ready to be stored."""
        await self.drain()
        batch, ahead = self._take()
        await self._run(self._finish, batch, ahead)

    def release(self) -> None:
        if self.base_fd >= 0:
            os.close(self.base_fd)
            self.base_fd = -1
        self.upload.discard()

    # -- in order (event loop) -------------------------------------------

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

    def _take(self) -> tuple[list[bytes], dict[int, bytes]]:
        batch, ahead = self._batch, self._ahead
        self._batch, self._batched, self._ahead, self._ahead_bytes = [], 0, {}, 0
        self._ahead_offsets = []
        return batch, ahead

    async def _flush(self) -> None:
        """Hand the queued batch to the workers once the previous one is written."""
        batch, self._batch, self._batched = self._batch, [], 0
        try:
            await self._behind.write(batch)
        except Exception as exc:
            self.failed = exc
            raise

    def _in_thread(self, work: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def _run(self, func: Callable[..., T], *args: object) -> T:
        return await self._in_thread(functools.partial(func, *args))

    async def _to_random_access(self) -> None:
        if self.random:
            return
        await self.drain()
        batch, ahead = self._take()
        await self._run(self._make_random, batch, ahead)
        self.random = True

    # -- file work (worker) ----------------------------------------------

    def _write_all(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self.upload.write(chunk)

    def _make_random(self, batch: list[bytes], ahead: dict[int, bytes]) -> None:
        """Stage the whole content so far: in-order bytes, the old tail, held writes."""
        self._write_all(batch)
        self.upload.append_from(self.base_fd, self.base_size, self.base_size)
        for offset, piece in ahead.items():  # in arrival order, though none overlap
            self.upload.write_at(offset, piece)

    def _finish(self, batch: list[bytes], ahead: dict[int, bytes]) -> None:
        if not self.random:
            self._settle(batch, ahead)
        self.upload.finish()

    def _settle(self, batch: list[bytes], ahead: dict[int, bytes]) -> None:
        """Finish an in-order upload: held writes after their gaps, then the old tail.

        A gap keeps the old content, or reads as zeros past its end.  Held
        writes do not overlap (see :meth:`_accept`), so this stays in order
        and the hash is still computed as the bytes go by.
        """
        self._write_all(batch)
        for offset, piece in sorted(ahead.items()):
            self.upload.append_from(self.base_fd, offset, self.base_size)
            self.upload.write(piece)
        self.upload.append_from(self.base_fd, self.base_size, self.base_size)
