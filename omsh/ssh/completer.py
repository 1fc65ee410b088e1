"""Tab completion for the interactive shell.

:class:`ShellCompleter` is a prompt_toolkit completer that reads the command
line the way :func:`~omsh.commands.words.split_commands` does, so quoting,
escapes and ``;`` mean the same to completion as to execution.  What it
offers comes from the declarations commands already make (ARCHITECTURE §6.2):

* the first word of a command: command names from the registry;
* a word starting with ``-``: the flags of that command;
* a value: by the :class:`~omsh.commands.arguments.Complete` kind of the
  argument it fills: ``choices`` if declared (and an argument's
  ``keywords``), store paths for ``PATH`` and ``CONTAINER``, principal names
  for ``USER`` and ``GROUP``, ``g:staff`` and ``OWNER@``-style principals,
  permission words, setfacl entries, metadata keys (``KEY=`` for
  ``KEY=VALUE``), query fields, and in a query expression the fields,
  operators and keywords that may come next (:func:`query_expectation`,
  read off the grammar in ``omsh/store/query.lark``, not a parse).

Paths, principals and metadata keys come from the store, and only what the
user may see: children by :meth:`~omsh.store.view.StoreView.children`,
every principal name only for administrators, metadata keys from the
catalog (:meth:`~omsh.store.view.StoreView.metadata_keys`: the keys objects
at or below the target have, never a walk of the tree).  Metadata keys
are looked for at the path the command's line already names (``set-meta
PATH``, ``find PATH``, ``query --in PATH``), else where the command would
look by default.  The store is synchronous
ZODB: wrap the completer in prompt_toolkit's ``ThreadedCompleter`` so a slow
lookup never blocks the event loop, and ask it on Tab rather than while
typing.
"""

from __future__ import annotations

