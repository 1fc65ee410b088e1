"""The base class of every command and the per-call :class:`Invocation`."""

from __future__ import annotations

import argparse
import functools
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from zope.interface import implementer

from omsh.commands.arguments import Arg, CommandParser, build_parser, help_flags
from omsh.commands.formatting import render_table
from omsh.commands.interfaces import ICommand
from omsh.commands.output import InputStream, Output
from omsh.commands.words import Word
from omsh.errors import Cancelled, OmshError, PermissionDenied, UsageError
from omsh.store.asof import HistoricalView, When
from omsh.store.view import StoreView

if TYPE_CHECKING:
    from zope.interface.registry import Components

    from omsh.commands.registry import Location
    from omsh.store.database import Store

T = TypeVar("T")

#: Asks the person a question and returns the line they answered, or None
#: at end of input (no one to ask, Ctrl-D).
Ask = Callable[[str], str | None]


class Interrupt:
    """A session's Ctrl-C: set by the front end, checked by the running command.

    A command runs in a worker thread and cannot be killed, so cancellation
    is cooperative: the front end sets the flag (a Ctrl-C typed at the
    prompt, a ``signal``/``break`` request, ``0x03`` on an exec PTY) and the
    command notices it at its next check (:meth:`Invocation.check_cancelled`,
    every output write and stdin read on an SSH channel), which raises
    :class:`~omsh.errors.Cancelled`.  The flag stays set until the runtime
    has reported the cancellation, so every later check of the same command
    fails too and nothing can swallow it.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`~omsh.errors.Cancelled` if the flag is set."""
        if self._event.is_set():
            raise Cancelled()


@dataclass
class ShellSession:
    """What a shell remembers between commands: who, where, what was typed."""

    user: str
    cwd: str = "/"
    previous_cwd: str | None = None
    history: list[str] = field(default_factory=list)
    interactive: bool = False
    finished: bool = False


@dataclass
class Invocation:
    """Everything one run of one command may use."""

    name: str
    args: argparse.Namespace
    session: ShellSession
    store: Store
    registry: Components
    out: Output
    err: Output
    stdin: InputStream
    #: Asks the person at the terminal for a secret without echo (None in exec).
    ask_secret: Callable[[str], str] | None = None
    #: Asks a question with echo: the prompt at the terminal, or answers
    #: read from stdin in exec mode (as coreutils ``rm -i`` does).
    ask: Ask | None = None
    #: The session's Ctrl-C (None where nothing can interrupt: tests, offline).
    interrupt: Interrupt | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def terminal(self) -> bool:
        """Whether a person is at a terminal (a PTY), as output colouring decides."""
        return self.out.terminal

    def check_cancelled(self) -> None:
        """Raise :class:`~omsh.errors.Cancelled` if the person has pressed Ctrl-C.

        Call it in every loop that may run long without output (over
        objects, over content chunks): output and stdin check on their own.
        """
        if self.interrupt is not None:
            self.interrupt.check()

    def checked(self, items: Iterable[T]) -> Iterator[T]:
        """*items*, with a Ctrl-C check before each (for loops without output)."""
        for item in items:
            self.check_cancelled()
            yield item

    def confirm(self, question: str) -> bool:
        """Ask *question* with ``[y/N]``: only ``y`` or ``yes`` (any case) is yes.

        Anything else, end of input or no way to ask at all is no.
        """
        self.out.flush()
        answer = self.ask(f"{question} [y/N] ") if self.ask is not None else None
        return answer is not None and answer.strip().lower() in ("y", "yes")

    def view(self, work: Callable[[StoreView], T], *, write: bool = False) -> T:
        """Run *work* with a :class:`StoreView` for the session's user.

        Reads abort, writes commit; conflicts are retried by the store, so
        *work* must not have side effects outside the transaction.  With
        ``--at`` it runs on the tree as of then (:mod:`omsh.store.asof`),
        read-only.
        """
        user = self.session.user
        if self.at is None:
            return self.store.run(lambda root: work(StoreView.for_user(root, user)), write=write)
        if write:
            raise PermissionDenied(None, "the past is read-only")

        def stamped(view: StoreView) -> T:
            if isinstance(view, HistoricalView):  # --json marks what it read as of
                self.out.stamp = {"at": view.tid.hex()}
            return work(view)

        return self.store.read_as(user, self.at, stamped)

    @property
    def at(self) -> When | None:
        """The ``--at`` this command reads as of, if it has one and it was given."""
        return getattr(self.args, "at", None)

    def emit(self, document: object, text: str) -> None:
        """One result: its JSON *document* with ``--json``, else a line of *text*."""
        if self.json:
            self.out.json(document)
        else:
            self.out.line(text)

    def listing(
        self,
        documents: list[dict[str, Any]],
        headers: Sequence[str],
        row: Callable[[dict[str, Any]], list[str]],
        right_aligned: frozenset[int] = frozenset(),
    ) -> None:
        """Many results: JSON lines with ``--json``, else a table of one *row* per document."""
        if self.json:
            for document in documents:
                self.out.json(document)
        else:
            rows = [row(document) for document in documents]
            render_table(self.out, rows, headers=headers, right_aligned=right_aligned)

    def warn(self, message: str) -> None:
        """A non-fatal one-line complaint on stderr, in the standard form."""
        self.err.line(f"omsh: {self.name}: {message}")

    def each(self, items: Iterable[T], action: Callable[[T], object]) -> int | None:
        """Apply *action* to every item, going on past failures, like ``rm a b c``.

        An :class:`OmshError` for one item is reported as a warning and the
        rest still run; a Ctrl-C (:class:`~omsh.errors.Cancelled`) stops
        them all, leaving the items already done as they are.  Returns the
        worst exit status among the failures, or ``None`` when every item
        succeeded.
        """
        worst = 0
        for item in items:
            self.check_cancelled()
            try:
                action(item)
            except Cancelled:
                raise
            except OmshError as exc:
                self.out.flush()
                self.warn(str(exc))
                self.err.flush()
                worst = max(worst, exc.exit_status)
        return worst or None


