"""Reading a command's standard input: uploads, keys and passwords.

In an exec session (``ssh host 'put x' < file``) standard input is the
client's data.  In the interactive shell it is the person's keyboard, which
a command must never swallow as data, so commands that read it call
:func:`require_piped_input` first.
"""

from __future__ import annotations

from omsh.commands.base import Invocation
from omsh.errors import OmshError

_READ_SIZE = 4096


def require_piped_input(inv: Invocation, usage: str, alternative: str = "") -> None:
    """Refuse to read the terminal as data in the interactive shell.

    *usage* is the command line to suggest, e.g. ``put PATH``; *alternative*
    another way to give the same input, e.g. ``key add --key 'LINE'``.
    """
    if inv.session.interactive:
        hint = f", or {alternative}" if alternative else ""
        raise OmshError(
            f"{inv.name} reads from standard input; use it as ssh host '{usage}' < file{hint}"
        )


def read_input(inv: Invocation, limit: int, *, line: bool = False) -> bytes:
    """All of standard input (or its first line), refusing more than *limit* bytes.

    For small inputs only (keys, passwords): the whole answer is in memory.
    With *line* the line ending is dropped and whatever follows is ignored.
    ``TransferAborted`` from the stream propagates, so nothing is used.
    """
    data = bytearray()
    while True:
        chunk = inv.stdin.read(_READ_SIZE)
        if not chunk:
            break
        data += chunk
        if line and b"\n" in data:
            data = data[: data.index(b"\n")]
            break
        if len(data) > limit:
            raise OmshError(f"standard input is longer than {limit} bytes")
    if len(data) > limit:
        raise OmshError(f"standard input is longer than {limit} bytes")
    if line and data.endswith(b"\r"):
        del data[-1]
    return bytes(data)
