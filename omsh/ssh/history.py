"""Command history of the interactive shell: per user, for the server's life.

Each session starts with the user's earlier lines (Up, Ctrl-R) and adds its
own to the same per-user list, which the ``history`` command shows.  A line
that may carry a secret is never recorded anywhere (ARCHITECTURE §6.5): a line that
starts with a space (bash's ``ignorespace``), and any line with a word that
hints at a secret, ``passwd`` included, in case someone types a password as
its argument.  Recording too little is harmless; recording a secret is not.

bash's history references (``!!``, ``!N``, ``!-N``, ``!$``, ``!PREFIX``)
are expanded by :func:`expand_history` before a line runs; the line kept
is the expanded one, as bash keeps it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Iterable, Sequence

from prompt_toolkit.history import History, InMemoryHistory

from omsh.errors import OmshError

#: Lines kept per user; older ones are dropped.
MAX_LINES = 1000

_SECRET_HINT = re.compile(r"pass(?:wd|word|phrase)?|secret|token|credential|api[-_]?key", re.I)


def may_hold_secret(line: str) -> bool:
    """Whether *line* must stay out of every history."""
    return line[:1].isspace() or _SECRET_HINT.search(line) is not None


class SessionHistory(InMemoryHistory):
    """prompt_toolkit history seeded from, and appending to, a per-user list."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines)
        self._lines = lines

    def append_string(self, string: str) -> None:
        if not may_hold_secret(string):
            super().append_string(string)

    def store_string(self, string: str) -> None:
        super().store_string(string)
        self._lines.append(string)
        del self._lines[:-MAX_LINES]


class EventNotFound(OmshError):
    """A history reference (``!42``, ``!foo``) that names no line."""

    def __init__(self, event: str) -> None:
        super().__init__("event not found", subject=event)


# What may follow "!" to make an event, as bash reads them.
_EVENT = re.compile(r"!(?:(!)|(\$)|(-?\d+)|([^\s;'\"=()!$]+))")
# A word of a typed line, quotes and escapes included (for "!$").
_WORD = re.compile(r"""(?:[^\s;'"\\]|\\.|'[^']*'?|"(?:\\.|[^"\\])*"?)+""")


def expand_history(line: str, history: Sequence[str]) -> str:
    """*line* with bash's history references replaced; *history* oldest first.

    ``!!`` is the previous line, ``!N`` line N as ``history`` numbers them,
    ``!-N`` the N-th line back, ``!$`` the last word of the previous line
    and ``!PREFIX`` the newest line that starts with PREFIX.  Nothing is
    expanded inside single quotes, after a backslash (``\\!`` stays as it
    is, for the command-line splitter to unescape), or where ``!`` is
    followed by a blank, ``=``, ``(``, a quote or the end of the line
    (so ``a != b`` stays).  Raises :class:`EventNotFound`.
    """
    pieces: list[str] = []
    position = 0
    quoted = False  # inside '...'
    double = False  # inside "..."
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and not quoted:
            index += 2
            continue
        if char == "'" and not double:
            quoted = not quoted
        elif char == '"':
            double = not double
        elif char == "!" and not quoted:
            match = _EVENT.match(line, index)
            if match is not None:
                pieces.append(line[position:index])
                pieces.append(_event(match, history))
                position = index = match.end()
                continue
        index += 1
    if not pieces:
        return line
    return "".join(pieces) + line[position:]


def _event(match: re.Match[str], history: Sequence[str]) -> str:
    """The text one history reference stands for."""
    previous, last_word, number, prefix = match.groups()
    found: str | None = None
    if previous or last_word:
        found = history[-1] if history else None
        if found is not None and last_word:
            words = _WORD.findall(found)
            found = words[-1] if words else ""
    elif number is not None:
        position = int(number)
        if position < 0:
            found = history[position] if -position <= len(history) else None
        elif 0 < position <= len(history):
            found = history[position - 1]
    else:
        found = next((line for line in reversed(history) if line.startswith(prefix)), None)
    if found is None:
        raise EventNotFound(match.group())
    return found


class PromptHistory(History):
    """What the prompt sees of a per-user history list: all of it, and it records nothing.

    The shell records each line itself (:class:`SessionHistory`) once its
    history references are expanded, and each pasted line on its own, so
    prompt_toolkit's own append on Enter must not; the list is read afresh
    at every prompt.
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines

    async def load(self) -> AsyncGenerator[str, None]:
        for line in self.load_history_strings():
            yield line

    def get_strings(self) -> list[str]:
        return list(self._lines)

    def load_history_strings(self) -> Iterable[str]:
        return reversed(self._lines)

    def append_string(self, string: str) -> None:
        pass

    def store_string(self, string: str) -> None:
        pass
