"""Where command output goes: text, bytes and JSON, for a terminal or a pipe.

An :class:`Output` wraps one byte sink (an SSH channel's stdout or stderr,
or a buffer in tests).  On a terminal (a PTY was requested) it turns ``\\n``
into ``\\r\\n`` the way a tty's ONLCR would and may colour text; without a
PTY it writes plain text with no escape codes at all.  Text is buffered and
sent in large pieces, because every send crosses from a worker thread to the
event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

_FLUSH_AT = 64 * 1024

#: SGR codes for the few styles commands use.
STYLES = {
    "container": "1;34",
    "object": "0",
    "error": "31",
    "key": "36",
    "dim": "2",
    "bold": "1",
    "ok": "32",
}


class InputStream(Protocol):
    """The session's standard input as the commands see it (blocking)."""

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes; ``b""`` at end of input.

        Raises :class:`~omsh.errors.TransferAborted` if the client went away
        before sending end-of-file.
        """
        ...

    def readline(self) -> bytes: ...


class Output:
    """One output stream of a session."""

    def __init__(
        self,
        sink: Callable[[bytes], None],
        *,
        terminal: bool = False,
        color: bool | None = None,
        width: int = 80,
    ) -> None:
        self._sink = sink
        self.terminal = terminal
        self.color = terminal if color is None else color
        self.width = width
        self._buffer: list[bytes] = []
        self._buffered = 0
        #: Fields added to every JSON object written (``"at"`` under ``--at``),
        #: for the command running now; cleared after it.
        self.stamp: dict[str, str] = {}
        #: Whether a status line (a progress bar) is drawn on the terminal now.
        self.status_shown = False
        #: Whether the last byte written ended a line (a status line may be drawn).
        self.at_line_start = True
        #: The other stream sharing this terminal (stdout and stderr on a PTY),
        #: whose status line must be erased before this one writes.
        self.partner: Output | None = None
        #: Where the status line is drawn: the terminal itself, even when
        #: output goes through a pager first (None: the output's own sink).
        self.status_sink: Callable[[bytes], None] | None = None
        #: Whether a status line may be drawn now (not while a pager shows).
        self.status_allowed: Callable[[], bool] | None = None

    def _queue(self, data: bytes) -> None:
        if not data:
            return
        self._erase_status()
        self.at_line_start = data.endswith(b"\n")
        if self.terminal:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH_AT:
            self.flush()

    def write(self, text: str) -> None:
        self._queue(text.encode("utf-8", "surrogateescape"))

    def line(self, text: str = "") -> None:
        self.write(text + "\n")

    def write_bytes(self, data: bytes) -> None:
        """Raw content (``cat``): sent as is, apart from newline translation on a tty."""
        if self.terminal:
            self._queue(data)
            return
        self.flush()
        self._sink(data)

    # -- the status line (progress bars): see omsh.commands.progress ------

    def show_status(self, text: str) -> None:
        """Draw *text* over the current (empty) line and send it at once.

        Anything written afterwards, here or on the partner stream, first
        erases it.  Only on a terminal, and only at the start of a line, so
        that it never overwrites output.
        """
        if not self.terminal or not self.at_line_start:
            return
        if self.status_allowed is not None and not self.status_allowed():
            return
        self.flush()  # what was written before the bar, stays before it
        if self.partner is not None:
            self.partner.flush()
        self._draw_status(b"\r" + text.encode("utf-8", "replace") + b"\x1b[K")
        self.status_shown = True

    def clear_status(self) -> None:
        """Erase the status line, if one is drawn, and send that at once."""
        if self.status_shown:
            self.status_shown = False
            self._draw_status(b"\r\x1b[K")

    def _draw_status(self, data: bytes) -> None:
        (self.status_sink or self._sink)(data)

    def _erase_status(self) -> None:
        self.clear_status()
        if self.partner is not None:
            self.partner.clear_status()

    def discard(self) -> None:
        """Drop what is buffered and not yet sent (output of an interrupted command)."""
        self._buffer.clear()
        self._buffered = 0

    def json(self, document: Any) -> None:
        """One JSON document on one line (an object gets :attr:`stamp` too)."""
        if self.stamp and isinstance(document, dict):
            document = {**document, **self.stamp}
        self.line(json.dumps(document, ensure_ascii=False, default=str))

    def style(self, text: str, style: str) -> str:
        if not self.color or style not in STYLES:
            return text
        return f"\x1b[{STYLES[style]}m{text}\x1b[0m"

    def probe(self) -> None:
        """Send what is buffered, or an empty write, so a sink whose reader left raises now.

        For a command that may wait long without output (``watch``): an SSH
        channel's sink raises once the client has closed the channel.
        """
        self.flush()
        self._sink(b"")

    def flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            self._sink(data)


class BufferOutput(Output):
    """An :class:`Output` that collects bytes; for tests and capturing."""

    def __init__(self, *, terminal: bool = False, color: bool | None = None) -> None:
        self.data = bytearray()
        super().__init__(self.data.extend, terminal=terminal, color=color)

    @property
    def text(self) -> str:
        self.flush()
        return self.data.decode("utf-8", "replace")
