"""Blocking bridges between a worker thread and an asyncssh channel.

Commands run synchronously in worker threads; SSH channels live on the
event loop.  :class:`ChannelSink` sends bytes and waits for the channel to
drain, so a fast producer (``cat`` of 1 GiB) is held back by the client's
window instead of filling memory.  :class:`ChannelSource` reads stdin on the
loop's behalf and tells a clean end-of-file from a client that vanished.

Ctrl-C: a worker cannot be killed, so both bridges wait in short slices and
check the session's :class:`~omsh.commands.base.Interrupt` between them.  A
command blocked on a slow client (a terminal still rendering ``cat``) thus
stops within one slice, and output still queued in asyncssh is dropped
rather than sent.  In exec sessions :class:`SessionInput` reads stdin ahead
of the command, so a ``signal``/``break`` request, or ``0x03`` typed on a
PTY, is seen even while the command does not read its input.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import asyncssh
from asyncssh.channel import SSHChannel

from omsh.commands.base import Interrupt
from omsh.errors import Cancelled, OmshError, TransferAborted

__all__ = [
    "ChannelSink",
    "ChannelSource",
    "ClientGone",
    "EmptySource",
    "Interrupt",
    "SessionInput",
]

T = TypeVar("T")

#: How long a worker waits on the loop before looking at the interrupt again.
_WAIT_SLICE = 0.05
#: After end of input, how often to look for a signal asyncssh queued.
_SIGNAL_POLL = 0.02
#: Ctrl-C on a terminal, which a tty's line discipline turns into SIGINT.
CTRL_C = b"\x03"
#: Signals (``signal`` channel requests) that cancel the running command.
CANCELLING_SIGNALS = frozenset({"INT", "TERM", "QUIT", "HUP"})


class ClientGone(OmshError):
    """The client closed the channel while output was still being sent."""

    def __init__(self) -> None:
        super().__init__("connection closed by client")


class _Bridge:
    """A worker thread's end of one channel: the loop that owns it, and Ctrl-C."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interrupt: Interrupt | None) -> None:
        self._loop = loop
        self._interrupt = interrupt

    def _check_interrupt(self) -> None:
        """Raise :class:`Cancelled` if the front end has set the interrupt."""
        if self._interrupt is not None:
            self._interrupt.check()

    def _wait(self, future: Future[T]) -> T:
        """The result of *future*, run on the loop; Ctrl-C cancels it and raises."""
        while True:
            try:
                return future.result(timeout=_WAIT_SLICE)
            except FutureTimeout:
                if self._interrupt is not None and self._interrupt.is_set():
                    future.cancel()
                    self._cancelled()
                    raise Cancelled() from None

    def _cancelled(self) -> None:
        """Called once the wait has been given up for a Ctrl-C."""


