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
from concurrent.futures import CancelledError

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


class ChannelSink:
    """A callable that writes bytes to an SSH stream from a worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: asyncssh.SSHWriter,
        interrupt: Interrupt | None = None,
    ) -> None:
        self._loop = loop
        self._stream = stream
        self._interrupt = interrupt

    async def _send(self, data: bytes) -> None:
        self._stream.write(data)
        await self._stream.drain()

    def __call__(self, data: bytes) -> None:
        if self._interrupt is not None:
            self._interrupt.check()
        if self._stream.channel.is_closing():
            raise ClientGone()
        future = asyncio.run_coroutine_threadsafe(self._send(data), self._loop)
        try:
            future.result()
        except (BrokenPipeError, ConnectionError, asyncssh.Error, CancelledError):
            raise ClientGone() from None


class ChannelSource:
    """Blocking reads of a session's stdin from a worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: asyncssh.SSHReader,
        interrupt: Interrupt | None = None,
    ) -> None:
        self._loop = loop
        self._stream = stream
        self._interrupt = interrupt

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

    def _call(self, size: int) -> bytes:
        if self._interrupt is not None:
            self._interrupt.check()
        future = asyncio.run_coroutine_threadsafe(self._read(size), self._loop)
        try:
            return future.result()
        except CancelledError:
            raise TransferAborted() from None

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            chunks = []
            while chunk := self._call(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        return self._call(size)

    def readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n"):
            chunk = self._call(1)
            if not chunk:
                break
            line += chunk
        return bytes(line)


class EmptySource:
    """Standard input for commands that must not read the terminal."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self) -> bytes:
        return b""
