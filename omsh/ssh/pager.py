"""The interactive shell's built-in pager: ``less -SRXF`` on the session's terminal.

Output of a command run in the interactive shell goes through a
:class:`TerminalPager` before it reaches the channel.  While the command
runs, the pager holds what it writes until more than a screen has come
(counting the rows long lines wrap onto): output that fits is then printed
as it always was (``-F``), with nothing cleared and nothing drawn (``-X``).
Output that does not fit switches to paging: the first screen is drawn at
the bottom of the terminal with a ``:`` status line, and the keys a ``less``
user reaches for move through it:

==========================================  =================================
space, f, PgDn, Ctrl-F, Ctrl-V              a screen forward
b, PgUp, Ctrl-B                             a screen back
j, Down, Enter, e, Ctrl-N, Ctrl-E           a line forward
k, Up, y, Ctrl-P, Ctrl-Y                    a line back
d, Ctrl-D / u, Ctrl-U                       half a screen forward / back
Right / Left                                half a screen sideways
g, <, Home / G, >, End                      the first / last line
/PATTERN, ?PATTERN, n, N                    search forward, back, again
r, Ctrl-L                                   redraw
q, Q, Ctrl-C                                quit (and stop the command)
==========================================  =================================

Lines are chopped at the screen's width, never wrapped (``-S``); SGR colour
codes are kept and other escape sequences dropped (``-R``); a search
(a Python regular expression, case-sensitive unless it has no capital,
as ``less -i``) shows the line it found at the top with the match in
reverse video.

The pager is fed as the command writes: the command's thread blocks once
the pager has two screens beyond what is shown, so ``cat`` of a large
object reads only as far as the person scrolls (``G`` and a search read on
until they are satisfied).  What was read stays for scrolling back, up to
:data:`MAX_LINES` lines of at most :data:`MAX_LINE_CHARS` characters; older
lines are dropped.  Quitting while the command still writes ends it
quietly, as ``less`` quitting ends ``cat`` with SIGPIPE.  Output that is
not text (a NUL or another control character other than tab, backspace,
bell, CR, LF or ESC) goes straight to the terminal, as it did before the
pager existed.  Exec sessions (``ssh host CMD``, even with ``-t``) never
page; ``--no-pager`` turns it off for one command and ``OMSH_PAGER=off``
(or ``PAGER=cat``) in the session's environment for the session.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import enum
import re
import threading
from collections.abc import Callable, Iterator, Mapping

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.utils import get_cwidth

#: Lines kept for scrolling back; beyond it the oldest are dropped.
MAX_LINES = 100_000
#: Characters kept of one line (it is shown chopped anyway).
MAX_LINE_CHARS = 16_384
#: Screens read ahead of the one shown before the command is held back.
READ_AHEAD_SCREENS = 2
#: How long a lone Escape waits for the rest of a key's sequence.
ESCAPE_TIMEOUT = 0.05

Sink = Callable[[bytes], None]

# One escape sequence (CSI, OSC, two-byte) or one control character.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x1f\x7f]"
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
# Bytes that make output "not text": C0 controls but BS, TAB, LF, CR, BEL, ESC; and DEL.
_BINARY = re.compile(rb"[\x00-\x06\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_TAB = 8
RESET = "\x1b[0m"
REVERSE, NO_REVERSE = "\x1b[7m", "\x1b[27m"


class PagerQuit(Exception):
    """Raised in the command's thread once the person has quit the pager.

    Not an :class:`~omsh.errors.OmshError`: no command may catch it as a
    failure of one item; the pager's :meth:`TerminalPager.page` swallows it
    and the command ends with status 0, as ``cat`` under ``less`` would.
    """


def pager_disabled(env: Mapping[str, str]) -> bool:
    """Whether the session's environment turns the pager off."""
    choice = env.get("OMSH_PAGER", "").strip().lower()
    return choice in ("off", "no", "never", "0", "false", "cat") or env.get("PAGER") == "cat"


def plain(line: str) -> str:
    """*line* without escape sequences or control characters, tabs kept (what a search sees)."""
    return _CONTROL.sub(lambda m: m.group() if m.group() == "\t" else "", line)