import argparse
import itertools
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
from omsh.store.acl import PERM_LETTERS, PERM_WORDS, SPECIAL_IDENTIFIERS
from omsh.store.admin import known_principals
from omsh.store.database import Store
from omsh.store.index import SYSTEM_FIELDS
from omsh.store.model import Container, DataObject, StoreObject, StoreRoot
from omsh.store.names import normalize_path
from omsh.store.query import ALIASES
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
# Where a command looks: the arguments whose value scopes metadata keys.
_PLACES = (Complete.PATH, Complete.CONTAINER)
# Permission words, then letters, with what each stands for.
_PERMISSIONS = [(word, "permission") for word in PERM_WORDS] + [
    (letter, word) for letter, word in PERM_LETTERS.items()
]
_SPECIALS = [(name, "special principal") for name in SPECIAL_IDENTIFIERS]
# The kinds a principal may be spelled with, and whether each names a group.
_PRINCIPAL_KINDS = {"u": False, "user": False, "g": True, "group": True}


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

    def continuation(self, value: str, *, close: bool = True) -> str:
        """What to type at the cursor so that the current word becomes *value*.

        *value* must start with :attr:`current`.  The rest is written to fit
        where the cursor is, as bash does: inside an open quote it stays in
        that quote (which is then closed, unless not *close*: a query goes
        on after a completed field), elsewhere backslashes protect spaces,
        quotes and wildcards.  What was typed is never rewritten.
        """
        rest = value[len(self.current) :]
        head = ""
        if self.escaped and rest:  # the backslash before the cursor covers one character
            head, rest = rest[0], rest[1:]
        end = self.quote if close and self.quote else ""
        if self.quote == "'":
            return head + rest.replace("'", "'\\''") + end
        if self.quote == '"':
            return head + rest.replace("\\", "\\\\").replace('"', '\\"') + end
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

    def command_names(self) -> frozenset[str]:
        """Every command name and alias: what the lexer colours as a command."""
        return frozenset(self._factories())

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
                yield from self._values(value, option, factory)
            else:
                yield from self._flags(context, factory)
        elif isinstance(target, Arg):
            yield from self._values(context, target, factory)

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

    def _values(
        self, context: LineContext, target: Arg, factory: type[Command]
    ) -> Iterator[Completion]:
        """Values for *target*: its choices, or what its ``complete`` kind names."""
        choices = target.options.get("choices")
        kind = target.complete
        if choices:
            yield from self._offer(context, "", map(str, choices))
            return
        yield from self._offer(context, "", target.keywords)
        if kind is Complete.COMMAND:
            yield from self._command_names(context)
        elif kind in (Complete.PATH, Complete.CONTAINER):
            yield from self._paths(context, containers_only=kind is Complete.CONTAINER)
        elif kind in (Complete.USER, Complete.GROUP):
            yield from self._principals(context, groups=kind is Complete.GROUP)
        elif kind is Complete.PRINCIPAL:
            yield from self._principal_specs(context)
        elif kind is Complete.PERMS:
            head, _, _ = str(context.current).rpartition(",")
            yield from self._offer(context, head + "," if head else "", _PERMISSIONS, fold=True)
        elif kind in (Complete.FACL_ENTRY, Complete.FACL_NAME):
            yield from self._facl_entries(context, with_perms=kind is Complete.FACL_ENTRY)
        elif kind in (Complete.METADATA_KEY, Complete.METADATA_ITEM):
            yield from self._metadata_keys(context, factory, item=kind is Complete.METADATA_ITEM)
        elif kind in (Complete.FIELD, Complete.FIELDS):
            head = ""
            if kind is Complete.FIELDS:
                head, comma, _ = str(context.current).rpartition(",")
                head += comma
            partial = str(context.current)[len(head) :]
            yield from self._offer(context, head, self._fields(context, factory, partial))
        elif kind is Complete.QUERY:
            yield from self._query(context, factory)

    def _offer(
        self,
        context: LineContext,
        head: str,
        candidates: Iterable[str | tuple[str, str]],
        *,
        fold: bool = False,
        tail: str = "",
        close: bool = True,
    ) -> Iterator[Completion]:
        """Completions that make the word ``head + candidate + tail``, for those that fit.

        A candidate is a word or (word, meta).  It fits when it starts with
        what is typed after *head*; with *fold*, regardless of case, and
        then it is offered in lower case if that is how it is being typed
        (``an`` → ``and``, ``ev`` → ``everyone@``).
        """
        typed = str(context.current)
        if not typed.startswith(head):
            return
        partial = typed[len(head) :]
        for candidate in candidates:
            word, meta = candidate if isinstance(candidate, tuple) else (candidate, "")
            if fold:
                if not word.lower().startswith(partial.lower()):
                    continue
                if partial and partial == partial.lower() and partial != partial.upper():
                    word = word.lower()
                word = partial + word[len(partial) :]
            elif not word.startswith(partial):
                continue
            yield self._completion(
                context, head + word + tail, display=printable(word), meta=meta, close=close
            )

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

    def _principal_specs(self, context: LineContext) -> Iterator[Completion]:
        """``acl``'s PRINCIPAL: users, ``g:GROUP``, ``u:USER`` and the special principals."""
        typed = str(context.current)
        kind, colon, name = typed.partition(":")
        if colon:
            if kind in _PRINCIPAL_KINDS:
                groups = _PRINCIPAL_KINDS[kind]
                names = self._known(name, groups=groups)
                yield from self._offer(context, kind + ":", _labelled(names, groups))
            return
        yield from self._offer(context, "", _SPECIALS, fold=True)
        yield from self._offer(context, "", _labelled(self._known(typed, groups=False), False))
        if "g:".startswith(typed):  # nothing or "g" typed: the groups too, as g:NAME
            named = [(f"g:{name}", "group") for name in self._known("", groups=True)]
            yield from self._offer(context, "", named)

    def _facl_entries(self, context: LineContext, *, with_perms: bool) -> Iterator[Completion]:
        """setfacl's ``[d:]u:NAME[:PERMS]``, ``g:NAME``, ``o:``, ``SPECIAL@``, comma-separated."""
        typed = str(context.current)
        head, comma, piece = typed.rpartition(",")
        head += comma
        if head and with_perms:  # "u:bob:read,wr": a comma also separates permission words
            yield from self._offer(context, head, _PERMISSIONS, fold=True)
        for default in ("default:", "d:"):
            if piece.startswith(default):
                head, piece = head + default, piece[len(default) :]
                break
        else:
            yield from self._offer(context, head, [("d:", "a default entry")])
        end = ":" if with_perms else ""
        parts = piece.split(":")
        if len(parts) == 1:
            heads = [("u:", "a user"), ("g:", "a group"), ("o:" + end, "everyone else")]
            yield from self._offer(context, head, heads)
            specials = [(word + end, meta) for word, meta in _SPECIALS]
            yield from self._offer(context, head, specials, fold=True)
        elif len(parts) == 2 and parts[0].upper() in SPECIAL_IDENTIFIERS and with_perms:
            yield from self._offer(context, f"{head}{parts[0]}:", _PERMISSIONS, fold=True)
        elif len(parts) == 2 and parts[0] in _PRINCIPAL_KINDS:
            groups = _PRINCIPAL_KINDS[parts[0]]
            names = _labelled(self._known(parts[1], groups=groups), groups)
            yield from self._offer(context, f"{head}{parts[0]}:", names, tail=end)
        elif len(parts) == 3 and with_perms:
            yield from self._offer(
                context, f"{head}{parts[0]}:{parts[1]}:", _PERMISSIONS, fold=True
            )

    def _known(self, prefix: str, *, groups: bool) -> list[str]:
        """User or group names starting with *prefix* the caller may know of."""
        return self._read(
            lambda view: known_principals(view, prefix, groups=groups, limit=MAX_COMPLETIONS)
        )

    def _scope(self, context: LineContext, factory: type[Command]) -> str:
        """Where the command being typed looks: metadata keys are sought there.

        The first path the line already gives (``set-meta PATH``, ``find
        PATH``, ``query --in PATH``), else that argument's default (find's
        ``.``), else the root, where ``query`` looks.
        """
        given = argument_values(factory.arguments, context.words[1:])
        places = [item for item in factory.arguments if item.complete in _PLACES]
        for item in places:
            if given.get(item.dest):
                return str(expand_tilde(given[item.dest][0], self.session.user))
        defaults = [item.options.get("default") for item in places]
        return next((default for default in defaults if isinstance(default, str)), "/")

    def _keys(
        self, context: LineContext, factory: type[Command], prefix: str, *, own: bool
    ) -> list[str]:
        """Metadata keys starting with *prefix* at the command's :meth:`_scope`.

        With *own*, only the keys the object there has (``set-meta -d``);
        otherwise also those of the objects below it or, for a data object,
        beside it: the keys a new item is likely to share.
        """
        scope, cwd = self._scope(context, factory), self.session.cwd

        def collect(view: StoreView) -> list[str]:
            target = view.resolve(scope, cwd)
            if own:
                return view.metadata_keys(target, prefix, limit=MAX_COMPLETIONS, below=False)
            near: list[StoreObject] = [target]
            if isinstance(target, DataObject) and target.__parent__ is not None:
                near.append(target.__parent__)
            keys = {
                key
                for obj in near
                for key in view.metadata_keys(obj, prefix, limit=MAX_COMPLETIONS)
            }
            return sorted(keys)[:MAX_COMPLETIONS]

        return self._read(collect)

    def _metadata_keys(
        self, context: LineContext, factory: type[Command], *, item: bool
    ) -> Iterator[Completion]:
        """Metadata keys: ``KEY=`` for a ``KEY=VALUE`` (*item*), else ``KEY`` the target has."""
        typed = str(context.current)
        if item and "=" in typed:
            return  # the value: anything goes
        keys = self._keys(context, factory, typed, own=not item)
        yield from self._offer(
            context, "", [(key, "metadata") for key in keys], tail="=" if item else ""
        )

    def _fields(
        self, context: LineContext, factory: type[Command], partial: str
    ) -> list[tuple[str, str]]:
        """Query fields for *partial*: system fields, their aliases, metadata keys.

        Keys are written as the query language reads them: bare when they
        are plain names, else double-quoted (always, once a ``"`` is typed).
        """
        quoted = partial.startswith('"')
        prefix = partial[1:].replace('""', '"') if quoted else partial
        fields = [] if quoted else [(name, "system") for name in (*SYSTEM_FIELDS, *ALIASES)]
        keys = self._keys(context, factory, prefix, own=False)
        return fields + [(query_field(key, quoted=quoted), "metadata") for key in keys]

    def _query(self, context: LineContext, factory: type[Command]) -> Iterator[Completion]:
        """What may come next in a query expression, from :func:`query_expectation`.

        Fields are offered as they are spelled, keywords and operators in
        the case they are being typed.  Inside a quote each completion ends
        with a space and leaves the quote open, so the expression goes on; a
        query begun unquoted gets its quote opened.
        """
        typed = str(context.current)
        expecting, partial = query_expectation(typed)
        if expecting is None:
            return
        head = typed[: len(typed) - len(partial)]
        opening = context.quote is None and not typed
        if opening:
            context = LineContext(context.words, context.current, "'", context.escaped)
        tail = " " if context.quote else ""
        offers: list[Iterator[Completion]] = []
        if expecting == "field":
            fields = self._fields(context, factory, partial)
            offers.append(self._offer(context, head, fields, tail=tail, close=False))
        keywords = _QUERY_NEXT[expecting]
        offers.append(self._offer(context, head, keywords, fold=True, tail=tail, close=False))
        for completion in itertools.chain(*offers):
            if opening:
                completion = Completion(
                    "'" + completion.text,
                    display=completion.display,
                    display_meta=completion.display_meta,
                )
            yield completion

    def _read(self, work: Callable[[StoreView], T]) -> T:
        """Run *work* in a read transaction as the session's user."""
        user = self.session.user

        def run(root: StoreRoot) -> T:
            return work(StoreView.for_user(root, user))

        return self.store.read(run)

    @staticmethod
    def _completion(
        context: LineContext,
        value: str,
        *,
        display: str | None = None,
        meta: str = "",
        close: bool = True,
    ) -> Completion:
        """A completion that turns the word being typed into *value*."""
        return Completion(
            context.continuation(value, close=close),
            display=display or printable(value),
            display_meta=meta,
        )


