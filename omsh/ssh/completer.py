"""Tab completion for the interactive shell.

:class:`ShellCompleter` is a prompt_toolkit completer that reads the command
line the way :func:`~omsh.commands.words.split_commands` does, so quoting,
escapes and ``;`` mean the same to completion as to execution.  What it
offers comes from the declarations commands already make (ARCHITECTURE §6.2):

* the first word of a command: command names from the registry;
* a word starting with ``-``: the flags of that command;
* a value: by the :class:`~omsh.commands.arguments.Complete` kind of the
  argument it fills: ``choices`` if declared, store paths for ``PATH`` and
  ``CONTAINER``, principal names for ``USER`` and ``GROUP``.

Paths and principals come from the store, and only what the user may see:
children by :meth:`~omsh.store.view.StoreView.children`, every principal
name only for administrators.  The store is synchronous
ZODB: wrap the completer in prompt_toolkit's ``ThreadedCompleter`` so a slow
lookup never blocks the event loop, and ask it on Tab rather than while
typing.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from zope.interface.registry import Components

from omsh.commands.arguments import Arg, Complete
from omsh.commands.base import Command, ShellSession
from omsh.commands.formatting import human_size, printable
from omsh.commands.registry import command_factories
from omsh.commands.runtime import expand_tilde
from omsh.commands.words import Word, split_commands
from omsh.errors import OmshError
from omsh.store.admin import known_principals
from omsh.store.database import Store
from omsh.store.model import Container, DataObject, StoreRoot
from omsh.store.names import normalize_path
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

T = TypeVar("T")

#: At most this many store entries are offered for one Tab.
MAX_COMPLETIONS = 500

# Marks the cursor while parsing: a character no typed line can hold.
_CURSOR = "\0"
# What a backslash must protect outside quotes: separators, quotes, wildcards
# and the shell operators that words.split_commands refuses (| & < > ` $).
_SPECIAL = re.compile(r"""[\s;'"\\*?\[|&<>`$]""")
# argparse actions that may be given more than once.
_REPEATABLE = ("append", "extend", "count")


@dataclass(frozen=True)
class LineContext:
    """Where the cursor is on a command line, as the completer sees it."""

    #: Words of the current command before the word being typed.
    words: list[Word]
    #: The word being typed, up to the cursor, with its quotes and escapes removed.
    current: Word
    #: The quote left open at the cursor (``'`` or ``"``), if any.
    quote: str | None = None
    #: Whether the cursor follows a backslash that escapes the next character.
    escaped: bool = False

    def after(self, head: str) -> LineContext | None:
        """The context of what follows *head* in the current word (``--in=``…).

        ``None`` unless the word starts with *head*, typed without quotes.
        """
        offset = len(head)
        quoted = self.current.quoted_positions
        if not self.current.startswith(head) or any(p < offset for p in quoted):
            return None
        rest = Word(self.current[offset:], frozenset(p - offset for p in quoted))
        return LineContext([*self.words, Word(head)], rest, self.quote, self.escaped)

    def continuation(self, value: str) -> str:
        """What to type at the cursor so that the current word becomes *value*.

        *value* must start with :attr:`current`.  The rest is written to fit
        where the cursor is, as bash does: inside an open quote it stays in
        that quote (which is then closed), elsewhere backslashes protect
        spaces, quotes and wildcards.  What was typed is never rewritten.
        """
        rest = value[len(self.current) :]
        head = ""
        if self.escaped and rest:  # the backslash before the cursor covers one character
            head, rest = rest[0], rest[1:]
        if self.quote == "'":
            return head + rest.replace("'", "'\\''") + "'"
        if self.quote == '"':
            return head + rest.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return head + _SPECIAL.sub(lambda match: "\\" + match.group(), rest)


def line_context(text: str) -> LineContext | None:
    """Split *text* (the line up to the cursor) into command words and the current word.

    An unterminated quote or a trailing backslash in the current word is
    what typing looks like, not an error: the word is read as if it were
    closed.  Returns ``None`` only for text that cannot be read at all.
    """
    for closer in ("", '"', "'"):
        try:
            commands = split_commands(text + _CURSOR + closer)
        except OmshError:
            continue
        words = commands[-1]
        last = words[-1]
        cursor = len(last) - 1
        current = Word(last[:cursor], frozenset(p for p in last.quoted_positions if p < cursor))
        escaped = not closer and cursor in last.quoted_positions
        return LineContext(words[:-1], current, closer or None, escaped)
    return None


class ShellCompleter(Completer):
    """Completes command names, flags, store paths and principals for one session."""

    def __init__(self, store: Store, registry: Components, session: ShellSession) -> None:
        self.store = store
        self.registry = registry
        #: Read at every completion: the working container changes with ``cd``.
        self.session = session

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        context = line_context(document.text_before_cursor)
        if context is None:
            return
        try:
            yield from self._complete(context)
        except OmshError:
            return  # e.g. the account was removed: nothing to offer
        except Exception:  # completion is best effort; never break the prompt
            log.exception("completion failed for %r", document.text_before_cursor)

    def _factories(self) -> dict[str, type[Command]]:
        """Every command name (aliases too) and its class, as registered now."""
        return command_factories(self.registry)

    def _complete(self, context: LineContext) -> Iterator[Completion]:
        if not context.words:
            yield from self._command_names(context)
            return
        factory = self._factories().get(str(context.words[0]))
        if factory is None:
            return
        declared = factory.arguments
        target = pending_argument(declared, context.words[1:], context.current)
        if target is FLAGS:
            flag, equals, _ = context.current.partition("=")
            option = next((item for item in declared if flag in item.flags), None)
            value = context.after(flag + equals) if equals else None
            if value is not None and option is not None and option.takes_value:
                yield from self._values(value, option)
            else:
                yield from self._flags(context, factory)
        elif isinstance(target, Arg):
            yield from self._values(context, target)

    def _command_names(self, context: LineContext) -> Iterator[Completion]:
        factories = self._factories()
        for name in sorted(factories):
            if name.startswith(context.current):
                yield self._completion(context, name, meta=factories[name].summary)

    def _flags(self, context: LineContext, factory: type[Command]) -> Iterator[Completion]:
        """Flags not given yet (repeatable ones always), with their help as meta.

        They are read from the parser built from the command's declaration,
        so ``-h``, ``--help`` and ``--json`` come along.
        """
        declared = {flag: item for item in factory.arguments for flag in item.flags}
        used = {word.partition("=")[0] for word in context.words}
        for flag, action in factory.parser()._option_string_actions.items():
            item = declared.get(flag)
            repeatable = item is not None and item.options.get("action") in _REPEATABLE
            if flag.startswith(context.current) and (repeatable or flag not in used):
                yield self._completion(context, flag, meta=action.help or "")

    def _values(self, context: LineContext, target: Arg) -> Iterator[Completion]:
        """Values for *target*: its choices, or what its ``complete`` kind names."""
        choices = target.options.get("choices")
        if choices:
            for choice in map(str, choices):
                if choice.startswith(context.current):
                    yield self._completion(context, choice)
        elif target.complete is Complete.COMMAND:
            yield from self._command_names(context)
        elif target.complete in (Complete.PATH, Complete.CONTAINER):
            yield from self._paths(context, containers_only=target.complete is Complete.CONTAINER)
        elif target.complete in (Complete.USER, Complete.GROUP):
            yield from self._principals(context, groups=target.complete is Complete.GROUP)

    def _paths(self, context: LineContext, *, containers_only: bool) -> Iterator[Completion]:
        typed = str(context.current)
        if context.current.glob_pattern is not None:
            return  # a wildcard is expanded when the command runs, not here
        directory, slash, prefix = typed.rpartition("/")
        lookup = (directory or "/") if slash else "."
        if slash and directory.startswith("~"):  # ~/x and ~bob/x look in a home, as they run
            quoted = frozenset(p for p in context.current.quoted_positions if p < len(directory))
            lookup = str(expand_tilde(Word(directory, quoted), self.session.user))
        cwd = self.session.cwd

        def collect(view: StoreView) -> list[tuple[str, bool, str]]:
            container = view.lookup(normalize_path(lookup, cwd))
            if not isinstance(container, Container):
                return []
            found: list[tuple[str, bool, str]] = []
            for name, child in view.children(container, lookup, after=_just_before(prefix)):
                if not name.startswith(prefix):
                    if name > prefix:
                        break  # names come sorted: no later one can match
                    continue
                if name.startswith(".") and not prefix.startswith("."):
                    continue
                is_container = isinstance(child, Container)
                if containers_only and not is_container:
                    continue
                size = human_size(child.size) if isinstance(child, DataObject) else "container"
                found.append((name, is_container, size))
                if len(found) >= MAX_COMPLETIONS:
                    break
            return found

        for name, is_container, meta in self._read(collect):
            suffix = "/" if is_container else ""
            yield self._completion(
                context,
                f"{directory}{slash}{name}{suffix}",
                display=printable(name) + suffix,
                meta=meta,
            )

    def _principals(self, context: LineContext, *, groups: bool) -> Iterator[Completion]:
        """User or group names the caller may know of (see :func:`known_principals`)."""
        prefix = str(context.current)

        def collect(view: StoreView) -> list[str]:
            return known_principals(view, prefix, groups=groups, limit=MAX_COMPLETIONS)

        for name in self._read(collect):
            yield self._completion(context, name, meta="group" if groups else "user")

    def _read(self, work: Callable[[StoreView], T]) -> T:
        """Run *work* in a read transaction as the session's user."""
        user = self.session.user

        def run(root: StoreRoot) -> T:
            return work(StoreView.for_user(root, user))

        return self.store.read(run)

    @staticmethod
    def _completion(
        context: LineContext, value: str, *, display: str | None = None, meta: str = ""
    ) -> Completion:
        """A completion that turns the word being typed into *value*."""
        return Completion(
            context.continuation(value),
            display=display or printable(value),
            display_meta=meta,
        )


def _just_before(prefix: str) -> str | None:
    """A name that sorts just before every name starting with *prefix*.

    Listing from there skips the names that cannot match, so completing in a
    large container does not walk it from the start.
    """
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) - 1)


