"""The interactive shell's keyboard: the channel's keystrokes, held in memory for prompt_toolkit.

prompt_toolkit reads keys from an :class:`~prompt_toolkit.input.Input`.  Its
own pipe input is an OS pipe watched with ``loop.add_reader``, which does not
suit a server with many sessions on one event loop:

* writing to it blocks: once a command has run long enough for 64 KiB of
  typeahead to pile up (a paste), the write stops the whole event loop, so
  the command's output never drains and every session of the server hangs;
* prompt_toolkit registers the reader in a process-wide table keyed by file
  descriptor number, and pipe numbers are reused by every new session.

:class:`ChannelKeys` keeps what the client typed in memory instead, in
order, until a prompt reads it: typeahead typed before the first prompt is
drawn, while a command runs or between two prompts is all read by the next
prompt, as a terminal's input queue keeps it for bash.  Nothing is
dropped but by Ctrl-C during a command (:meth:`ChannelKeys.discard`, as the
terminal's line discipline flushes its queue), and writing never blocks.

At the command prompt a Tab is read on its own: completion runs in a
worker, and the keys typed after the Tab wait until it has landed
(:meth:`ChannelKeys.tab_done`), so ``pw`` Tab Enter sent in one burst runs
``pwd`` as bash's readline would, not ``pw``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from prompt_toolkit.input import Input
from prompt_toolkit.input.typeahead import clear_typeahead
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys

_numbers = itertools.count(1)
#: The longest keys wait behind a Tab whose completion never reports back (seconds).
TAB_WAIT_LIMIT = 5.0


class ChannelKeys(Input):
    """Keystrokes from one session's channel, for the prompts of that session.

    The keystroke pump calls :meth:`send_text` with what arrives and
    :meth:`close` at end of input; the prompt that is showing (at most one
    at a time, an attached one) is told on the event loop that keys wait.
    """

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._end = False
        self._parsed: list[KeyPress] = []
        self._parser = Vt100Parser(self._parsed.append)
        #: The prompts' "keys are ready" callbacks (None: detached), innermost last.
        self._readers: list[tuple[Callable[[], None] | None]] = []
        self._wake_scheduled = False
        self._hash = f"omsh-channel-keys-{next(_numbers)}"
        #: Whether a Tab is read on its own, the keys after it held (see the module docstring).
        self.tab_completes = False
        #: Keys read but held back behind a Tab, and the Tab's time limit while one is.
        self._held: list[KeyPress] = []
        self._tab_limit: asyncio.TimerHandle | None = None

    # The keystroke pump.

    def send_text(self, text: str) -> None:
        """Queue *text* (as typed) for the prompt; never blocks."""
        if text:
            self._pending.append(text)
            self._wake()

    def close(self) -> None:
        """End of input: once what is queued has been read, the prompt sees end-of-file."""
        self._end = True
        self._wake()

    def discard(self) -> None:
        """Drop everything typed ahead, as a terminal flushes its input queue on Ctrl-C.

        That includes keys a prompt read after the Enter that ended it, which
        prompt_toolkit keeps for the next prompt.
        """
        self._pending.clear()
        self._parser.reset()
        self._parsed.clear()
        self._held.clear()
        clear_typeahead(self)

    def tab_done(self) -> None:
        """The completion a Tab started has landed (or none was started): read on."""
        if self._tab_limit is not None:
            self._tab_limit.cancel()
            self._tab_limit = None
            self._wake()

    @property
    def pending(self) -> str:
        """What was typed and no prompt has read yet."""
        return "".join(key.data for key in self._held) + "".join(self._pending)

    def _wake(self) -> None:
        if self._reader() is not None and not self._wake_scheduled:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._ready)

    def _reader(self) -> Callable[[], None] | None:
        return self._readers[-1][0] if self._readers else None

    def _ready(self) -> None:
        self._wake_scheduled = False
        reader = self._reader()
        waiting = self._tab_limit is not None
        if reader is not None and not waiting and (self._held or self._pending or self._end):
            reader()

    # prompt_toolkit's side.

    def read_keys(self) -> list[KeyPress]:
        if self._tab_limit is not None:
            return []  # behind a Tab whose completion has not landed
        text = "".join(self._pending)
        self._pending.clear()
        self._parser.feed(text)
        keys = self._held + self._parsed
        self._held, self._parsed[:] = [], []
        if self.tab_completes:
            tab = next((i for i, key in enumerate(keys) if key.key == Keys.Tab), None)
            if tab is not None:
                keys, self._held = keys[: tab + 1], keys[tab + 1 :]
                # Until the completion calls tab_done; never for good.
                self._tab_limit = asyncio.get_running_loop().call_later(
                    TAB_WAIT_LIMIT, self.tab_done
                )
        return keys

    def flush_keys(self) -> list[KeyPress]:
        """Whatever a pending escape sequence holds (a lone Escape), as keys."""
        self._parser.flush()
        keys, self._parsed[:] = list(self._parsed), []
        return keys

    @property
    def closed(self) -> bool:
        return self._end and not self._pending and not self._held

    def attach(self, input_ready_callback: Callable[[], None]) -> AbstractContextManager[None]:
        return self._reading(input_ready_callback)

    def detach(self) -> AbstractContextManager[None]:
        return self._reading(None)

    @contextlib.contextmanager
    def _reading(self, reader: Callable[[], None] | None) -> Iterator[None]:
        """*reader* is told of keys while inside; the previous one again afterwards."""
        entry = (reader,)
        self._readers.append(entry)
        try:
            self._wake()  # typeahead is read at once
            yield
        finally:
            del self._readers[next(i for i, e in enumerate(self._readers) if e is entry)]
            self._wake()

    def typeahead_hash(self) -> str:
        return self._hash

    def fileno(self) -> int:
        raise NotImplementedError("keys come from an SSH channel, not a file descriptor")

    def raw_mode(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def cooked_mode(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()