def _labelled(names: Iterable[str], groups: bool) -> list[tuple[str, str]]:
    return [(name, "group" if groups else "user") for name in names]


# -- query expressions ---------------------------------------------------------

#: What may follow, by what the expression so far expects (see query_expectation).
_QUERY_NEXT: dict[str, tuple[str, ...]] = {
    "field": ("NOT",),
    "operator": (
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "LIKE",
        "NOT LIKE",
        "IN",
        "NOT IN",
        "BETWEEN",
        "IS NULL",
        "IS NOT NULL",
    ),
    "negated": ("LIKE", "IN", "BETWEEN"),
    "is": ("NULL", "NOT NULL"),
    "is-not": ("NULL",),
    "value": ("TRUE", "FALSE", "TIMESTAMP"),
    "in-list": (),
    "between-and": ("AND",),
    "after": ("AND", "OR"),
}
# The query language's tokens, as query.lark spells them; "other" is what it refuses.
_QUERY_TOKENS = re.compile(
    r"""(?P<space>\s+)
      | (?P<string>'(?:[^']|'')*'?)
      | (?P<name>"(?:[^"]|"")*"?)
      | (?P<op><>|!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[^\s'"(),<>=!]+)
      | (?P<other>.)""",
    re.VERBOSE,
)
# A field the language reads bare (query.lark's NAME).
_BARE_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_QUERY_KEYWORDS = frozenset(
    ("not", "and", "or", "like", "in", "between", "is", "null", "timestamp", "true", "false")
)