class _Flags:
    """Marker: the word being typed is a flag."""

    def __repr__(self) -> str:
        return "FLAGS"


FLAGS = _Flags()


def pending_argument(
    declared: Iterable[Arg], words: list[Word], current: str
) -> Arg | _Flags | None:
    """Which declared argument the word being typed fills, or :data:`FLAGS`.

    *words* are the command's words after its name and before the current
    one.  Follows argparse's reading closely enough for completion: an option
    that takes a value claims the next word (every following word, for
    ``nargs`` ``*``/``+``, until the next flag); other words fill the
    positional arguments in order; after ``--`` everything is positional.
    """
    declared = list(declared)
    options = {flag: item for item in declared if not item.is_positional for flag in item.flags}
    positionals = [item for item in declared if item.is_positional]
    expecting: Arg | None = None
    position = 0
    only_positionals = False
    for word in words:
        if not only_positionals and word == "--":
            only_positionals, expecting = True, None
        elif not only_positionals and _is_flag(word):
            flag, equals, _ = word.partition("=")
            option = options.get(flag)
            expecting = option if option and option.takes_value and not equals else None
        elif expecting is not None:
            if expecting.options.get("nargs") not in ("*", "+"):
                expecting = None
        else:
            position += 1
    if not only_positionals and current.startswith("-"):
        return FLAGS
    if expecting is not None:
        return expecting
    return _positional_at(positionals, position)


def _is_flag(word: str) -> bool:
    return word.startswith("-") and word != "-"


def _positional_at(positionals: list[Arg], position: int) -> Arg | None:
    """The positional argument that the word at *position* (0-based) fills."""
    for item in positionals:
        nargs = item.options.get("nargs")
        if nargs in ("*", "+", argparse.REMAINDER):
            return item
        count = nargs if isinstance(nargs, int) else 1
        if position < count:
            return item
        position -= count
    return None
