"""Running command lines: the one executor behind the shell and exec sessions.

:class:`Shell` takes a line, splits it into commands on ``;``, looks each up
in the registry, expands a leading ``~`` in every word (:func:`expand_tilde`),
parses its arguments, expands wildcards in path arguments, runs it and turns
any :class:`~omsh.errors.OmshError` into one line on stderr
and an exit status (ARCHITECTURE §6.2).  Anything else is a bug: the traceback
goes to the server log and the user sees one line.  It is synchronous and
meant to run in a worker thread; the front ends give it blocking I/O objects.

The options every command takes that are about output, ``--color WHEN`` and
``--no-pager``, are applied around each command (:meth:`Shell.output_for`);
a front end that pages (the interactive shell) hands in its pager as a
context manager.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import logging
import re
from collections.abc import Callable, Iterator

from zope.interface.registry import Components

from omsh.commands.arguments import Complete, close_matches, did_you_mean
from omsh.commands.base import (
    Ask,
    Command,
    Interrupt,
    Invocation,
    ShellSession,
    parse_arguments,
)
from omsh.commands.output import InputStream, Output
from omsh.commands.registry import Location, command_factories, lookup_command
from omsh.commands.words import Word, split_commands
from omsh.errors import Cancelled, NotFound, OmshError, UsageError
from omsh.store.database import Store
from omsh.store.model import Container
from omsh.store.names import normalize_path
from omsh.store.principals import home_path
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
#: A command stopped by Ctrl-C, as bash reports one killed by SIGINT.
EXIT_INTERRUPTED = Cancelled.exit_status

# How Word.glob_pattern writes a quoted (literal) wildcard character.
_ESCAPED_WILDCARD = re.compile(r"\[([*?[])\]")

#: Wraps one command whose output may be paged: the front end's pager.
Pager = Callable[[], contextlib.AbstractContextManager[None]]


class Shell:
    """Executes command lines for one session."""

    def __init__(
        self,
        store: Store,
        registry: Components,
        session: ShellSession,
        out: Output,
        err: Output,
        stdin: InputStream,
        ask_secret: Callable[[str], str] | None = None,
        ask: Ask | None = None,
        pager: Pager | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.session = session
        self.out = out
        self.err = err
        self.stdin = stdin
        self.ask_secret = ask_secret
        #: Without a front end's own way to ask, answers come from stdin.
        self.ask = ask if ask is not None else functools.partial(ask_on_streams, err, stdin)
        self.pager = pager
        #: What ``--color auto`` means: the session's own choice.
        self.auto_color = out.color
        #: Set by the front end on Ctrl-C; cleared once a cancellation is reported.
        self.interrupt = interrupt

    def execute(self, line: str) -> int:
        """Run every command on *line*; the status is the last command's."""
        status = EXIT_OK
        try:
            commands = split_commands(line)
        except UsageError as exc:
            return self._report("omsh", exc)
        for words in commands:
            status = self.run_words(words)
            # Ctrl-C abandons the rest of the line too, as in bash.
            if self.session.finished or status == EXIT_INTERRUPTED:
                break
        self.out.flush()
        self.err.flush()
        return status

    def run_words(self, words: list[Word]) -> int:
        name = str(words[0])
        try:
            location = self._location()
            command = lookup_command(self.registry, name, location)
            if command is None:
                raise NotFound(None, command_not_found(self.registry, name))
            factory: type[Command] = type(command)  # type: ignore[assignment]
            args = parse_arguments(
                factory, [expand_tilde(word, self.session.user) for word in words[1:]]
            )
            if args.help:
                self.out.write(factory.help_text())
                return EXIT_OK
            self._expand_wildcards(factory, args)
            _plain_strings(args)
            invocation = Invocation(
                name=name,
                args=args,
                session=self.session,
                store=self.store,
                registry=self.registry,
                out=self.out,
                err=self.err,
                stdin=self.stdin,
                ask_secret=self.ask_secret,
                ask=self.ask,
                interrupt=self.interrupt,
            )
            status = None
            with self.output_for(args):
                status = command.run(invocation)
            return EXIT_OK if status is None else status
        except Cancelled:
            return self._report_cancelled()
        except OmshError as exc:
            self.out.flush()
            return self._report(name, exc)
        except Exception:
            log.exception("command %r failed", name)
            self.out.flush()
            self.err.line(f"omsh: {name}: internal error (details are in the server log)")
            self.err.flush()
            return EXIT_FAILURE

    @contextlib.contextmanager
    def output_for(self, args: argparse.Namespace) -> Iterator[None]:
        """Apply one command's ``--color`` and ``--no-pager``; flush its output at the end.

        The flush is inside the pager, so everything the command wrote is
        paged; a pager the person quit early ends the command quietly.
        """
        when = getattr(args, "color", None)
        color = {"always": True, "never": False}.get(when or "auto", self.auto_color)
        self.out.color = self.err.color = color
        paging = (
            self.pager()
            if self.pager is not None and not getattr(args, "no_pager", False)
            else contextlib.nullcontext()
        )
        try:
            with paging:
                try:
                    yield
                finally:
                    self.out.flush()
                    self.err.flush()
        finally:
            self.out.color = self.err.color = self.auto_color
            self.out.stamp = {}

    def _report_cancelled(self) -> int:
        """Drop the interrupted command's unsent output; ``^C`` on a terminal; 130.

        The flag is cleared only now, so every check the command passed on
        its way out raised again; what is written here must not.  Without a
        terminal nothing is printed, as a program killed by SIGINT prints
        nothing: the exit status says it.
        """
        self.out.discard()
        self.err.discard()
        if self.interrupt is not None:
            self.interrupt.clear()
        if self.err.terminal:
            self.err.line("^C")  # after any partial line, as a tty echoes it; erases a bar
        self.err.flush()
        return EXIT_INTERRUPTED

    def _report(self, name: str, exc: OmshError) -> int:
        prefix = "omsh" if name == "omsh" else f"omsh: {name}"
        self.err.line(f"{prefix}: {exc}")
        self.err.flush()
        return exc.exit_status

    def _location(self) -> Location:
        """The working container as a :class:`Location`; falls back to ``/``."""
        cwd = self.session.cwd

        def locate(view: StoreView) -> Location:
            obj = view.lookup(cwd)
            if obj is None:
                obj = view.root.tree
            return Location.of(obj)

        return self.store.read(lambda root: locate(StoreView.for_user(root, self.session.user)))

    def _expand_wildcards(self, factory: type[Command], args: object) -> None:
        """Replace unquoted wildcards in path arguments by the matching paths."""
        path_args = [
            declared
            for declared in factory.arguments
            if declared.complete in (Complete.PATH, Complete.CONTAINER)
        ]
        pending = [
            declared
            for declared in path_args
            if any(
                isinstance(value, Word) and value.glob_pattern
                for value in _as_list(getattr(args, declared.dest, None))
            )
        ]
        if not pending:
            return

        def expand_all(view: StoreView) -> None:
            for declared in pending:
                value = getattr(args, declared.dest)
                if isinstance(value, list):
                    expanded: list[str] = []
                    for item in value:
                        expanded.extend(expand_wildcard(view, self.session.cwd, item))
                    setattr(args, declared.dest, expanded)
                else:
                    matches = expand_wildcard(view, self.session.cwd, value)
                    if len(matches) > 1:
                        raise UsageError(f"{value}: pattern matches {len(matches)} objects")
                    setattr(args, declared.dest, matches[0])

        # As the tree was then under --at.
        self.store.read_as(self.session.user, getattr(args, "at", None), expand_all)