def query_field(key: str, *, quoted: bool = False) -> str:
    """How a query names the metadata key *key*: bare if it can be, else in ``"…"``.

    Keys that are not plain names, or that a system field, an alias or a
    keyword would shadow, must be quoted (``field_name`` in the store).
    """
    plain = (
        _BARE_FIELD.fullmatch(key)
        and key not in SYSTEM_FIELDS
        and key not in ALIASES
        and key.lower() not in _QUERY_KEYWORDS
    )
    if plain and not quoted:
        return key
    return '"' + key.replace('"', '""') + '"'


def query_expectation(text: str) -> tuple[str | None, str]:
    """What a query expression expects next, and the part of it being typed.

    A small state machine over the grammar's tokens (``query.lark``), enough
    to say whether a field, an operator, a value or ``AND``/``OR`` comes
    next; not a parse, so a wrong expression gets a guess or nothing (None),
    and the query itself reports the error.  The word at the end, if no
    space follows it, is the part being typed and not yet read.
    """
    tokens = [(match.lastgroup or "other", match.group()) for match in _QUERY_TOKENS.finditer(text)]
    partial = ""
    if tokens and tokens[-1][0] in ("word", "name", "op"):
        partial = tokens.pop()[1]
    state: str | None = "field"
    between = False
    for kind, token in tokens:
        if kind == "space":
            continue
        if state is None or kind == "other":
            return None, partial
        word = token.upper() if kind == "word" else ""
        state, between = _next_state(state, kind, token, word, between)
    if tokens and tokens[-1][0] == "string" and tokens[-1][1].count("'") % 2:
        return None, partial  # inside a string: its quotes are not yet balanced
    return state, partial