def chop(line: str, left: int, width: int) -> str:
    """The part of *line* between display columns *left* and *left + width*.

    Colour codes (SGR) are kept, even those left of the window, so the
    colours in view are right; other escape sequences are dropped, tabs
    expand to the next multiple of 8, other control characters show as
    ``^X``, and a wide character cut by an edge becomes spaces.
    """
    right = left + width
    pieces: list[str] = []
    coloured = False
    column = 0
    position = 0

    def put(text: str) -> None:
        nonlocal column
        for char in text:
            if column >= right:
                return
            size = get_cwidth(char)
            if column >= left and column + size <= right:
                pieces.append(char)
            elif column + size > left:
                pieces.append(" " * (min(column + size, right) - max(column, left)))
            column += size

    for match in _CONTROL.finditer(line):
        put(line[position : match.start()])
        if column >= right:
            break
        position = match.end()
        code = match.group()
        if _SGR.fullmatch(code):
            pieces.append(code)
            coloured = True
        elif code == "\t":
            put(" " * (_TAB - column % _TAB))
        elif len(code) == 1:
            put(f"^{chr((ord(code) + 64) % 128)}")
        if column >= right:
            break
    else:
        put(line[position:])
    if coloured:
        pieces.append(RESET)
    return "".join(pieces)


