"""What a new session gets after login: exec, script or the interactive shell.

:func:`handle_session` is asyncssh's ``process_factory``; it looks at the
channel and picks the kind of session:

* ``ssh host CMD`` (exec): the command line runs once; stdin and stdout are
  streamed; the exit status follows ARCHITECTURE §6.2.  Escape codes appear only if
  the client asked for a PTY (``ssh -t``).
* ``ssh host`` with a PTY: the interactive prompt_toolkit shell
  (:mod:`omsh.ssh.interactive`).
* ``ssh host`` without a PTY (``ssh -T host < script``): each line of stdin
  is a command line, as ``sh`` reads a script.
* The ``sftp`` subsystem (and ``scp``) never come here: asyncssh hands those
  channels to :mod:`omsh.ssh.sftp`, wired in :func:`omsh.ssh.server.start_ssh_server`.

Every kind starts in the user's home, ``/home/USER``, if it exists, else at
``/`` (:func:`~omsh.ssh.shell.start_in_home`); what the shell sessions share
is in :mod:`omsh.ssh.shell`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncssh

from omsh.commands.base import ShellSession
from omsh.commands.runtime import EXIT_FAILURE
from omsh.errors import Cancelled
from omsh.ssh.channel import ChannelSource, EmptySource, Interrupt, SessionInput
from omsh.ssh.context import ServerContext
from omsh.ssh.interactive import run_interactive
from omsh.ssh.shell import make_shell, run_line, start_in_home

log = logging.getLogger(__name__)


async def handle_session(context: ServerContext, process: asyncssh.SSHServerProcess[bytes]) -> None:
    """asyncssh ``process_factory``: dispatch on the kind of session."""
    user = process.get_extra_info("username")
    status = EXIT_FAILURE
    try:
        if process.command is not None:
            status = await _run_command(context, process, user, process.command)
        elif process.get_terminal_type() is not None:
            status = await run_interactive(context, process, user)
        else:
            status = await _run_script(context, process, user)
    except Exception:
        log.exception("session of %r failed", user)
    finally:
        with contextlib.suppress(OSError, asyncssh.Error):
            process.exit(status)


async def _run_command(
    context: ServerContext, process: asyncssh.SSHServerProcess[bytes], user: str, line: str
) -> int:
    """``ssh host CMD``: one command line, with the channel's stdin.

    Stdin is read ahead (:class:`SessionInput`) so that a ``signal`` or
    ``break`` request, or Ctrl-C typed under ``ssh -t``, interrupts the
    command as SIGINT would under sshd: exit status 130.
    """
    session = ShellSession(user=user)
    await start_in_home(context, session)
    interrupt = Interrupt()
    tty = process.get_terminal_type() is not None
    pending_input = SessionInput(process.stdin, interrupt, tty=tty)
    stdin = ChannelSource(asyncio.get_running_loop(), pending_input, interrupt)
    try:
        shell = make_shell(context, process, session, stdin=stdin, interrupt=interrupt)
        return await run_line(context, shell, line)
    finally:
        pending_input.close()


async def _run_script(
    context: ServerContext, process: asyncssh.SSHServerProcess[bytes], user: str
) -> int:
    """Command lines read from stdin, one per line; commands get no stdin.

    A ``signal`` or ``break`` request ends the script as SIGINT ends ``sh``:
    no further line runs, exit status 130.  It is seen between lines (the
    command running when it came finishes first).
    """
    session = ShellSession(user=user)
    await start_in_home(context, session)
    shell = make_shell(context, process, session, stdin=EmptySource())
    status = 0
    while not shell.session.finished:
        try:
            raw = await process.stdin.readline()
        except (asyncssh.SignalReceived, asyncssh.BreakReceived):
            return Cancelled.exit_status
        except (asyncssh.Error, ConnectionError):
            break
        if not raw:
            break
        line = raw.decode("utf-8", "replace").strip()
        if line and not line.startswith("#"):
            status = await run_line(context, shell, line)
    return status