class ChannelSink(_Bridge):
    """A callable that writes bytes to an SSH stream from a worker thread.

    Writes are pipelined one deep: a call hands its bytes to the event loop
    and then waits only for the *previous* write to have drained, so the
    loop always has the next chunk queued while the worker prepares the one
    after (``cat`` reads the blob while the loop encrypts).  Memory stays
    bounded to two chunks beyond asyncssh's own buffer, and a client that
    reads slowly still holds the worker back.
    """

    #: The write handed to the loop last, not yet waited for.
    _pending: Future[None] | None = None

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: asyncssh.SSHWriter[bytes],
        interrupt: Interrupt | None = None,
    ) -> None:
        super().__init__(loop, interrupt)
        self._stream = stream

    async def _send(self, data: bytes) -> None:
        self._stream.write(data)
        await self._stream.drain()

    def _collect(self, future: Future[None]) -> None:
        try:
            self._wait(future)
        except (BrokenPipeError, ConnectionError, asyncssh.Error, CancelledError):
            raise ClientGone() from None

    def _cancelled(self) -> None:
        """Give up the queued write and drop what asyncssh has not sent yet."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        self._loop.call_soon_threadsafe(_discard_unsent, self._stream.channel)

    def __call__(self, data: bytes) -> None:
        if self._interrupt is not None and self._interrupt.is_set():
            self._cancelled()
            raise Cancelled()
        if self._stream.channel.is_closing():
            raise ClientGone()
        future = asyncio.run_coroutine_threadsafe(self._send(data), self._loop)
        previous, self._pending = self._pending, future
        if previous is not None:
            self._collect(previous)


def _discard_unsent(channel: SSHChannel[bytes]) -> None:
    """Drop the data asyncssh holds for lack of window (on the loop).

    Output of an interrupted command that the client has not been sent is
    of no use to it: a terminal would otherwise render megabytes after the
    Ctrl-C.  asyncssh has no public call for this; its send buffer is a list
    it drains from the front, so emptying it between packets is safe.  If a
    later asyncssh changes that, nothing is discarded (the bytes are sent).
    """
    unsent = getattr(channel, "_send_buf", None)
    if isinstance(unsent, list) and hasattr(channel, "_send_buf_len"):
        unsent.clear()
        channel._send_buf_len = 0
        with contextlib.suppress(AttributeError):
            channel._pause_resume_writing()  # wakes a writer waiting to drain


class SessionInput:
    """An exec session's stdin, read ahead on the loop, watching for Ctrl-C.

    A task keeps reading the channel, so it notices a ``signal`` request
    (``INT``, ``TERM``, ``QUIT``, ``HUP``), a ``break`` or, on a PTY
    (``ssh -t``), a typed ``0x03`` while the command is busy: each sets the
    interrupt, as a tty's line discipline would send SIGINT; the ``0x03`` is
    not data.  After end of input asyncssh still queues signals but never
    wakes a reader for them, so they are looked for every
    :data:`_SIGNAL_POLL` seconds.

    Data is read a whole receive window at a time, and no more than one
    window is held that the command has not taken.  This bounds memory:
    asyncssh (2.24) grants the client a full window again whenever it
    delivers a packet after a pause, whatever the application has actually
    consumed, so a reader that takes less than a window per read lets a fast
    client push data into the server's buffers without limit (a 1 GiB
    ``put`` held ~1 GiB).  A signal sent behind a window of input the
    command does not read waits until it does (typing ahead is far less).
    """

    def __init__(
        self, stream: asyncssh.SSHReader[bytes], interrupt: Interrupt, *, tty: bool = False
    ) -> None:
        self._stream = stream
        self._interrupt = interrupt
        self._tty = tty
        self._block = max(stream.channel.get_recv_window(), 1)
        self._buffer = bytearray()
        #: End of input once seen: b"" (end-of-file) or the error to raise.
        self._end: bytes | OmshError | None = None
        self._arrived = asyncio.Event()  # data or the end, for the reader
        self._taken = asyncio.Event()  # the reader took data, for the pump
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _next(self) -> bytes | None:
        """The next data from the channel; None for a signal, break or resize."""
        try:
            return await self._stream.read(self._block)
        except asyncssh.SignalReceived as signal:
            if signal.signal.upper() in CANCELLING_SIGNALS:
                self._interrupt.set()
        except asyncssh.BreakReceived:
            self._interrupt.set()
        except asyncssh.TerminalSizeChanged:
            pass
        return None

    async def _pump(self) -> None:
        try:
            while True:
                while len(self._buffer) >= self._block:
                    self._taken.clear()
                    await self._taken.wait()
                data = await self._next()
                if data is None:
                    continue
                if not data:
                    break
                if self._tty and CTRL_C in data:
                    self._interrupt.set()
                    data = data.replace(CTRL_C, b"")
                self._buffer += data
                self._arrived.set()
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            self._finish(TransferAborted())
            return
        # asyncssh reports a lost connection as end-of-file too; only an
        # EOF the client sent while the channel is still open is real.
        await asyncio.sleep(0)
        if self._stream.channel.is_closing():
            self._finish(TransferAborted())
            return
        self._finish(b"")
        with contextlib.suppress(BrokenPipeError, ConnectionError, asyncssh.Error):
            while not self._stream.channel.is_closing():
                await asyncio.sleep(_SIGNAL_POLL)
                await self._next()

    def _finish(self, end: bytes | OmshError) -> None:
        self._end = end
        self._arrived.set()

    async def read_block(self) -> bytes:
        """The input not yet taken (up to a window); ``b""`` at end of input, every time."""
        while not self._buffer and self._end is None:
            self._arrived.clear()
            await self._arrived.wait()
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._taken.set()
            return data
        if isinstance(self._end, OmshError):
            raise self._end
        return b""

    def close(self) -> None:
        """Stop reading ahead (the session is over)."""
        self._task.cancel()


class ChannelSource(_Bridge):
    """Blocking reads of a session's stdin from a worker thread.

    Blocks come from a :class:`SessionInput` and are handed out from a local
    buffer, crossing to the event loop once per block rather than once per
    small read.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        source: SessionInput,
        interrupt: Interrupt | None = None,
    ) -> None:
        super().__init__(loop, interrupt)
        self._source = source
        self._buffer = b""
        self._offset = 0

    def _fill(self) -> bool:
        """Fetch the next block into the buffer; False at end of input."""
        self._check_interrupt()
        future = asyncio.run_coroutine_threadsafe(self._source.read_block(), self._loop)
        try:
            self._buffer = self._wait(future)
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