def _next_state(
    state: str, kind: str, token: str, word: str, between: bool
) -> tuple[str | None, bool]:
    """The expectation after *token* (its *kind*; *word* upper-cased, if a word)."""
    if state == "field":
        if word == "NOT" or token == "(":
            return "field", between
        return ("operator" if kind in ("word", "name") else None), between
    if state in ("operator", "negated"):
        if kind == "op" and state == "operator":
            return "value", between
        if word == "NOT" and state == "operator":
            return "negated", between
        if word in ("LIKE", "IN", "BETWEEN"):
            return "value", word == "BETWEEN"
        if word == "IS" and state == "operator":
            return "is", between
        return None, between
    if state in ("is", "is-not"):
        if word == "NOT" and state == "is":
            return "is-not", between
        return ("after" if word == "NULL" else None), between
    if state == "value":
        if token == "(":
            return "in-list", between
        if word == "TIMESTAMP":
            return "value", between
        if kind in ("string", "word"):
            return ("between-and" if between else "after"), False
        return None, between
    if state == "in-list":
        return ("after" if token == ")" else "in-list"), between
    if state == "between-and":
        return ("value" if word == "AND" else None), between
    # after a predicate
    if word in ("AND", "OR"):
        return "field", between
    return ("after" if token == ")" else None), between


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


class _Reading:
    """argparse's reading of a command's words, closely enough for completion.

    An option that takes a value claims the next word (every following
    word, for ``nargs`` ``*``/``+``, until the next flag); other words fill
    the positional arguments in order; after ``--`` everything is
    positional.  :attr:`values` keeps what each argument was given.
    """

    def __init__(self, declared: Iterable[Arg]) -> None:
        declared = list(declared)
        self.options = {
            flag: item for item in declared if not item.is_positional for flag in item.flags
        }
        self.positionals = [item for item in declared if item.is_positional]
        self.expecting: Arg | None = None
        self.position = 0
        self.only_positionals = False
        #: The words given to each argument (by ``dest``), in order.
        self.values: dict[str, list[Word]] = {}

    def read(self, words: Iterable[Word]) -> _Reading:
        for word in words:
            self._read(word)
        return self

    def _read(self, word: Word) -> None:
        if not self.only_positionals and word == "--":
            self.only_positionals, self.expecting = True, None
        elif not self.only_positionals and _is_flag(word):
            flag, equals, _ = word.partition("=")
            option = self.options.get(flag)
            self.expecting = option if option and option.takes_value and not equals else None
            if option is not None and equals:
                offset = len(flag) + 1
                quoted = frozenset(p - offset for p in word.quoted_positions if p >= offset)
                self._give(option, Word(word[offset:], quoted))
        elif self.expecting is not None:
            self._give(self.expecting, word)
            if self.expecting.options.get("nargs") not in ("*", "+"):
                self.expecting = None
        else:
            item = _positional_at(self.positionals, self.position)
            if item is not None:
                self._give(item, word)
            self.position += 1

    def _give(self, item: Arg, word: Word) -> None:
        self.values.setdefault(item.dest, []).append(word)


def pending_argument(
    declared: Iterable[Arg], words: list[Word], current: str
) -> Arg | _Flags | None:
    """Which declared argument the word being typed fills, or :data:`FLAGS`.

    *words* are the command's words after its name and before the current
    one, read as :class:`_Reading` does.
    """
    reading = _Reading(declared).read(words)
    if not reading.only_positionals and current.startswith("-"):
        return FLAGS
    if reading.expecting is not None:
        return reading.expecting
    return _positional_at(reading.positionals, reading.position)


def argument_values(declared: Iterable[Arg], words: list[Word]) -> dict[str, list[Word]]:
    """The words *words* give each declared argument (by ``dest``), as completion reads them."""
    return _Reading(declared).read(words).values


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
