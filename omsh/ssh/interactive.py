"""The interactive shell: prompt_toolkit over an SSH channel with a PTY.

prompt_toolkit reads keystrokes from a pipe that a reader task fills from the
channel, and renders to the channel through a ``Vt100_Output``.  Commands run
in a worker thread exactly as in exec sessions; while one runs, Ctrl-C sets
the session's :class:`~omsh.ssh.channel.Interrupt` instead of reaching the
prompt, so a long ``cat`` stops between chunks.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from typing import TextIO, cast

import asyncssh
from prompt_toolkit import PromptSession
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from omsh.commands.base import ShellSession
from omsh.ssh.channel import EmptySource, Interrupt
from omsh.ssh.session import ServerContext, make_shell, run_line

CTRL_C = "\x03"


class _ChannelText:
    """The text stream prompt_toolkit renders into: UTF-8 onto the channel."""

    def __init__(self, process: asyncssh.SSHServerProcess) -> None:
        self._process = process

    def write(self, data: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, asyncssh.Error):
            self._process.stdout.write(data.replace("\n", "\r\n").encode("utf-8"))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"


def prompt_text(session: ShellSession) -> str:
    return f"{session.user}@omsh:{session.cwd}$ "


async def run_interactive(
    context: ServerContext, process: asyncssh.SSHServerProcess, user: str
) -> int:
    """Prompt, run, repeat until ``exit`` or end-of-file; returns the last status."""
    loop = asyncio.get_running_loop()
    session = ShellSession(
        user=user, interactive=True, history=context.histories.setdefault(user, [])
    )
    interrupt = Interrupt()
    command_running = False

    def size() -> Size:
        width, height = process.get_terminal_size()[:2]
        return Size(rows=height or 24, columns=width or 80)

    output = Vt100_Output(
        cast(TextIO, _ChannelText(process)),
        size,
        term=process.get_terminal_type(),
        enable_cpr=False,
    )
    status = 0
    with create_pipe_input() as pipe_input:
        prompt_session: PromptSession[str] = PromptSession(input=pipe_input, output=output)
        secret_session: PromptSession[str] = PromptSession(input=pipe_input, output=output)

        def ask_secret(message: str) -> str:
            future = asyncio.run_coroutine_threadsafe(
                secret_session.prompt_async(message, is_password=True), loop
            )
            return future.result()

        async def pump_keystrokes() -> None:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            while True:
                try:
                    data = await process.stdin.read(4096)
                except asyncssh.TerminalSizeChanged:
                    app = prompt_session.app
                    if app.is_running:
                        app._on_resize()
                    continue
                except (asyncssh.Error, ConnectionError):
                    break
                if not data:
                    break
                text = decoder.decode(data)
                if command_running and CTRL_C in text:
                    interrupt.set()
                    text = text.replace(CTRL_C, "")
                if text:
                    pipe_input.send_text(text)
            pipe_input.close()

        pump = asyncio.create_task(pump_keystrokes())
        shell = make_shell(
            context,
            process,
            session,
            stdin=EmptySource(),
            interrupt=interrupt,
            ask_secret=ask_secret,
        )
        try:
            while not session.finished:
                try:
                    line = await prompt_session.prompt_async(prompt_text(session))
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not line.strip():
                    continue
                session.history.append(line)
                interrupt.clear()
                command_running = True
                try:
                    status = await run_line(context, shell, line)
                finally:
                    command_running = False
        finally:
            pump.cancel()
    return status
