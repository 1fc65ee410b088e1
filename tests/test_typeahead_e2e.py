"""Typeahead in the interactive shell: every key the client sends reaches a prompt, in order.

A terminal keeps what is typed before the shell reads it (before the first
prompt is drawn, while a command runs, after the key that quits ``less``)
and bash reads it all.  These tests send keys at exactly those moments
with asyncssh as the client on a PTY (it answers prompt_toolkit's cursor
position requests as a terminal does) against a real ``omsh serve``, and
with OpenSSH's ``ssh -tt`` in tmux; each line typed ahead runs ``ls`` of a
different missing path, so the error lines show which ran, and in what
order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh
import pytest

from omsh import __version__
from tests.reference_sshd import reference_sshd
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

PROMPT = "admin@omsh:/$"
CPR_REQUEST = b"\x1b[6n"
# Escape sequences and the carriage returns of redraws, for reading the text.
_CONTROL = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\r")


def missing(n: int) -> str:
    """The line typed ahead as number *n*: an ``ls`` that fails naming it."""
    return f"ls /typed{n}\r"


def ran(text: str) -> list[int]:
    """Which of the :func:`missing` lines ran, in the order their errors came."""
    return [int(n) for n in re.findall(r"omsh: ls: /typed(\d+): not found", text)]


class PtyClient:
    """An interactive session as a terminal would hold it: a PTY, and answers to CPRs."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        self.process = process
        self.output = bytearray()
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while data := await self.process.stdout.read(65536):
            self.output += data
            for _ in range(data.count(CPR_REQUEST)):
                self.process.stdin.write(b"\x1b[1;1R")
            self._arrived.set()

    def send(self, keys: str | bytes) -> None:
        self.process.stdin.write(keys.encode() if isinstance(keys, str) else keys)

    def text(self, tail: int = 100_000) -> str:
        return _CONTROL.sub(b"", bytes(self.output[-tail:])).decode(errors="replace")

    async def wait_until(self, test: Callable[[str], bool], timeout: float = 20) -> str:
        """The session's text once *test* accepts it."""
        deadline = time.monotonic() + timeout
        while not test(text := self.text()):
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; the session showed:\n{text[-3000:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return text


def connect(server: Any) -> contextlib.AbstractAsyncContextManager[asyncssh.SSHClientConnection]:
    """An asyncssh connection to *server* as its user, with its client key."""
    return asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=server.user,
        client_keys=[str(server.client_key)],
        known_hosts=str(server.known_hosts()),
        agent_path=None,
    )


async def open_session(connection: asyncssh.SSHClientConnection) -> PtyClient:
    """An interactive session (PTY, no command) on *connection*."""
    process = await connection.create_process(term_type="xterm", term_size=(100, 30), encoding=None)
    return PtyClient(process)


def interactive(
    server: Any, scenario: Callable[[PtyClient], Awaitable[None]], timeout: float = 60
) -> None:
    """Open an interactive session (PTY, no command) and run *scenario* in it."""

    async def session() -> None:
        async with connect(server) as connection:
            client = await open_session(connection)
            process = client.process
            await asyncio.wait_for(scenario(client), timeout)
            client.send("exit\r")
            await asyncio.wait_for(process.wait(), 10)

    asyncio.run(session())


def test_keys_sent_as_the_session_opens_all_run_in_order(server):
    """A paste of lines (one abandoned with Ctrl-C) sent before the first prompt is drawn."""

    async def scenario(client: PtyClient) -> None:
        client.send(missing(1) + "cd /e2e\x03" + missing(2) + missing(3) + "pwd\r")
        text = await client.wait_until(lambda text: "\n/\n" in text)  # pwd's output
        assert ran(text) == [1, 2, 3]
        assert "admin@omsh:/e2e" not in text  # the cd was abandoned, as Ctrl-C at a prompt

    interactive(server, scenario)


def test_keys_sent_between_a_commands_output_and_the_next_prompt_run(server):
    async def scenario(client: PtyClient) -> None:
        await client.wait_until(lambda text: PROMPT in text)
        for n in range(1, 6):
            client.send(missing(n))
            # The next line goes the moment this one's output has come: before its prompt.
            await client.wait_until(lambda text, n=n: n in ran(text))
        assert ran(client.text()) == [1, 2, 3, 4, 5]

    interactive(server, scenario)


def test_keys_after_the_one_that_quits_the_pager_go_to_the_prompt(server):
    async def scenario(client: PtyClient) -> None:
        client.send("help\r")
        await client.wait_until(lambda text: "\n:" in text[-300:])  # the pager's status line
        client.send("q" + missing(1) + missing(2))  # one packet, as typed quickly
        text = await client.wait_until(lambda text: len(ran(text)) == 2)
        assert ran(text) == [1, 2]

    interactive(server, scenario)


def test_keys_after_a_tab_wait_for_its_completion(server):
    """``pw`` Tab Enter in one burst runs ``pwd``, as readline completes before
    reading on; likewise a path completed then run, and a Tab cycling a menu."""

    async def scenario(client: PtyClient) -> None:
        await client.wait_until(lambda text: PROMPT in text)
        client.send("pw\t\r" + missing(1))
        text = await client.wait_until(lambda text: ran(text) == [1])
        assert "\n/\n" in text and "pw: command not found" not in text
        client.send("mkdir /tabbed\rcd /tab\t\r" + missing(2))
        text = await client.wait_until(lambda text: ran(text) == [1, 2])
        assert "admin@omsh:/tabbed$" in text
        client.send("cd /\rls /e\t\t\t\r" + missing(3))  # a menu: /e2e/, /etc…
        await client.wait_until(lambda text: ran(text) == [1, 2, 3])

    interactive(server, scenario)


@pytest.fixture(scope="module")
def long_object(server) -> str:
    """An object whose ``cat`` runs for a while (3.3 MiB of lines)."""
    done = server.ssh("mkdir -p /e2e; put /e2e/typeahead-long.txt", stdin=LONG_LINE * 150_000)
    assert done.status == 0, done.err
    return "/e2e/typeahead-long.txt"


LONG_LINE = b"a line that scrolls by\n"


def test_typeahead_while_a_command_runs_never_holds_the_server_up(server, long_object):
    """More than a pipe's 64 KiB typed during a long ``cat``: it finishes, then all runs.

    (Keys once went through an OS pipe whose full buffer blocked the event
    loop, and with it the command's output and every other session.)
    """

    async def scenario(client: PtyClient) -> None:
        await client.wait_until(lambda text: PROMPT in text)
        client.send(f"cat --no-pager {long_object}\r")
        await client.wait_until(lambda text: LONG_LINE.decode() in text)
        client.send("ls /typed1" + " " * 70_000 + "\r" + missing(2))
        await client.wait_until(lambda text: ran(text[-3000:]) == [1, 2], timeout=50)
        assert server.ssh("pwd").out == "/\n"  # and the server serves others meanwhile

    interactive(server, scenario, timeout=90)


def test_ctrl_c_during_a_command_drops_what_was_typed_before_it(server, long_object):
    """As a terminal flushes its input queue on SIGINT (bash shows the same, below)."""

    async def scenario(client: PtyClient) -> None:
        await client.wait_until(lambda text: PROMPT in text)
        client.send(f"cat --no-pager {long_object}\r")
        await client.wait_until(lambda text: LONG_LINE.decode() in text)
        client.send(missing(1))  # typed ahead, then thought better of
        client.send("\x03" + missing(2))
        text = await client.wait_until(lambda text: 2 in ran(text[-3000:]))
        assert "^C" in text[-3000:]
        assert ran(text[-3000:]) == [2]

    interactive(server, scenario)


def type_ahead(
    terminal: Terminal, ready: str, errors: Callable[[str], list[int]], long: str, running: str
) -> tuple[list[int], list[int]]:
    """Type lines into *terminal* at the moments typeahead is for, as a quick typist would.

    Line 1 as soon as *terminal* shows *ready* (for omsh, its welcome: the
    prompt is not drawn yet), lines 2-4 as one block, arriving while line 1
    runs; then command *long*, and once it shows *running*, line 5, Ctrl-C
    and line 6.  Returns which lines ran (*errors* reads them off the
    screen) before *long*, and after it.
    """
    terminal.wait_for(ready)
    terminal.press("ls /typed1", "Enter")
    terminal.press("ls /typed2", "Enter", "ls /typed3", "Enter", "ls /typed4", "Enter")
    before = errors(terminal.wait_for(lambda screen: 4 in errors(screen)))
    terminal.press(long, "Enter")
    terminal.wait_for(running)
    terminal.press("ls /typed5", "Enter", "C-c", "ls /typed6", "Enter")
    return before, errors(terminal.wait_for(lambda screen: 6 in errors(screen), timeout=30))


def test_openssh_keys_typed_ahead_run_in_order_as_with_sshd_and_bash(server, long_object, tmp_path):
    """Lines 1-4 and 6 run in order; line 5 goes with the Ctrl-C, as a terminal flushes its
    input queue on SIGINT."""
    terminal = Terminal(server.ssh_argv("-tt"), tmp_path)
    try:
        welcome = f"omsh {__version__}"
        long = f"cat --no-pager {long_object}"
        assert type_ahead(terminal, welcome, ran, long, LONG_LINE.decode()) == (
            [1, 2, 3, 4],
            [6],
        )
    finally:
        terminal.close()

    # What a user of OpenSSH's sshd and bash gets from the same keys.
    def bash_ran(screen: str) -> list[int]:
        return [int(n) for n in re.findall(r"ls: cannot access '/typed(\d+)'", screen)]

    with reference_sshd(tmp_path / "sshd", server.client_key) as sshd:
        terminal = Terminal(
            [*sshd.ssh_argv("-tt"), "env -i TERM=xterm PS1='bash$ ' bash --norc -i"], tmp_path
        )
        try:
            assert type_ahead(terminal, "bash$", bash_ran, "sleep 5", "bash$ sleep 5") == (
                [1, 2, 3, 4],
                [1, 2, 3, 4, 6],  # nothing scrolled away here
            )
        finally:
            terminal.close()


def test_a_session_opening_leaves_another_sessions_prompt_alone(server):
    """Each session has its own prompt_toolkit AppSession.

    With the process-wide default one, the second session's welcome line was
    printed through the first session's prompt (its run_in_terminal): that
    prompt was erased and redrawn, asked its terminal for a cursor report
    again, and could hold up the keys typed at it.
    """

    async def sessions() -> None:
        async with connect(server) as connection:
            first = await open_session(connection)
            await first.wait_until(lambda text: " admin  /" in text)  # prompt and toolbar up
            await asyncio.sleep(0.5)
            shown = len(first.output)
            second = await open_session(connection)
            await second.wait_until(lambda text: " admin  /" in text)
            second.send(missing(1))
            await second.wait_until(lambda text: ran(text) == [1])
            await asyncio.sleep(0.5)
            assert bytes(first.output[shown:]) == b""  # nothing drawn on the first
            first.send(missing(2))
            await first.wait_until(lambda text: ran(text) == [2])
            for client in (first, second):
                client.send("exit\r")
                await asyncio.wait_for(client.process.wait(), 10)

    asyncio.run(asyncio.wait_for(sessions(), 60))
