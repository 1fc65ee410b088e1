"""Syntax colouring of the command line being typed.

:class:`OmshLexer` is a Pygments ``RegexLexer`` that reads a line as
:func:`~omsh.commands.words.split_commands` does: the first word of each
command (after ``;``) is the command name, words starting with ``-`` are
flags, ``'…'`` and ``"…"`` are strings, ``key=`` starts a metadata pair, a
bare word with a ``/`` is a path.  The colouring shows what the shell will
understand before Enter: ``n=5`` (a number) and ``n='5'`` (a string) look
different, and an unterminated quote runs to the end of the line.

A bare command name the shell does not know is :data:`UNKNOWN_COMMAND`, shown
in the error colour, as fish does: ``lss`` is red before Enter.  The lexer
knows the names it is made for (:meth:`OmshLexer.knowing`, from the registry
when the prompt is built), so colouring a keystroke never asks the store.
Without names (``OmshLexer`` itself) every command word is a command.

prompt_toolkit uses it through ``PygmentsLexer(OmshLexer.knowing(names))``;
the colours are in :mod:`omsh.ssh.style`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import ClassVar

from pygments.lexer import LexerContext, RegexLexer, bygroups, default, include
from pygments.token import (
    Error,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

#: A command word that names no registered command.
UNKNOWN_COMMAND = Name.Function.Unknown

# A character of an unquoted word (what words.py calls "bare").
_BARE = r"""[^\s;'"\\]"""
# The end of a word: a separator or the end of the line.
_WORD_END = r"(?=[\s;]|$)"

# Quoting is the same inside and outside argument lists.
_QUOTED = [
    (r"'[^']*'?", String.Single),  # an open quote runs to the end of the line
    (r'"(?:\\.|[^"\\])*"?', String.Double),
    (r"\\.", String.Escape),
    (r"\\", Error),  # a backslash at the very end escapes nothing
]


def _command_word(
    lexer: OmshLexer, match: re.Match[str], context: LexerContext | None = None
) -> Iterator[tuple[int, _TokenType, str]]:
    """A bare command word: a command, or :data:`UNKNOWN_COMMAND` if no such name."""
    word = match.group()
    known = lexer.commands is None or word in lexer.commands
    yield match.start(), Name.Function if known else UNKNOWN_COMMAND, word


class OmshLexer(RegexLexer):
    """Tokens of an omsh command line (see the module docstring)."""

    name = "omsh"
    aliases: ClassVar[list[str]] = ["omsh"]
    filenames: ClassVar[list[str]] = []
    #: The command names (aliases too) a command word may be; None: any word.
    commands: ClassVar[frozenset[str] | None] = None

    @classmethod
    def knowing(cls, names: Collection[str]) -> type[OmshLexer]:
        """This lexer for a shell whose commands are *names*.

        A class rather than an instance, as ``PygmentsLexer`` makes its own.
        """
        return type(cls.__name__, (cls,), {"commands": frozenset(names)})

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r";", Punctuation),
            (rf"{_BARE}+", _command_word, "arguments"),
            default("quoted-command"),
        ],
        # A command name written with quotes or escapes: coloured as a string.
        "quoted-command": [
            *_QUOTED,
            (rf"{_BARE}+", Name.Function),
            default(("#pop", "arguments")),
        ],
        "arguments": [
            (r";", Punctuation, "#pop"),
            (rf"--{_WORD_END}", Operator, "operands"),
            (r"(--[A-Za-z][\w-]*)(=)", bygroups(Name.Attribute, Operator)),
            (r"--?[A-Za-z][\w-]*", Name.Attribute),
            include("operands"),
        ],
        # Words that are never flags: every argument after "--".
        "operands": [
            (r"\s+", Whitespace),
            (r";", Punctuation, "#pop:2"),  # back to "root" for the next command
            (r"([^\W\d][\w.-]*)(=)", bygroups(Name.Variable, Operator)),
            (rf"-?\d+(?:\.\d+)?{_WORD_END}", Number),
            (rf"{_BARE}*/{_BARE}*", Name.Namespace),
            *_QUOTED,
            (rf"{_BARE}+", Text),
        ],
    }
