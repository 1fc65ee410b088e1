"""Splitting a command line into commands and words, POSIX-shell style.

Quoting works as in ``sh``: ``'single'`` is literal, ``"double"`` honours
``\\"`` and ``\\\\``, a backslash escapes the next character, and ``;``
separates commands.  ``shlex`` does the same but forgets *which* characters
were quoted, and omsh needs that twice: ``n='5'`` stores the string ``"5"``
where ``n=5`` stores the number 5, and a quoted ``*`` is not a wildcard.
So each :class:`Word` remembers where its quoted characters are.
"""

from __future__ import annotations

import re

from omsh.errors import UsageError

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<semicolon>;)
  | '(?P<single>[^']*)'
  | "(?P<double>(?:\\.|[^"\\])*)"
  | \\(?P<escaped>.)
  | (?P<bare>[^ \t\r\n;'"\\]+)
  | (?P<unterminated>['"\\])
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPE = re.compile(r'\\([\\"$`])')
_GLOB_CHARS = frozenset("*?[")


class Word(str):
    """A shell word: its text, plus which characters were quoted."""

    quoted_positions: frozenset[int]

    def __new__(cls, text: str, quoted_positions: frozenset[int] = frozenset()) -> Word:
        word = super().__new__(cls, text)
        word.quoted_positions = quoted_positions
        return word

    def is_quoted_from(self, index: int) -> bool:
        """Whether any character at or after *index* was quoted."""
        return any(position >= index for position in self.quoted_positions)

    @property
    def glob_pattern(self) -> str | None:
        """An ``fnmatch`` pattern if the word has an unquoted wildcard, else None.

        Quoted wildcard characters are escaped in the pattern (``[*]``).
        """
        if not any(
            ch in _GLOB_CHARS and i not in self.quoted_positions for i, ch in enumerate(self)
        ):
            return None
        return "".join(
            f"[{ch}]" if ch in _GLOB_CHARS and i in self.quoted_positions else ch
            for i, ch in enumerate(self)
        )


def split_commands(line: str) -> list[list[Word]]:
    """Split *line* into commands (on unquoted ``;``), each a list of words.

    Empty commands (``a ;; b``, a blank line) are dropped.  An unterminated
    quote is a :class:`UsageError` that says where it starts.
    """
    commands: list[list[Word]] = []
    words: list[Word] = []
    text: list[str] = []
    quoted: set[int] = set()
    in_word = False

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            words.append(Word("".join(text), frozenset(quoted)))
        text.clear()
        quoted.clear()
        in_word = False

    def add(part: str, is_quoted: bool) -> None:
        nonlocal in_word
        start = sum(len(piece) for piece in text)
        if is_quoted:
            quoted.update(range(start, start + len(part)))
        text.append(part)
        in_word = True

    for match in _TOKEN.finditer(line):
        kind = match.lastgroup
        if kind == "space":
            end_word()
        elif kind == "semicolon":
            end_word()
            if words:
                commands.append(words)
            words = []
        elif kind == "single":
            add(match.group("single"), True)
        elif kind == "double":
            add(_DOUBLE_ESCAPE.sub(r"\1", match.group("double")), True)
        elif kind == "escaped":
            add(match.group("escaped"), True)
        elif kind == "bare":
            add(match.group("bare"), False)
        else:
            what = "escape" if match.group() == "\\" else "quote"
            raise UsageError(f"unterminated {what} at column {match.start() + 1}")
    end_word()
    if words:
        commands.append(words)
    return commands
