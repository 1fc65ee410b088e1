"""Splitting a command line into commands and words, POSIX-shell style.

Quoting works as in ``sh``: ``'single'`` is literal, ``"double"`` honours
``\\"`` and ``\\\\``, a backslash escapes the next character, and ``;``
separates commands.  ``shlex`` does the same but forgets *which* characters
were quoted, and omsh needs that: a quoted ``*`` is not a wildcard.  So
each :class:`Word` remembers where its quoted characters are.  (Metadata
values are typed by their text alone: ``n='5'`` and ``n=5`` are the same.)

omsh has no pipes, redirections, ``&&``/``||``, background jobs or command
substitution.  An unquoted operator for one of them is a usage error for the
whole line, before any command runs: ``ls / | grep a`` must not list ``/``
and then complain that ``|`` is not found.  The message says how to do it
on the client's side instead.  Quoted, the same characters are ordinary
(``query 'n > 1'``, a name ``'a|b'``).
"""

from __future__ import annotations

import re
import shlex

from omsh.errors import UsageError

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<semicolon>;)
  | '(?P<single>[^']*)'
  | "(?P<double>(?:\\.|[^"\\])*)"
  | \\(?P<escaped>.)
  | (?P<operator>
        (?:(?<![^ \t\r\n;])[0-9]+)?(?:>>|>\||<<<?|<>|[<>])(?:&[0-9-]*)?  # 2>&1, <<EOF
      | &>>? | \|\| | \|&? | && | & | \$\( | `
    )
  | (?P<bare>(?:[^ \t\r\n;'"\\|&<>`$]|\$(?!\())+)
  | (?P<unterminated>['"\\])
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPE = re.compile(r'\\([\\"$`])')
_GLOB_CHARS = frozenset("*?[")
#: Text that ``sh`` reads the same inside double quotes (for the client-side
#: example: ``"query 'n > 1'"`` reads better than ``shlex.quote``'s form).
_DOUBLE_QUOTE_SAFE = re.compile(r'[^"$`\\!]*')


class UnsupportedSyntax(UsageError):
    """An unquoted shell operator omsh does not have (``|``, ``>``, ``&&``, ``$(``…)."""

    def __init__(self, line: str, start: int, end: int) -> None:
        self.operator = line[start:end]
        super().__init__(_explain(self.operator, line[:start].strip(), line[end:].strip()))


def _explain(operator: str, before: str, after: str) -> str:
    """What *operator* would do in ``sh``, that omsh lacks it, and the client-side way."""
    unsupported = f"{operator!r} is not supported"
    literal = f"quote the {operator!r} if it is part of a name"
    here = _client_quote(before) if before else "COMMAND"
    if operator in ("&&", "||"):
        there = _client_quote(after) if after else "COMMAND"
        return (
            f"{unsupported}: omsh has no conditionals ({literal}); separate commands "
            f"with ';', or on your side: ssh HOST {here} {operator} ssh HOST {there}"
        )
    if operator in ("|", "|&") or "<" in operator or ">" in operator:
        verb = "pipe" if operator.startswith("|") else "redirect"
        if not after and operator[-1] in "|<>":  # not after 2>&1: it needs nothing
            after = "COMMAND" if verb == "pipe" else "FILE"
        example = " ".join(filter(None, ["ssh HOST", here, operator, after]))
        return (
            f"{unsupported}: omsh has no pipes or redirections ({literal}); "
            f"{verb} on your side instead: {example}"
        )
    if operator == "&":
        return f"{unsupported}: omsh has no background jobs ({literal}); separate commands with ';'"
    return f"{unsupported}: omsh has no command substitution ({literal})"


def _client_quote(command: str) -> str:
    """*command* as one word for the client's ``sh``, as a person would quote it."""
    if "'" in command and _DOUBLE_QUOTE_SAFE.fullmatch(command):
        return f'"{command}"'
    return shlex.quote(command)


class Word(str):
    """A shell word: its text, plus which characters were quoted."""

    quoted_positions: frozenset[int]

    def __new__(cls, text: str, quoted_positions: frozenset[int] = frozenset()) -> Word:
        word = super().__new__(cls, text)
        word.quoted_positions = quoted_positions
        return word

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
    quote is a :class:`UsageError` that says where it starts; an unquoted
    pipe, redirection or other shell operator is an :class:`UnsupportedSyntax`.
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
        elif kind == "operator":
            raise UnsupportedSyntax(line, match.start(), match.end())
        else:
            what = "escape" if match.group() == "\\" else "quote"
            raise UsageError(f"unterminated {what} at column {match.start() + 1}")
    end_word()
    if words:
        commands.append(words)
    return commands
