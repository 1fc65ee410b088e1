"""The interactive shell: prompt_toolkit over an SSH channel with a PTY.

prompt_toolkit reads keystrokes that a pump task takes from the channel and
keeps in memory (:mod:`omsh.ssh.keyinput`: whatever is typed ahead, before
the first prompt, while a command runs or after the key that quits the
pager, waits for the next prompt), and renders to the channel through a
``Vt100_Output``.  The prompt
is pgcli-like: completion (:mod:`omsh.ssh.completer`, in a thread so store
lookups never block the event loop), colouring (:mod:`omsh.ssh.lexer`),
bash-like keys (:mod:`omsh.ssh.keybindings`), a bottom toolbar
(:mod:`omsh.ssh.toolbar`) and a per-user history that never records a line
that may hold a secret (:mod:`omsh.ssh.history`).  As in bash, ``!!``,
``!N``, ``!-N``, ``!$`` and ``!PREFIX`` are expanded before a line runs (the
expanded line is echoed and recorded), and a paste of several lines runs
them one by one, each echoed after a prompt as if typed.  Output longer
than the screen goes through the built-in pager (:mod:`omsh.ssh.pager`).
``NO_COLOR`` in the session's environment turns every colour off.

Commands run in a worker thread exactly as in exec sessions.  While one
runs, Ctrl-C sets the session's :class:`~omsh.ssh.channel.Interrupt` instead
of reaching the prompt, so a long ``cat`` stops between chunks; as on a
terminal, what was typed ahead before it is dropped.  A command
that needs a secret (``passwd``) asks through a second prompt session with
no history at all, and Ctrl-C there cancels the command.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Callable, Collection
from typing import TextIO, cast

import asyncssh
from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, ThreadedCompleter
from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText, StyleAndTextTuples
from prompt_toolkit.history import DummyHistory, History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout.processors import PasswordProcessor
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.styles import BaseStyle

from omsh import __version__
from omsh.commands.base import ShellSession
from omsh.commands.formatting import printable
from omsh.commands.runtime import Shell
from omsh.errors import OmshError
from omsh.ssh.channel import EmptySource, Interrupt
from omsh.ssh.completer import ShellCompleter
from omsh.ssh.context import ServerContext
from omsh.ssh.history import EventNotFound, PromptHistory, SessionHistory, expand_history
from omsh.ssh.keybindings import shell_key_bindings
from omsh.ssh.keyinput import ChannelKeys
from omsh.ssh.lexer import OmshLexer
from omsh.ssh.pager import TerminalPager, pager_disabled
from omsh.ssh.shell import make_shell, run_line, start_in_home, wants_no_color
from omsh.ssh.style import SHELL_STYLE, shell_style
from omsh.ssh.toolbar import Toolbar

CTRL_C = "\x03"
WELCOME = "type 'help' to list commands, Tab to complete, Ctrl-D to exit"
#: Shown after output that did not end with a newline: a reverse-video '%'.
MISSING_NEWLINE_MARK = "\x1b[7m%\x1b[27m"


class _ChannelText:
    """The text stream prompt_toolkit renders into: UTF-8 onto the channel."""

    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self._process = process

    def write(self, data: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, asyncssh.Error):
            text = data.replace("\r\n", "\n").replace("\n", "\r\n")
            self._process.stdout.write(text.encode("utf-8"))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"


def prompt_message(session: ShellSession) -> FormattedText:
    """``USER@omsh:CWD$ ``, coloured; control characters in names are shown escaped."""
    return FormattedText(
        [
            ("class:prompt.user", session.user),
            ("class:prompt.host", "@omsh"),
            ("class:prompt", ":"),
            ("class:prompt.cwd", printable(session.cwd)),
            ("class:prompt", "$ "),
        ]
    )


class ReportingCompleter(ThreadedCompleter):
    """prompt_toolkit's ``ThreadedCompleter`` (the store is read in a worker) that
    calls *done* once each completion has been produced, landed or abandoned."""

    def __init__(self, completer: Completer, done: Callable[[], None]) -> None:
        super().__init__(completer)
        self._done = done

    async def get_completions_async(
        self, document: Document, complete_event: CompleteEvent
    ) -> AsyncGenerator[Completion, None]:
        try:
            async for completion in super().get_completions_async(document, complete_event):
                yield completion
        finally:
            # prompt_toolkit applies the completions in the same step, before
            # anything *done* schedules on the loop runs.
            self._done()


def command_prompt(
    keys: Input,
    output: Output,
    completer: Completer,
    history: History,
    toolbar: Callable[[], StyleAndTextTuples] | None = None,
    command_names: Collection[str] | None = None,
    *,
    key_bindings: KeyBindings | None = None,
    style: BaseStyle = SHELL_STYLE,
    completion_done: Callable[[], None] | None = None,
) -> PromptSession[str]:
    """The prompt session for command lines, with every part wired in.

    With *command_names*, a command word naming none of them is coloured as
    an error while it is typed.  *completion_done* is called as each
    completion has been applied (:class:`ReportingCompleter`).

    The editor, system-command and suspend features stay off: they would
    act on the server, not on the user's machine.
    """
    return PromptSession(
        input=keys,
        output=output,
        history=history,
        completer=(
            ThreadedCompleter(completer)
            if completion_done is None
            else ReportingCompleter(completer, completion_done)
        ),
        # Tab-driven, as in bash: a completion started by typing would
        # still be running when a quick Tab arrives, and swallow it.
        complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(),
        lexer=PygmentsLexer(
            OmshLexer if command_names is None else OmshLexer.knowing(command_names)
        ),
        style=style,
        include_default_pygments_style=False,
        key_bindings=key_bindings if key_bindings is not None else shell_key_bindings(),
        bottom_toolbar=toolbar,
        enable_open_in_editor=False,
        enable_system_prompt=False,
        enable_suspend=False,
    )


async def run_interactive(
    context: ServerContext, process: asyncssh.SSHServerProcess[bytes], user: str
) -> int:
    """Prompt, run, repeat until ``exit`` or end-of-file; returns the last status."""
    return await InteractiveShell(context, process, user).run()


class InteractiveShell:
    """One interactive session: prompts, the keystroke pump and the command loop."""

    def __init__(
        self, context: ServerContext, process: asyncssh.SSHServerProcess[bytes], user: str
    ) -> None:
        self._context = context
        self._process = process
        self._loop = asyncio.get_running_loop()
        self.session = ShellSession(
            user=user, interactive=True, history=context.histories.setdefault(user, [])
        )
        self.toolbar = Toolbar(self.session)
        self._history = SessionHistory(self.session.history)
        self._interrupt = Interrupt()
        self._command_running = False
        self._asking = False
        color = not wants_no_color(process.env)
        self._style = shell_style(color)
        screen = _ChannelText(process)
        self._output = Vt100_Output(
            cast(TextIO, screen),
            self._terminal_size,
            term=process.get_terminal_type(),
            default_color_depth=None if color else ColorDepth.DEPTH_1_BIT,
            # Cursor position reports tell prompt_toolkit how many rows are
            # below the prompt; without them it never draws the toolbar.
            enable_cpr=True,
        )
        self._pager = (
            None
            if pager_disabled(process.env)
            else TerminalPager(self._loop, screen.write, self._terminal_size)
        )
        #: Lines of a paste still to run, and the unfinished last one.
        self._pasted: deque[str] = deque()
        self._pasted_rest = ""

    def _terminal_size(self) -> Size:
        width, height = self._process.get_terminal_size()[:2]
        return Size(rows=height or 24, columns=width or 80)

    async def run(self) -> int:
        await start_in_home(self._context, self.session)
        keys = ChannelKeys()
        completer = ShellCompleter(self._context.store, self._context.registry, self.session)
        prompt = command_prompt(
            keys,
            self._output,
            completer,
            PromptHistory(self.session.history),
            self.toolbar,
            command_names=completer.command_names(),
            key_bindings=shell_key_bindings(
                on_paste=self._paste, notify=self._notify, tab_done=keys.tab_done
            ),
            style=self._style,
            completion_done=keys.tab_done,
        )
        # Its own session, with a history that keeps nothing (a secret can
        # never come back with Up or Ctrl-R) and no echo, not even '*'s.
        secret_prompt: PromptSession[str] = PromptSession(
            input=keys,
            output=self._output,
            history=DummyHistory(),
            input_processors=[PasswordProcessor(char="")],
            style=self._style,
        )
        # Questions (rm's "[y/N]") echo, and their answers are no history either.
        question_prompt: PromptSession[str] = PromptSession(
            input=keys, output=self._output, history=DummyHistory(), style=self._style
        )
        shell = make_shell(
            self._context,
            self._process,
            self.session,
            stdin=EmptySource(),
            interrupt=self._interrupt,
            ask_secret=lambda message: self._ask_secret(secret_prompt, message),
            ask=lambda message: self._ask(question_prompt, message),
            pager=self._pager,
        )
        # prompt_toolkit's "current application" lives in an AppSession, and
        # the default one is shared by the whole process: with several
        # sessions on one event loop, print_formatted_text (the welcome,
        # echoed lines) saw another session's prompt as running and printed
        # through its run_in_terminal, which held up that prompt (typed keys
        # neither echoed nor run) and asked its terminal for a second cursor
        # report.  Each session gets its own, as prompt_toolkit's SSH server does.
        with create_app_session(input=keys, output=self._output):
            self._welcome()
            pump = asyncio.create_task(
                self._pump_keystrokes(keys, shell, (prompt, secret_prompt, question_prompt))
            )
            try:
                return await self._command_loop(prompt, keys, shell)
            finally:
                pump.cancel()
                if self._pager is not None:
                    self._pager.close()

    def _welcome(self) -> None:
        line = FormattedText(
            [("class:welcome.version", f"omsh {__version__}"), ("class:welcome", f" - {WELCOME}")]
        )
        print_formatted_text(line, output=self._output, style=self._style)

    def _start_on_a_fresh_line(self) -> None:
        """Put the cursor at the start of an empty line, as zsh does (PROMPT_SP).

        Output that did not end with a newline (``cat`` of such an object)
        leaves the cursor mid-line, and prompt_toolkit, which assumes column
        0, would draw over it.  A mark and width-1 spaces wrap onto a new
        line only if the cursor was not in column 0; a carriage return and
        erase-line then leave a clean line either way, and the mark shows
        where the output stopped.
        """
        columns = self._terminal_size().columns
        self._output.write_raw(f"{MISSING_NEWLINE_MARK}{' ' * (columns - 1)}\r\x1b[K")
        self._output.flush()

    async def _command_loop(
        self, prompt: PromptSession[str], keys: ChannelKeys, shell: Shell
    ) -> int:
        status = 0
        while not self.session.finished:
            self._start_on_a_fresh_line()
            if self._pasted:
                line = self._pasted.popleft()
                self._echo(prompt_message(self.session), line)
            else:
                rest, self._pasted_rest = self._pasted_rest, ""
                keys.tab_completes = True  # here only: the pager and questions complete nothing
                try:
                    line = await prompt.prompt_async(prompt_message(self.session), default=rest)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                finally:
                    keys.tab_completes = False
            status = await self._run_typed(shell, line, status)
        return status

    async def _run_typed(self, shell: Shell, line: str, status: int) -> int:
        """Expand *line*'s history references, record it and run it; returns the status.

        A blank line changes nothing; an unknown history event is reported
        and nothing runs (status 1), as in bash.
        """
        if not line.strip():
            return status
        self.toolbar.notice = ""
        try:
            expanded = expand_history(line, self.session.history)
        except EventNotFound as exc:
            self._echo([], f"omsh: {exc}")
            self.toolbar.last_status = exc.exit_status
            return exc.exit_status
        if expanded != line:
            self._echo([], expanded)  # bash shows what it is about to run
        if not self.session.history or self.session.history[-1] != expanded:
            self._history.append_string(expanded)
        self._interrupt.clear()
        self._command_running = True
        try:
            status = await run_line(self._context, shell, expanded)
        finally:
            self._command_running = False
        self.toolbar.last_status = status
        return status

    def _echo(self, message: StyleAndTextTuples, line: str = "") -> None:
        """Print *message* then *line* on a line of their own (a pasted line, an expansion)."""
        text = FormattedText([*message, ("", printable(line))])
        print_formatted_text(text, output=self._output, style=self._style)

    def _paste(self, lines: list[str], rest: str) -> None:
        """Queue a paste's lines after the first (which runs now); *rest* waits on the prompt."""
        self._pasted.extend(lines)
        self._pasted_rest = rest

    def _notify(self, notice: str) -> None:
        """Show *notice* in the toolbar until the next command."""
        self.toolbar.notice = notice

    def _ask(self, session: PromptSession[str], message: str) -> str | None:
        """Read a line with *session*; called by a command in its worker thread.

        None if the person pressed Ctrl-C or Ctrl-D instead of answering.
        """
        if self._pager is not None:
            self._pager.before_question()
        future = asyncio.run_coroutine_threadsafe(self._read_answer(session, message), self._loop)
        return future.result()

    def _ask_secret(self, secret_prompt: PromptSession[str], message: str) -> str:
        """Read a line without echo: no answer interrupts the command."""
        answer = self._ask(secret_prompt, message)
        if answer is None:
            raise OmshError("interrupted")
        return answer

    async def _read_answer(self, session: PromptSession[str], message: str) -> str | None:
        self._asking = True
        try:
            # Scheduled from the command's thread: a task of its own, in no
            # session's context; its AppSession is its own too.
            with create_app_session(input=session.input, output=self._output):
                return await session.prompt_async(message)
        except (KeyboardInterrupt, EOFError):
            return None
        finally:
            self._asking = False

    async def _pump_keystrokes(
        self, keys: ChannelKeys, shell: Shell, prompts: tuple[PromptSession[str], ...]
    ) -> None:
        """Feed the channel's bytes to prompt_toolkit until the client is gone.

        Ctrl-C while a command runs (and is not asking a question) becomes
        an interrupt and, as a terminal's line discipline does, drops what
        was typed ahead before it.  A window size change resizes command output and
        redraws whichever prompt is showing.
        """
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                data = await self._process.stdin.read(4096)
            except asyncssh.TerminalSizeChanged as change:
                shell.out.width = shell.err.width = change.width or 80
                if self._pager is not None:
                    self._pager.resize()
                for prompt in prompts:
                    if prompt.app.is_running:
                        # prompt_toolkit's own SIGWINCH handler; there is no public one.
                        prompt.app._on_resize()
                continue
            except (asyncssh.SignalReceived, asyncssh.BreakReceived):
                if self._command_running and not self._asking:
                    self._interrupt.set()  # a client's SIGINT, as Ctrl-C
                continue
            except (asyncssh.Error, ConnectionError):
                break
            if not data:
                break
            text = decoder.decode(data)
            if self._pager is not None and self._pager.showing:
                text = self._pager.feed_keys(text)  # what followed its quit is typeahead
            if self._command_running and not self._asking and CTRL_C in text:
                # As a terminal's SIGINT: what was typed ahead before it goes too.
                self._interrupt.set()
                keys.discard()
                self._pasted.clear()  # the rest of a pasted block, too
                self._pasted_rest = ""
                text = text.rpartition(CTRL_C)[2]
            if text:
                keys.send_text(text)
        keys.close()
