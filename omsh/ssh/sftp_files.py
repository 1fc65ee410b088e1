"""The files an SFTP session holds open: committed content, or an upload.

asyncssh keeps whatever :meth:`StoreSFTPServer.open` returns and hands it
back with each read, write, ``fstat`` and close; these classes are that
handle.  A :class:`ReadFile` reads a committed blob.  A :class:`WriteFile` is
an upload staged by :class:`~omsh.store.staging.Staging` (as ``put`` and
CDMI stage theirs) that becomes an object only when the client closes it,
so a client that goes away leaves nothing behind, partial or whole.

Clients write in order (OpenSSH ``sftp``/``scp``, paramiko, lftp), ahead of
order (rclone), or anywhere, reading back and changing the length (sshfs,
editors): :mod:`omsh.store.staging` serves all three.  Opened without
truncation on an existing object, bytes the client does not write keep
their old value, as in a file system; a gap past the old end reads as zeros.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import time
from concurrent.futures import Executor

from asyncssh import FILEXFER_TYPE_REGULAR, SFTPAttrs, SFTPFailure

from omsh.store.content import ContentUpload
from omsh.store.staging import Staging

#: Bytes of committed content read per worker call when downloading.
READ_AHEAD = 512 * 1024


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
    still being written (*live*) is read directly every time.  Content kept
    in the database comes as its bytes (*data*, with no descriptor: -1) and
    is answered from them.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        attrs: SFTPAttrs,
        *,
        live: bool = False,
        data: bytes | None = None,
    ) -> None:
        super().__init__(path)
        self.fd = fd
        self._data = data
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
        if self._data is not None:
            return self._data[offset : offset + length]
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
    answers a session's requests in order); *staging* (with the old content
    kept where the client does not write) is the handle's from now on.
    """

    def __init__(self, path: str, staging: Staging, *, append: bool = False) -> None:
        super().__init__(path)
        self.staging = staging
        self.append = append
        self.opened = time.time()
        #: Times the client set (``fsetstat``), kept when the upload is stored.
        self.mtime: float | None = None
        self.atime: float | None = None
        #: Removed by the client while open: closing then stores nothing.
        self.abandoned = False

    @property
    def upload(self) -> ContentUpload:
        return self.staging.upload

    @property
    def failed(self) -> Exception | None:
        """The first write error; the upload can then only be discarded."""
        return self.staging.failed

    @property
    def random(self) -> bool:
        return self.staging.random

    # -- what clients see ------------------------------------------------

    @property
    def size(self) -> int:
        return self.staging.size

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
        await self.staging.write(self.size if self.append else offset, data)

    async def read(self, offset: int, length: int) -> bytes:
        """Read back what was written (and the old content not overwritten)."""
        return await self.staging.read(offset, length)

    async def resize(self, size: int) -> None:
        """``ftruncate``: cut or extend the content to *size*."""
        await self.staging.resize(size)

    async def drain(self) -> None:
        """Wait for the file work in flight; its failure is kept and raised."""
        await self.staging.drain()

    async def complete(self) -> None:
        """Put everything in place and flush it to disk: ready to be stored."""
        await self.staging.finish()

    def release(self) -> None:
        self.staging.discard()