@implementer(ICommand)
class Command:
    """Base for commands: declare ``name``, ``summary``, ``arguments``; write ``run``."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    arguments: ClassVar[tuple[Arg, ...]] = ()
    #: Text shown after the argument list by ``--help``/``help``: forms of a
    #: command with sub-actions, accepted spellings, the JSON shape.
    details: ClassVar[str] = ""

    def __init__(self, location: Location) -> None:
        self.location = location

    @classmethod
    def parser(cls) -> CommandParser:
        # mypy takes a type[...] for unhashable (python/mypy#11470).
        return _parser_for(cls)  # type: ignore[arg-type]

    @classmethod
    def help_text(cls) -> str:
        text = cls.parser().format_help()
        if cls.details:
            text += "\n" + textwrap.dedent(cls.details).strip("\n") + "\n"
        return text

    def run(self, invocation: Invocation) -> int | None:
        raise NotImplementedError


@functools.cache
def _parser_for(cls: type[Command]) -> CommandParser:
    return build_parser(cls.name, cls.summary, cls.arguments)


#: argparse's intermixed parsing changes the (shared, cached) parser while it
#: runs, so two sessions parsing the same command at once could see each
#: other's half-changed parser (rclone runs eight ``md5sum`` in parallel).
_PARSING = threading.Lock()


def parse_arguments(cls: type[Command], words: list[str]) -> argparse.Namespace:
    """Parse *words* (without the command name) or raise ``UsageError``."""
    parser = cls.parser()
    words = _split_option_values(parser, words)
    try:
        # Intermixed, so options may follow positionals (`rm a -r b`, `key rm
        # --json 2`); but Python 3.11's intermixed parsing loses `--`, so a
        # line with `--` is parsed the classic way (options first).
        with _PARSING:
            if "--" in words:
                args, extras = parser.parse_known_args(words)
            else:
                args, extras = parser.parse_known_intermixed_args(words)
    except UsageError:
        if any(flag in words for flag in help_flags(cls.arguments)):
            return argparse.Namespace(help=True, json=False)
        raise
    if extras and not args.help:
        raise parser.unrecognized(extras)
    return args


def _split_option_values(parser: CommandParser, words: list[str]) -> list[str]:
    """Give ``--opt=value`` to argparse as two words so the value stays a Word.

    argparse splits ``--opt=value`` itself but hands on a plain ``str``,
    which forgets what was quoted: a quoted ``*`` in a path option is literal.
    Words after ``--``, unknown options and values that look like options are
    left to argparse as they are.
    """
    result: list[str] = []
    for index, word in enumerate(words):
        if word == "--":
            result.extend(words[index:])
            break
        flag, equals, value = word.partition("=")
        if (
            equals
            and flag.startswith("--")
            and flag in parser._option_string_actions
            and not value.startswith("-")
        ):
            offset = len(flag) + 1
            quoted: frozenset[int] = getattr(word, "quoted_positions", frozenset())
            shifted = frozenset(position - offset for position in quoted if position >= offset)
            result += [Word(flag), Word(value, shifted)]
        else:
            result.append(word)
    return result
