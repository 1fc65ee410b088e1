"""A command :class:`~omsh.commands.runtime.Shell` on an SSH channel.

What exec, script and interactive sessions have in common, whichever kind
:mod:`omsh.ssh.session` chose: a shell wired to the channel
(:func:`make_shell`), command lines run in a worker thread
(:func:`run_line`), and the start in the user's home (:func:`start_in_home`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import asyncssh

from omsh.commands.base import Ask, ShellSession
from omsh.commands.output import InputStream, Output
from omsh.commands.runtime import Shell
from omsh.errors import OmshError
from omsh.ssh.channel import ChannelSink, Interrupt
from omsh.ssh.context import ServerContext
from omsh.ssh.pager import TerminalPager
from omsh.store.admin import start_container
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

log = logging.getLogger(__name__)


def make_shell(
    context: ServerContext,
    process: asyncssh.SSHServerProcess[bytes],
    session: ShellSession,
    *,
    stdin: InputStream,
    interrupt: Interrupt | None = None,
    ask_secret: Callable[[str], str] | None = None,
    ask: Ask | None = None,
    pager: TerminalPager | None = None,
) -> Shell:
    """A :class:`Shell` wired to *process*'s channel.

    With a PTY, errors go to the channel's stdout, as fd 1 and 2 share a tty
    under sshd: stdout and stderr are separate SSH streams that the client
    writes out independently, so an error could land after the next prompt.
    With a *pager* (the interactive shell's), both go through it, as
    ``cmd 2>&1 | less`` would.  Colours are on with a PTY unless the client
    sent ``NO_COLOR`` (no-color.org; OpenSSH: ``-o SetEnv=NO_COLOR=1``).
    On a PTY both share the terminal's status line (a progress bar), which
    goes straight to the terminal, never into the pager, and is not drawn
    while the pager shows.  *interrupt* is the session's Ctrl-C; without
    one nothing interrupts.
    """
    loop = asyncio.get_running_loop()
    terminal = process.get_terminal_type() is not None
    width = process.get_terminal_size()[0] or 80
    color = terminal and not wants_no_color(process.env)
    screen: Callable[[bytes], None] = ChannelSink(loop, process.stdout, interrupt)
    out_sink = screen
    err_sink: Callable[[bytes], None] = ChannelSink(
        loop, process.stdout if terminal else process.stderr, interrupt
    )
    if pager is not None and terminal:
        out_sink = err_sink = pager.attach(out_sink)
    out = Output(out_sink, terminal=terminal, color=color, width=width)
    err = Output(err_sink, terminal=terminal, color=color, width=width)
    if terminal:
        out.partner, err.partner = err, out
        out.status_sink = screen
        if pager is not None:
            out.status_allowed = lambda: not pager.showing
    return Shell(
        context.store,
        context.registry,
        session,
        out,
        err,
        stdin,
        ask_secret=ask_secret,
        ask=ask,
        pager=pager.page if pager is not None and terminal else None,
        interrupt=interrupt,
    )


def wants_no_color(env: Mapping[str, str]) -> bool:
    """Whether the client's environment asks for no colour: ``NO_COLOR`` set and not empty."""
    return bool(env.get("NO_COLOR"))


async def run_line(context: ServerContext, shell: Shell, line: str) -> int:
    """Run one command line in a worker thread; a vanished client is status 1."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(context.executor, shell.execute, line)
    except OmshError as exc:
        log.info("session of %s ended early: %s", shell.session.user, exc)
        return exc.exit_status


async def start_in_home(context: ServerContext, session: ShellSession) -> None:
    """Put a new *session* in its user's home if that exists, else leave it at ``/``."""
    user = session.user

    def where(root: StoreRoot) -> str:
        return start_container(StoreView.for_user(root, user))

    with contextlib.suppress(OmshError):  # a removed account is refused by its command
        session.cwd = await context.read_quickly(where)
