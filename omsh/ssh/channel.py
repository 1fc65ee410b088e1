"""Blocking bridges between a worker thread and an asyncssh channel.

Commands run synchronously in worker threads; SSH channels live on the
event loop.  :class:`ChannelSink` sends bytes and waits for the channel to
drain, so a fast producer (``cat`` of 1 GiB) is held back by the client's
window instead of filling memory.  :class:`ChannelSource` reads stdin on the
loop's behalf and tells a clean end-of-file from a client that vanished.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, Future

import asyncssh

from omsh.errors import OmshError, TransferAborted


class ClientGone(OmshError):
    """The client closed the channel while output was still being sent."""

    def __init__(self) -> None:
        super().__init__("connection closed by client")


class Interrupt:
    """A flag a front end sets (Ctrl-C) and the bridges check between chunks."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def check(self) -> None:
        if self._event.is_set():
            self._event.clear()
            raise OmshError("interrupted")


class _Bridge:
    """A worker thread's end of one channel stream: the loop that owns it, and Ctrl-C."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: asyncssh.SSHWriter[bytes] | asyncssh.SSHReader[bytes],
        interrupt: Interrupt | None = None,
    ) -> None:
        self._loop = loop
        self._stream = stream
        self._interrupt = interrupt

    def _check_interrupt(self) -> None:
        """Raise "interrupted" if the front end has set the interrupt since the last check."""
        if self._interrupt is not None:
            self._interrupt.check()


class ChannelSink(_Bridge):
    """A callable that writes bytes to an SSH stream from a worker thread.

    Writes are pipelined one deep: a call hands its bytes to the event loop
    and then waits only for the *previous* write to have drained, so the
    loop always has the next chunk queued while the worker prepares the one
    after (``cat`` reads the blob while the loop encrypts).  Memory stays
    bounded to two chunks beyond asyncssh's own buffer, and a client that
    reads slowly still holds the worker back.
    """

    _stream: asyncssh.SSHWriter[bytes]
    #: The write handed to the loop last, not yet waited for.
    _pending: Future[None] | None = None

    async def _send(self, data: bytes) -> None:
        self._stream.write(data)
        await self._stream.drain()

    def _wait(self, future: Future[None]) -> None:
        try:
            future.result()
        except (BrokenPipeError, ConnectionError, asyncssh.Error, CancelledError):
            raise ClientGone() from None

    def __call__(self, data: bytes) -> None:
        self._check_interrupt()
        if self._stream.channel.is_closing():
            raise ClientGone()
        future = asyncio.run_coroutine_threadsafe(self._send(data), self._loop)
        previous, self._pending = self._pending, future
        if previous is not None:
            self._wait(previous)


class ChannelSource(_Bridge):
    """Blocking reads of a session's stdin from a worker thread.

    Data is fetched from the channel in blocks of its whole receive window
    and handed out from a local buffer.  Besides crossing to the event loop
    once per block rather than once per small read, this bounds memory:
    asyncssh (2.24) grants the client a full window again whenever it
    delivers a packet after a pause, whatever the application has actually
    consumed, so a reader that takes less than a window per read lets a fast
    client push data into the server's buffers without limit (a 1 GiB
    ``put`` held ~1 GiB).  Taking a window per read consumes as much as
    each grant allows, which keeps the buffered total to about three windows.
    """

    _stream: asyncssh.SSHReader[bytes]

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: asyncssh.SSHReader[bytes],
        interrupt: Interrupt | None = None,
    ) -> None:
        super().__init__(loop, stream, interrupt)
        self._block = max(stream.channel.get_recv_window(), 1)
        self._buffer = b""
        self._offset = 0

    async def _read(self, size: int) -> bytes:
        try:
            data = await self._stream.read(size)
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            raise TransferAborted() from None
        if not data:
            # asyncssh reports a lost connection as end-of-file too; only an
            # EOF the client sent while the channel is still open is real.
            await asyncio.sleep(0)
            if self._stream.channel.is_closing():
                raise TransferAborted()
        return data

    def _fill(self) -> bool:
        """Fetch the next block into the buffer; False at end of input."""
        self._check_interrupt()
        future = asyncio.run_coroutine_threadsafe(self._read(self._block), self._loop)
        try:
            self._buffer = future.result()
        except CancelledError:
            raise TransferAborted() from None
        self._offset = 0
        return bool(self._buffer)

    def _take(self, size: int) -> bytes:
        """Up to *size* bytes (all with a negative size) from the buffer."""
        if self._offset >= len(self._buffer) and not self._fill():
            return b""
        end = len(self._buffer) if size < 0 else self._offset + size
        data = self._buffer[self._offset : end]
        self._offset += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            chunks = []
            while chunk := self._take(-1):
                chunks.append(chunk)
            return b"".join(chunks)
        return self._take(size) if size else b""

    def readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n"):
            if self._offset >= len(self._buffer) and not self._fill():
                break
            end = self._buffer.find(b"\n", self._offset)
            end = len(self._buffer) if end < 0 else end + 1
            line += self._buffer[self._offset : end]
            self._offset = end
        return bytes(line)


class EmptySource:
    """Standard input for commands that must not read the terminal."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self) -> bytes:
        return b""
