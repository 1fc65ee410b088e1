"""What happens after login: exec, script and interactive sessions.

* ``ssh host CMD`` (exec): the command line runs once; stdin and stdout are
  streamed; the exit status follows DESIGN §3.  Escape codes appear only if
  the client asked for a PTY (``ssh -t``).
* ``ssh host`` with a PTY: the interactive prompt_toolkit shell.
* ``ssh host`` without a PTY (``ssh -T host < script``): each line of stdin
  is a command line, as ``sh`` reads a script.

Every kind starts in the user's home, ``/home/USER``, if it exists, else at
``/`` (:func:`start_in_home`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

import asyncssh
from zope.interface.registry import Components

from omsh.authn import Authenticator
from omsh.commands.base import Ask, ShellSession
from omsh.commands.output import InputStream, Output
from omsh.commands.runtime import EXIT_FAILURE, Shell
from omsh.errors import OmshError
from omsh.ssh.channel import ChannelSink, ChannelSource, EmptySource, Interrupt
from omsh.store.admin import start_container
from omsh.store.commits import GroupCommit
from omsh.store.database import Store
from omsh.store.loopreads import LoopReader, is_local
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class ServerContext:
    """What every session of one server shares."""

    store: Store
    registry: Components
    authenticator: Authenticator
    executor: Executor
    #: Per-user shell histories kept for the life of the server process.
    histories: dict[str, list[str]] = field(default_factory=dict)
    _group: GroupCommit | None = None
    _loop_reader: LoopReader | None = None

    @property
    def group(self) -> GroupCommit:
        """The group committer SFTP sessions share (created on first use, on the loop)."""
        if self._group is None:
            loop = asyncio.get_running_loop()
            executor = self.executor
            self._group = GroupCommit(self.store, lambda func: loop.run_in_executor(executor, func))
        return self._group

    @property
    def loop_reader(self) -> LoopReader | None:
        """Cheap reads on the event loop (SFTP ``stat``), for local storages only."""
        if self._loop_reader is None and is_local(self.store.db.storage):
            self._loop_reader = LoopReader(self.store)
        return self._loop_reader

    async def read_quickly(self, work: Callable[[StoreRoot], T]) -> T:
        """A short read: on the event loop for local storages (see
        :mod:`omsh.store.loopreads`), else in a worker, as a storage may be remote."""
        reader = self.loop_reader
        if reader is not None:
            return reader.read(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.store.read, work)

    def close(self) -> None:
        """Let go of the loop's connection; before the store closes."""
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None


def make_shell(
    context: ServerContext,
    process: asyncssh.SSHServerProcess[bytes],
    session: ShellSession,
    *,
    stdin: InputStream | None = None,
    interrupt: Interrupt | None = None,
    ask_secret: Callable[[str], str] | None = None,
    ask: Ask | None = None,
) -> Shell:
    """A :class:`Shell` wired to *process*'s channel.

    With a PTY, errors go to the channel's stdout, as fd 1 and 2 share a tty
    under sshd: stdout and stderr are separate SSH streams that the client
    writes out independently, so an error could land after the next prompt.
    """
    loop = asyncio.get_running_loop()
    terminal = process.get_terminal_type() is not None
    width = process.get_terminal_size()[0] or 80
    err_stream = process.stdout if terminal else process.stderr
    out = Output(ChannelSink(loop, process.stdout, interrupt), terminal=terminal, width=width)
    err = Output(ChannelSink(loop, err_stream, interrupt), terminal=terminal, width=width)
    source = stdin if stdin is not None else ChannelSource(loop, process.stdin, interrupt)
    return Shell(
        context.store, context.registry, session, out, err, source, ask_secret=ask_secret, ask=ask
    )


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


async def handle_session(context: ServerContext, process: asyncssh.SSHServerProcess[bytes]) -> None:
    """asyncssh ``process_factory``: dispatch on the kind of session."""
    user = process.get_extra_info("username")
    status = EXIT_FAILURE
    try:
        if process.command is not None:
            session = ShellSession(user=user)
            await start_in_home(context, session)
            shell = make_shell(context, process, session)
            status = await run_line(context, shell, process.command)
        elif process.get_terminal_type() is not None:
            from omsh.ssh.interactive import run_interactive

            status = await run_interactive(context, process, user)
        else:
            status = await _run_script(context, process, user)
    except Exception:
        log.exception("session of %r failed", user)
    finally:
        with contextlib.suppress(OSError, asyncssh.Error):
            process.exit(status)


async def _run_script(
    context: ServerContext, process: asyncssh.SSHServerProcess[bytes], user: str
) -> int:
    """Command lines read from stdin, one per line; commands get no stdin."""
    session = ShellSession(user=user)
    await start_in_home(context, session)
    shell = make_shell(context, process, session, stdin=EmptySource())
    status = 0
    while not shell.session.finished:
        try:
            raw = await process.stdin.readline()
        except (asyncssh.Error, ConnectionError):
            break
        if not raw:
            break
        line = raw.decode("utf-8", "replace").strip()
        if line and not line.startswith("#"):
            status = await run_line(context, shell, line)
    return status