def command_not_found(registry: Components, name: str) -> str:
    """``command not found; did you mean ls?``, or a pointer to ``help`` if nothing is close.

    Command names and aliases are candidates: a typo of either is common.
    """
    hint = did_you_mean(close_matches(name, command_factories(registry)))
    return f"command not found{hint}" if hint else "command not found (try 'help')"


def expand_tilde(word: Word, user: str) -> Word:
    """*word* with a leading unquoted ``~`` or ``~NAME`` replaced by that home, as sh does.

    ``~`` and ``~/x`` are the caller's home (``/home/USER``), ``~bob/x`` is
    ``/home/bob/x`` (whether bob may be seen there is the store's answer).
    Only a tilde prefix with no quoted character, up to the first ``/``, is
    expanded; ``'~'`` and ``a~b`` stay as they are.
    """
    if not word.startswith("~"):
        return word
    end = word.find("/")
    end = len(word) if end < 0 else end
    if any(position < end for position in word.quoted_positions):
        return word
    name = word[1:end] or user
    home = home_path(name)
    shift = len(home) - end
    return Word(home + word[end:], frozenset(p + shift for p in word.quoted_positions))


#: Bytes that end an answer typed on a raw terminal: Enter (CR or LF), Ctrl-C, Ctrl-D.
_ANSWER_ENDS = {b"\r": "line", b"\n": "line", b"\x03": "cancel", b"\x04": "eof"}
_ERASE = (b"\x7f", b"\x08")


