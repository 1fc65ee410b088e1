"""Asking for passwords: at the terminal without echo, or from standard input.

A password never travels on a command line (ARCHITECTURE §6.5), so ``passwd`` and
``user add`` take one only from here: the interactive shell's no-echo prompt
(:attr:`Invocation.ask_secret`, whose history keeps nothing) or the first
lines of standard input in an exec session (``ssh host passwd < file``).
Nothing here logs, prints or keeps what it reads.
"""

from __future__ import annotations

import enum

from omsh.commands.base import Invocation
from omsh.commands.streams import read_lines, require_piped_input
from omsh.errors import OmshError

#: Longest password accepted, in bytes of UTF-8 (argon2 hashes any length;
#: this only bounds what a client can make the server read and hash).
MAX_PASSWORD_BYTES = 1024


class Source(enum.Enum):
    """Where a password comes from."""

    #: The prompt at a terminal, else standard input in an exec session.
    AUTO = "auto"
    #: Only the no-echo prompt (``--password-prompt``).
    PROMPT = "prompt"
    #: Only standard input (``--password-stdin``).
    STDIN = "stdin"


def read_passwords(
    inv: Invocation, *, current: bool = False, source: Source = Source.AUTO, usage: str = ""
) -> tuple[str | None, str]:
    """``(current, new)``: the current password if *current* is asked for, and a new one.

    At a terminal the new password is typed twice and must match.  From
    standard input the first line is the current password (when asked for)
    and the next one the new password.  *usage* is the command line to
    suggest when standard input is the keyboard of an interactive shell.
    """
    prompting = source is Source.PROMPT or (source is Source.AUTO and inv.ask_secret is not None)
    if prompting:
        if inv.ask_secret is None:
            raise OmshError("no terminal to prompt on; give the password on standard input")
        old = _ask(inv, "Current password: ") if current else None
        new = _ask(inv, "New password: ")
        if _ask(inv, "Retype new password: ") != new:
            raise OmshError("passwords do not match; nothing changed")
        return (_checked(old) if current else None), _checked(new)
    if source is Source.AUTO and inv.session.interactive:
        raise OmshError("cannot prompt for a password in this session")
    require_piped_input(inv, usage or inv.name)
    wanted = 2 if current else 1
    lines = [_decoded(raw) for raw in read_lines(inv, wanted, wanted * (MAX_PASSWORD_BYTES + 2))]
    if current and len(lines) < wanted:
        raise OmshError(
            "give the current password on the first line of standard input "
            "and the new one on the second; nothing changed"
        )
    new = _checked(lines[-1] if lines else "")
    return (_checked(lines[0]) if current else None), new


def _ask(inv: Invocation, prompt: str) -> str:
    assert inv.ask_secret is not None
    try:
        return inv.ask_secret(prompt)
    except (EOFError, KeyboardInterrupt):
        raise OmshError("cancelled; nothing changed") from None


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OmshError("the password is not valid UTF-8; nothing changed") from None


def _checked(password: str | None) -> str:
    if not password:
        raise OmshError("empty password; nothing changed")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise OmshError(f"password longer than {MAX_PASSWORD_BYTES} bytes; nothing changed")
    return password