def rows_needed(text: str, columns: int, limit: int) -> int:
    """Rows *text* fills when printed on a terminal *columns* wide, counting up to *limit*+1."""
    rows = 0
    for line in text.split("\n"):
        width = sum(get_cwidth(char) for char in plain(line).expandtabs(_TAB))
        rows += max(1, -(-width // max(columns, 1)))
        if rows > limit:
            break
    return rows


class _Mode(enum.Enum):
    IDLE = "idle"  # no command runs: bytes pass through
    HOLDING = "holding"  # deciding: up to a screen is held
    PAGING = "paging"  # the pager shows the output
    DIRECT = "direct"  # this command's output is not paged
    QUIT = "quit"  # the person quit the pager: the command must stop


class TerminalPager:
    """Pages the output of one command at a time on one interactive session.

    The command's worker thread calls :meth:`write` (the sink returned by
    :meth:`attach`) inside :meth:`page`; the event loop feeds keys with
    :meth:`feed_keys` while :attr:`showing` and reports resizes with
    :meth:`resize`.  The state both sides touch is guarded by one condition.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        screen: Callable[[str], None],
        size: Callable[[], Size],
    ) -> None:
        self._loop = loop
        self._screen = screen
        self._size = size
        self._sink: Sink | None = None
        self._state = threading.Condition()
        self._mode = _Mode.IDLE
        self._held = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._view: _View | None = None
        self._view_closed = threading.Event()

    @property
    def showing(self) -> bool:
        """Whether the pager is on the screen: keys are for it, not for the prompt."""
        return self._view is not None and not self._view.closed

    def attach(self, sink: Sink) -> Sink:
        """Put the pager in front of *sink* (the terminal); returns the sink to write to."""
        self._sink = sink
        return self.write

    # The command's thread.

    @contextlib.contextmanager
    def page(self) -> Iterator[None]:
        """Around one command: page its output if it is longer than a screen."""
        with self._state:
            self._mode = _Mode.HOLDING
            self._held.clear()
        try:
            yield
        except PagerQuit:
            pass
        finally:
            self._finish()

    def write(self, data: bytes) -> None:
        """The sink commands write to (through :class:`~omsh.commands.output.Output`)."""
        with self._state:
            mode = self._mode
        if mode is _Mode.QUIT:
            raise PagerQuit()
        if mode is _Mode.PAGING:
            self._feed(data)
        elif mode is _Mode.HOLDING:
            self._hold(data)
        else:
            self._pass(data)

    def before_question(self) -> None:
        """A command is about to ask something: show what it wrote first, then stop paging."""
        with self._state:
            mode = self._mode
            self._mode = _Mode.DIRECT if mode is not _Mode.IDLE else mode
        if mode is _Mode.HOLDING:
            self._release_held()
        elif mode is _Mode.PAGING:
            self._end_of_output(wait=True)

    def _pass(self, data: bytes) -> None:
        assert self._sink is not None, "attach() first"
        self._sink(data)

    def _hold(self, data: bytes) -> None:
        if _BINARY.search(data):
            with self._state:
                self._mode = _Mode.DIRECT
            self._release_held()
            self._pass(data)
            return
        self._held += data
        size = self._size()
        limit = max(size.rows - 2, 1)  # a screen less the prompt and the toolbar
        text = self._held.decode("utf-8", "replace").replace("\r\n", "\n")
        if rows_needed(text.removesuffix("\n"), size.columns, limit) <= limit:
            return
        held = bytes(self._held)
        self._held.clear()
        view = _View(self, size)
        with self._state:
            self._mode = _Mode.PAGING
            self._view = view
            self._view_closed.clear()
        self._feed(held, start=view)

    def _release_held(self) -> None:
        held = bytes(self._held)
        self._held.clear()
        if held:
            self._pass(held)

    def _feed(self, data: bytes, start: _View | None = None) -> None:
        """Hand *data* to the view, then wait while it has read far enough ahead."""
        text = self._decoder.decode(data).replace("\r\n", "\n")
        view = self._view
        assert view is not None
        with self._state:
            view.add_text(text)
        self._loop.call_soon_threadsafe(view.start if start is not None else view.refresh)
        with self._state:
            while self._mode is _Mode.PAGING and not view.wants_more():
                self._state.wait()
            if self._mode is _Mode.QUIT:
                raise PagerQuit()

    def _finish(self) -> None:
        with self._state:
            mode = self._mode
            self._mode = _Mode.IDLE
        if mode is _Mode.HOLDING:
            self._release_held()
        elif mode is _Mode.PAGING:
            self._end_of_output(wait=True)
        self._decoder.reset()
        self._view = None

    def _end_of_output(self, *, wait: bool) -> None:
        """Tell the view the output is complete; wait until the person quits it."""
        view = self._view
        if view is None:
            return
        tail = self._decoder.decode(b"", final=True)
        with self._state:
            view.add_text(tail)
            view.complete = True
        self._loop.call_soon_threadsafe(view.refresh)
        if wait:
            self._view_closed.wait()

    # The event loop.

    def feed_keys(self, text: str) -> str:
        """Keys typed while the pager shows; returns those that came after the quitting key.

        Those are typeahead for the prompt, as the terminal keeps for bash
        what was typed after ``q`` in ``less``.
        """
        if self._view is None:
            return text
        return self._view.feed_keys(text)

    def resize(self) -> None:
        if self._view is not None and not self._view.closed:
            self._view.resize(self._size())

    def close(self) -> None:
        """The session is over: let a command waiting on the pager go."""
        if self._view is not None:
            self._view.quit()
        else:
            self._view_closed.set()

    def _view_quit(self) -> None:
        """Called by the view when the person quits it."""
        with self._state:
            if self._mode is _Mode.PAGING:
                self._mode = _Mode.QUIT
            self._state.notify_all()
        self._view_closed.set()

    def _wake(self) -> None:
        """The view wants more lines: let the command write on."""
        with self._state:
            self._state.notify_all()


class _View:
    """What the pager shows, and the keys that move it; lives on the event loop.

    ``lines`` and ``complete`` are written by the command's thread under the
    pager's lock; everything else is the loop's alone.
    """

    def __init__(self, pager: TerminalPager, size: Size) -> None:
        self._pager = pager
        self._lock = pager._state
        self.lines: list[str] = [""]  # the last one is incomplete
        self.complete = False
        self.closed = False
        self._size = size
        self._top = 0
        self._left = 0
        #: Lines the person wants available (beyond what is shown); None: all.
        self._wanted: int | None = 0
        self._drawn = False
        self._message = ""
        self._search: re.Pattern[str] | None = None
        self._pending_search: tuple[int, int] | None = None  # (from line, direction)
        self._typing: str | None = None  # the search being typed, with its / or ?
        self._keys = Vt100Parser(self._key)
        #: Keys (as typed) that came after the one that quit, for the prompt.
        self._after_quit: list[str] = []
        self._escape_timer: asyncio.TimerHandle | None = None
        self._want_more()

    # Called by the command's thread, under the lock.

    def add_text(self, text: str) -> None:
        if not text:
            return
        parts = text.split("\n")
        self.lines[-1] = (self.lines[-1] + parts[0])[:MAX_LINE_CHARS]
        self.lines.extend(part[:MAX_LINE_CHARS] for part in parts[1:])
        excess = len(self.lines) - MAX_LINES
        if excess > MAX_LINES // 10:
            del self.lines[:excess]
            self._top = max(self._top - excess, 0)
            if self._pending_search is not None:
                start, direction = self._pending_search
                self._pending_search = (max(start - excess, 0), direction)

    def wants_more(self) -> bool:
        """Whether the command should write on: the view is open and has not read far enough."""
        if self.closed:
            return False
        return self._wanted is None or self._count() < self._wanted

    # The event loop.

    @property
    def _page(self) -> int:
        return max(self._size.rows - 1, 1)

    def _count(self) -> int:
        """Lines to show: an empty incomplete last line is not one."""
        return len(self.lines) - (1 if self.lines[-1] == "" else 0)

    def _last_top(self) -> int:
        return max(self._count() - self._page, 0)

    def _want_more(self, everything: bool = False) -> None:
        self._wanted = None if everything else self._top + self._page * (1 + READ_AHEAD_SCREENS)
        self._pager._wake()

    def start(self) -> None:
        with self._lock:
            self._draw(full=False)

    def refresh(self) -> None:
        """New lines came, or the output ended: finish a pending motion, redraw if it shows."""
        with self._lock:
            if self.closed:
                return
            if self._pending_search is not None:
                self._continue_search()
            elif self._wanted is None:  # G: follow to the end
                self._top = self._last_top()
                if self.complete:
                    self._want_more()
            self._draw()

    def resize(self, size: Size) -> None:
        with self._lock:
            self._size = size
            self._top = min(self._top, self._last_top())
            self._want_more(everything=self._wanted is None)
            self._draw()

    def feed_keys(self, text: str) -> str:
        """Act on *text*'s keys; returns what followed the key that quit (else "")."""
        if self._escape_timer is not None:
            self._escape_timer.cancel()
        with self._lock:
            self._keys.feed(text)
            if self.closed:
                self._keys.flush()  # a partial sequence is the prompt's to complete
            after_quit, self._after_quit = "".join(self._after_quit), []
        if not self.closed:
            # A lone Escape is a key only if nothing follows soon.
            self._escape_timer = asyncio.get_running_loop().call_later(
                ESCAPE_TIMEOUT, self._flush_keys
            )
        return after_quit

    def _flush_keys(self) -> None:
        with self._lock:
            self._keys.flush()

    def quit(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self._escape_timer is not None:
                self._escape_timer.cancel()
            if self._drawn:
                self._pager._screen("\r\x1b[K")  # the status line goes; the text stays (-X)
            self._pager._view_quit()

    # Keys.

    def _key(self, press: KeyPress) -> None:
        if self.closed:
            self._after_quit.append(press.data)
            return
        if self._typing is not None:
            self._type_search(press)
            return
        self._message = ""
        action = _ACTIONS.get(press.key)
        if action is not None:
            action(self)
            if not self.closed:
                self._draw()

    def _move(self, lines: int) -> None:
        self._top = max(0, min(self._top + lines, self._last_top()))
        self._want_more()

    def forward_page(self) -> None:
        self._move(self._page)

    def back_page(self) -> None:
        self._move(-self._page)

    def forward_line(self) -> None:
        self._move(1)

    def back_line(self) -> None:
        self._move(-1)

    def forward_half(self) -> None:
        self._move(self._page // 2)

    def back_half(self) -> None:
        self._move(-(self._page // 2))

    def right(self) -> None:
        self._left += max(self._size.columns // 2, 1)

    def left(self) -> None:
        self._left = max(self._left - max(self._size.columns // 2, 1), 0)

    def first(self) -> None:
        self._top = 0
        self._want_more()

    def last(self) -> None:
        self._top = self._last_top()
        self._want_more(everything=not self.complete)

    def redraw(self) -> None:
        """Nothing to change: every key is followed by a full redraw."""

    def search_forward(self) -> None:
        self._typing = "/"

    def search_back(self) -> None:
        self._typing = "?"

    def next_match(self) -> None:
        self._start_search(self._top + 1, 1)

    def previous_match(self) -> None:
        self._start_search(self._top - 1, -1)

    def _type_search(self, press: KeyPress) -> None:
        assert self._typing is not None
        if press.key in (Keys.ControlM, Keys.ControlJ):
            typed, self._typing = self._typing, None
            if len(typed) > 1:
                self._compile(typed[1:])
            if self._search is not None:
                direction = 1 if typed[0] == "/" else -1
                self._start_search(self._top + direction, direction)
        elif press.key in (Keys.Escape, Keys.ControlC, Keys.ControlG):
            self._typing = None
        elif press.key in (Keys.Backspace, "\x7f"):
            self._typing = self._typing[:-1] or None
        elif isinstance(press.key, str) and len(press.key) == 1 and press.key.isprintable():
            self._typing += press.key
        self._draw()

    def _compile(self, pattern: str) -> None:
        flags = 0 if any(char.isupper() for char in pattern) else re.IGNORECASE
        try:
            self._search = re.compile(pattern, flags)
        except re.error:
            self._search = re.compile(re.escape(pattern), flags)

    def _start_search(self, start: int, direction: int) -> None:
        if self._search is None:
            self._message = "No previous regular expression"
            return
        self._pending_search = (max(start, 0), direction)
        self._continue_search()

    def _continue_search(self) -> None:
        """Look for the pattern from the pending start; read on if the output is not complete."""
        assert self._pending_search is not None and self._search is not None
        start, direction = self._pending_search
        count = self._count()
        stop = count if direction > 0 else -1
        for index in range(min(start, count - 1), stop, direction):
            if self._search.search(plain(self.lines[index])):
                self._pending_search = None
                self._top = index
                self._want_more()
                return
        if direction > 0 and not self.complete:
            self._pending_search = (count, direction)
            self._message = "searching (q or Ctrl-C to stop)"
            self._want_more(everything=True)
            return
        self._pending_search = None
        self._message = "Pattern not found"
        self._want_more()

    # Drawing.

    def _render(self, index: int) -> str:
        if index >= self._count():
            return "~"
        line = self.lines[index]
        if self._search is not None and self._search.search(plain(line)):
            line = self._search.sub(lambda m: f"{REVERSE}{m.group()}{NO_REVERSE}", plain(line))
        return chop(line, self._left, self._size.columns)

    def _status(self) -> str:
        if self._typing is not None:
            return self._typing
        if self._message:
            return f"{REVERSE}{self._message}{NO_REVERSE}"
        if self.complete and self._top >= self._last_top():
            return f"{REVERSE}(END){NO_REVERSE}"
        return ":"

    def _draw(self, *, full: bool = True) -> None:
        """Show the page at ``_top`` and the status line.

        The first time, lines are printed from where the cursor is, so the
        terminal scrolls them up (nothing is cleared: ``-X``); after that the
        screen is the pager's, and a redraw writes every row from the top.
        """
        if self.closed:
            return
        rows = [self._render(index) for index in range(self._top, self._top + self._page)]
        if full and self._drawn:
            body = "".join(f"{row}\x1b[K\r\n" for row in rows)
            self._pager._screen(f"\x1b[H{body}\x1b[K{self._status()}\x1b[K")
        else:
            body = "".join(f"{row}\r\n" for row in rows)
            self._pager._screen(f"\r\x1b[K{body}{self._status()}")
        self._drawn = True


_ACTIONS: dict[Keys | str, Callable[[_View], None]] = {}
for _keys, _action in (
    (("q", "Q", Keys.ControlC), _View.quit),
    ((" ", "f", "z", Keys.PageDown, Keys.ControlF, Keys.ControlV), _View.forward_page),
    (("b", "w", Keys.PageUp, Keys.ControlB), _View.back_page),
    (
        ("j", "e", Keys.Down, Keys.ControlM, Keys.ControlJ, Keys.ControlN, Keys.ControlE),
        _View.forward_line,
    ),
    (("k", "y", Keys.Up, Keys.ControlP, Keys.ControlY, Keys.ControlK), _View.back_line),
    (("d", Keys.ControlD), _View.forward_half),
    (("u", Keys.ControlU), _View.back_half),
    ((Keys.Right,), _View.right),
    ((Keys.Left,), _View.left),
    (("g", "<", Keys.Home), _View.first),
    (("G", ">", Keys.End), _View.last),
    (("r", Keys.ControlL, Keys.ControlR), _View.redraw),
    (("/",), _View.search_forward),
    (("?",), _View.search_back),
    (("n",), _View.next_match),
    (("N",), _View.previous_match),
):
    for _key in _keys:
        _ACTIONS[_key] = _action
