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
    if line:
        lines = read_lines(inv, 1, limit)
        return lines[0] if lines else b""
    data = bytearray()
    while chunk := inv.stdin.read(_READ_SIZE):
        data += chunk
        if len(data) > limit:
            raise OmshError(f"standard input is longer than {limit} bytes")
    return bytes(data)


def read_lines(inv: Invocation, count: int, limit: int) -> list[bytes]:
    """The first *count* lines of standard input, without their line endings.

    Fewer come back if the input ends first.  Reading stops at the
    *count*-th newline, so a client that keeps its input open is not waited
    for, and what follows is ignored; the lines together may hold at most
    *limit* bytes.
    """
    data = bytearray()
    while data.count(b"\n") < count and len(data) <= limit:
        chunk = inv.stdin.read(_READ_SIZE)
        if not chunk:
            break
        data += chunk
    lines = bytes(data).split(b"\n")[:count]
    if data.count(b"\n") < count and lines[-1] == b"":
        lines.pop()  # the input ended after its last newline
    if sum(len(line) + 1 for line in lines) - 1 > limit:
        raise OmshError(f"standard input is longer than {limit} bytes")
    return [line.removesuffix(b"\r") for line in lines]
