"""The blocking bridges between worker threads and SSH channels.

An in-process asyncssh server whose session reads stdin through
:class:`~omsh.ssh.channel.ChannelSource` (or writes through
:class:`~omsh.ssh.channel.ChannelSink`) in a worker thread, and an asyncssh
client on the same loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import asyncssh

from omsh.errors import Cancelled
from omsh.ssh.channel import ChannelSink, ChannelSource, Interrupt, SessionInput

MIB = 1024 * 1024
WINDOW = 1 * MIB


class _AnyKey(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return True


def _exchange(
    work: Callable[[asyncio.AbstractEventLoop, asyncssh.SSHServerProcess], object],
    client: Callable[[asyncssh.SSHClientProcess], object],
) -> object:
    """Run *work* in a worker thread for one exec session that *client* drives.

    Returns what *work* returned.
    """
    result: list[object] = []
    executor = ThreadPoolExecutor(max_workers=1)

    async def session(process: asyncssh.SSHServerProcess) -> None:
        loop = asyncio.get_running_loop()
        result.append(await loop.run_in_executor(executor, work, loop, process))
        process.exit(0)

    async def scenario() -> None:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        server = await asyncssh.create_server(
            _AnyKey,
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            process_factory=session,
            encoding=None,
            window=WINDOW,
        )
        port = server.sockets[0].getsockname()[1]
        try:
            async with asyncssh.connect(
                "127.0.0.1",
                port,
                username="u",
                client_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                known_hosts=None,
            ) as conn:
                process = await conn.create_process("x", encoding=None)
                await client(process)
                await process.wait()
        finally:
            server.close()
            await server.wait_closed()

    try:
        asyncio.run(scenario())
    finally:
        executor.shutdown()
    return result[0]


def _source(
    loop: asyncio.AbstractEventLoop, process: asyncssh.SSHServerProcess, interrupt: Interrupt
) -> ChannelSource:
    """A source over *process*'s stdin, from a worker thread (its reader starts on the loop)."""

    async def make() -> ChannelSource:
        return ChannelSource(loop, SessionInput(process.stdin, interrupt), interrupt)

    return asyncio.run_coroutine_threadsafe(make(), loop).result()


def test_source_reads_everything_and_lines_split_correctly():
    payload = b"first line\nsecond\n" + bytes(range(256)) * 4096 + b"\nlast"

    def work(loop, process) -> tuple[bytes, bytes, bytes]:
        source = _source(loop, process, Interrupt())
        first, second = source.readline(), source.readline()
        return first, second, source.read()

    async def client(process) -> None:
        process.stdin.write(payload)
        process.stdin.write_eof()

    first, second, rest = _exchange(work, client)
    assert (first, second) == (b"first line\n", b"second\n")
    assert first + second + rest == payload


def test_slow_reader_keeps_a_fast_uploader_within_a_few_windows():
    """asyncssh re-opens the window whenever it delivers after a pause; read in
    small pieces, a fast client could push the whole upload into memory."""
    total = 96 * MIB
    block = b"\xa5" * MIB

    def work(loop, process) -> tuple[int, str, int]:
        source = _source(loop, process, Interrupt())
        digest = hashlib.sha256()
        received = 0
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        while chunk := source.read(256 * 1024):
            received += len(chunk)
            digest.update(chunk)
            time.sleep(0.0005)  # a disk slower than the network
        return received, digest.hexdigest(), tracemalloc.get_traced_memory()[1] - baseline

    async def client(process) -> None:
        for _ in range(total // MIB):
            process.stdin.write(block)
            await process.stdin.drain()
        process.stdin.write_eof()

    tracemalloc.start()
    try:
        received, digest, peak = _exchange(work, client)
    finally:
        tracemalloc.stop()
    assert received == total
    assert digest == hashlib.sha256(block * (total // MIB)).hexdigest()
    assert peak < 12 * WINDOW, f"{peak / MIB:.1f} MiB buffered"


def test_sink_delivers_every_chunk_in_order_before_the_session_ends():
    chunks = [bytes([index]) * (100_000 + index) for index in range(50)]
    done = threading.Event()

    def work(loop, process) -> None:
        sink = ChannelSink(loop, process.stdout)
        for chunk in chunks:
            sink(chunk)
        done.set()

    received = bytearray()

    async def client(process) -> None:
        while data := await process.stdout.read(1 << 20):
            received.extend(data)

    _exchange(work, client)
    assert done.is_set()
    assert bytes(received) == b"".join(chunks)


def test_ctrl_c_frees_a_sink_blocked_on_a_client_that_stopped_reading():
    """The worker waits for the window in slices: Ctrl-C gets it out within one,
    and what asyncssh still held for the client is dropped, not sent."""
    interrupt = Interrupt()

    def work(loop, process) -> tuple[str, float, int]:
        sink = ChannelSink(loop, process.stdout, interrupt)
        pressed = None
        try:
            for index in range(64):  # 64 MiB; the client takes none of it
                if index == 8:
                    interrupt.set()
                    pressed = time.monotonic()
                sink(b"\x5a" * MIB)
        except Cancelled:
            assert pressed is not None
            waited = time.monotonic() - pressed
            time.sleep(0.1)  # the discard runs on the loop
            unsent = process.channel.get_write_buffer_size()
            return "cancelled", waited, unsent
        return "finished", 0.0, 0

    async def client(process) -> None:
        await asyncio.sleep(1.0)  # reads nothing until the worker has given up
        while await process.stdout.read(1 << 20):
            pass

    outcome, waited, unsent = _exchange(work, client)
    assert outcome == "cancelled"
    assert waited < 0.5
    assert unsent == 0


def test_a_signal_request_sets_the_interrupt_while_nothing_reads_stdin():
    interrupt = Interrupt()

    def work(loop, process) -> bool:
        _source(loop, process, interrupt)  # reads ahead; the command never calls it
        deadline = time.monotonic() + 5
        while not interrupt.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return interrupt.is_set()

    async def client(process) -> None:
        process.stdin.write(b"some input the command ignores")
        process.send_signal("INT")

    assert _exchange(work, client) is True
