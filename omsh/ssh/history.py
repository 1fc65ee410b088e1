"""Command history of the interactive shell: per user, for the server's life.

Each session starts with the user's earlier lines (Up, Ctrl-R) and adds its
own to the same per-user list, which the ``history`` command shows.  A line
that may carry a secret is never recorded anywhere (ARCHITECTURE §6.5): a line that
starts with a space (bash's ``ignorespace``), and any line with a word that
hints at a secret, ``passwd`` included, in case someone types a password as
its argument.  Recording too little is harmless; recording a secret is not.
"""

from __future__ import annotations

import re

from prompt_toolkit.history import InMemoryHistory

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
