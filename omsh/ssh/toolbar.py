"""The bottom toolbar of the interactive shell.

It keeps in sight what a prompt has no room for: who is logged in, the
working container in full, how the last command went (only when it failed,
with the meaning of its exit status, ARCHITECTURE §6.2), and a hint for newcomers,
or a notice in its place (what Ctrl-Z does not do).
"""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from omsh.commands.base import ShellSession
from omsh.commands.formatting import printable

#: What each failing exit status means (ARCHITECTURE §6.2).
STATUS_MEANINGS = {
    1: "failed",
    2: "usage error",
    3: "not found",
    4: "permission denied",
    5: "exists or conflict",
    130: "interrupted",
}
HINT = "help: list commands  Tab: complete  Ctrl-D: exit"


class Toolbar:
    """A prompt_toolkit ``bottom_toolbar`` callable for one session."""

    def __init__(self, session: ShellSession) -> None:
        self.session = session
        #: Exit status of the last command run; the shell sets it.
        self.last_status = 0
        #: A one-line notice shown in place of the hint until the next command.
        self.notice = ""

    def __call__(self) -> StyleAndTextTuples:
        parts: StyleAndTextTuples = [
            ("class:bottom-toolbar.user", f" {self.session.user} "),
            ("class:bottom-toolbar.cwd", f" {printable(self.session.cwd)} "),
        ]
        if self.last_status:
            meaning = STATUS_MEANINGS.get(self.last_status, "failed")
            parts.append(("class:bottom-toolbar.status", f" exit {self.last_status}: {meaning} "))
        if self.notice:
            parts.append(("class:bottom-toolbar.notice", f"  {self.notice} "))
        else:
            parts.append(("class:bottom-toolbar.hint", f"  {HINT} "))
        return parts
