"""Progress bars for long commands in the interactive shell.

One line on the terminal, redrawn in place::

    verify  12.3 MiB / 40.0 MiB  5.1 MiB/s  ETA 0:05

Shown only where a person watches a terminal: the interactive shell on a
PTY, never in exec mode (whose output is usually captured, even with
``ssh -t``) and never with ``--json``.  It appears only after
:data:`FIRST_DRAW` seconds, so quick commands show nothing; it is redrawn at
most every :data:`INTERVAL` seconds; output in between erases it first
(:meth:`~omsh.commands.output.Output.show_status`), and it is erased at the
end, leaving the screen as if it had never been there.

A bar is drawn only when the cursor is at the start of a line, so it never
overwrites output: ``cat`` of text shows it between lines, ``verify -r``
between its ``OK`` lines.  ``omsh reindex`` offline has its own line on the
console's stderr (:class:`~omsh.commands.maintenance.ProgressLine`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from omsh.commands.base import Invocation
from omsh.commands.output import Output
from omsh.errors import Cancelled

#: Seconds before the first draw: a command done sooner shows no bar.
FIRST_DRAW = 0.3
#: Seconds between redraws (at most 10 a second).
INTERVAL = 0.1
#: ``cat`` of at least this many bytes shows a bar.
LARGE_CONTENT = 8 * 1024 * 1024

Unit = Literal["bytes", "objects"]


def binary_size(size: float) -> str:
    """``12.3 MiB``: one decimal, binary units, as transfer tools show them."""
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            break
    return f"{size:.1f} {unit}"


def duration(seconds: float) -> str:
    """``0:05``, ``12:34`` or ``1:02:03``."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class Progress:
    """How far a long operation got, drawn on *out*'s status line.

    With *out* None it only counts (no terminal to draw on), so commands
    call it the same way everywhere.  A context manager: the bar is erased
    on the way out, also when the command fails or is interrupted.
    """

    def __init__(
        self,
        out: Output | None,
        label: str,
        total: int,
        *,
        unit: Unit = "bytes",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.clock = clock
        self.started = clock()
        self.last_drawn: float | None = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # After a Ctrl-C nothing may be written until the runtime has
        # reported it; its "^C" erases the bar.
        if not isinstance(exc, Cancelled):
            self.close()

    def advance(self, amount: int) -> None:
        """Count *amount* more bytes (or objects) done; redraw if it is time."""
        self.done += amount
        self.draw()

    def update(self, done: int, total: int) -> None:
        """Set how far it got out of how much (for callbacks that report both)."""
        self.done, self.total = done, total
        self.draw()

    def draw(self) -> None:
        if self.out is None:
            return
        now = self.clock()
        if now - self.started < FIRST_DRAW:
            return
        if self.last_drawn is not None and now - self.last_drawn < INTERVAL:
            return
        self.last_drawn = now
        self.out.show_status(self.text(now)[: max(self.out.width - 1, 10)])

    def text(self, now: float) -> str:
        """``label  done / total  rate  ETA m:ss``; the rate and ETA once known."""
        total = max(self.total, self.done)
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.unit == "bytes":
            amounts = f"{binary_size(self.done)} / {binary_size(total)}"
            speed = f"{binary_size(rate)}/s"
        else:
            amounts = f"{self.done:,} / {total:,} objects"
            speed = f"{rate:,.0f}/s"
        eta = duration((total - self.done) / rate) if rate > 0 else "--:--"
        return f"{self.label}  {amounts}  {speed}  ETA {eta}"

    def close(self) -> None:
        """Erase the bar, if it was drawn."""
        if self.out is not None and self.last_drawn is not None:
            self.out.clear_status()


def wants_progress(inv: Invocation) -> bool:
    """Whether *inv* may show a bar: the interactive shell on a terminal, no ``--json``.

    Commands ask before counting what a bar needs as its total.
    """
    return inv.session.interactive and inv.out.terminal and not inv.json


def progress_bar(
    inv: Invocation, total: int, *, unit: Unit = "bytes", minimum: int = 0
) -> Progress:
    """A :class:`Progress` for *inv*, drawn only if :func:`wants_progress`.

    Never for work under *minimum* (bytes or objects), nor with no total.
    """
    shown = wants_progress(inv) and total > 0 and total >= minimum
    return Progress(inv.out if shown else None, inv.name, total, unit=unit)


def following(inv: Invocation, bar: Progress) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback: checks for Ctrl-C, then updates *bar*."""

    def progressed(done: int, total: int) -> None:
        inv.check_cancelled()
        bar.update(done, total)

    return progressed


def passing(inv: Invocation, bar: Progress) -> Callable[[int], None]:
    """A callback for the store's recursive work and for hashing: ``passing(size)``.

    It checks for Ctrl-C (raising stops the work and rolls back its
    transaction), then advances *bar* by *size* bytes, or by one object
    for a bar counting objects.
    """

    def passed(size: int) -> None:
        inv.check_cancelled()
        bar.advance(1 if bar.unit == "objects" else size)

    return passed