def ask_on_streams(err: Output, stdin: InputStream, question: str) -> str | None:
    """Write *question* to *err* and read one answer line from *stdin*.

    Exec mode's way to ask (coreutils ``rm -i`` reads its answers from stdin
    too).  On a PTY nothing echoes for us (the client's terminal is raw), so
    the typed characters are echoed, backspace erases, Enter ends the line
    and Ctrl-C or Ctrl-D answer nothing.  None at end of input.
    """
    err.write(question)
    err.flush()
    typed = bytearray()
    while True:
        byte = stdin.read(1)
        end = _ANSWER_ENDS.get(byte) if byte else "eof"
        if end is not None:
            if err.terminal:
                err.write("\n")
                err.flush()
            if end == "cancel" or (end == "eof" and not typed):
                return None
            return typed.decode("utf-8", "replace")
        if byte in _ERASE:
            if typed:
                typed.pop()
                if err.terminal:
                    err.write("\b \b")
            continue
        typed += byte
        if err.terminal:
            err.write_bytes(byte)
            err.flush()


def _plain_strings(args: argparse.Namespace) -> None:
    """Turn the :class:`Word` values left in *args* into plain ``str``.

    A word's quoting matters only until wildcards are expanded; after that
    a command may store what it was given (a mimetype, an owner), and a
    stored ``Word`` would pickle its class into the database.
    """
    for name, value in vars(args).items():
        if isinstance(value, Word):
            setattr(args, name, str(value))
        elif isinstance(value, list) and any(isinstance(item, Word) for item in value):
            setattr(args, name, [str(item) if isinstance(item, Word) else item for item in value])


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def expand_wildcard(view: StoreView, cwd: str, word: str) -> list[str]:
    """Paths matching *word*'s unquoted wildcards, sorted; the word if none.

    Segments are matched against the names the caller may see; a name
    starting with ``.`` matches only a pattern that starts with ``.``, as in
    ``sh``.  The results keep the word's relative or absolute form.
    """
    pattern = word.glob_pattern if isinstance(word, Word) else None
    if pattern is None:
        return [word]
    absolute = pattern.startswith("/")
    segments = [segment for segment in pattern.split("/") if segment]
    candidates: list[tuple[str, str]] = [("/" if absolute else "", "/" if absolute else cwd)]
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        literal = not any(ch in _ESCAPED_WILDCARD.sub("", segment) for ch in "*?[")
        next_candidates: list[tuple[str, str]] = []
        for shown, real in candidates:
            if literal:
                name = _ESCAPED_WILDCARD.sub(lambda m: m.group(1), segment)
                next_candidates.append((_join(shown, name), _join(real, name)))
                continue
            try:
                container = view.lookup(normalize_path(real))
            except OmshError:
                continue
            if not isinstance(container, Container) or not view.can_list(container):
                continue
            # Only names the caller may see, as ls shows them.
            for name, child in view.children(container, real):
                if name.startswith(".") and not segment.startswith("."):
                    continue
                if fnmatch.fnmatchcase(name, segment):
                    if not is_last and not isinstance(child, Container):
                        continue
                    next_candidates.append((_join(shown, name), _join(real, name)))
        candidates = next_candidates
    matches = sorted(shown for shown, _ in candidates)
    return matches or [str(word)]


def _join(base: str, name: str) -> str:
    if not base:
        return name
    return f"{base.rstrip('/')}/{name}"
