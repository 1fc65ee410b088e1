"""Driving an interactive client on a real pseudo-terminal, through tmux.

:class:`Terminal` runs one command (``ssh -tt …``, ``plink -t …``) in a
detached tmux session on a private server socket, types into it with
``send-keys`` and reads the screen with ``capture-pane``, so a test sees
exactly what a person would.  Waits poll the screen until a deadline rather
than sleeping for a fixed time.  tmux must be installed (``.ci/run`` does).
"""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.e2e import need

POLL_INTERVAL = 0.05


class Terminal:
    """One program on a *width* x *height* pseudo-terminal."""

    def __init__(self, argv: list[str], workdir: Path, *, width: int = 100, height: int = 30):
        self.socket = f"omsh-test-{uuid.uuid4().hex[:12]}"
        config = workdir / f"{self.socket}.conf"
        # Keep the pane after the program ends, to read its exit status; no
        # status line, so the program has every row.
        config.write_text("set -g remain-on-exit on\nset -g status off\n")
        self._tmux(
            "-f",
            str(config),
            "new-session",
            "-d",
            "-x",
            str(width),
            "-y",
            str(height),
            shlex.join(argv),
        )
        self._socket_path = Path(self._tmux("display-message", "-p", "#{socket_path}").strip())

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            [need("tmux"), "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def type(self, text: str) -> None:
        """Type *text* literally (no key names)."""
        self._tmux("send-keys", "-l", text)

    def press(self, *keys: str) -> None:
        """Press keys by tmux name: ``Enter``, ``Tab``, ``C-c``, ``Up``…"""
        self._tmux("send-keys", *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def wait_for(self, condition: str | Callable[[str], bool], timeout: float = 15.0) -> str:
        """The screen once it shows *condition* (a text, or a test of the screen)."""
        test = condition if callable(condition) else lambda screen: condition in screen
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {condition!r}; screen:\n{screen}")
            time.sleep(POLL_INTERVAL)

    def exit_status(self) -> int | None:
        """The program's exit status once it has ended (``-N`` for signal N), else ``None``."""
        state = "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}"
        dead, status, signal = self._tmux("display-message", "-p", state).strip().split(":")
        if dead != "1":
            return None
        return int(status) if status else -int(signal or 0)

    def wait_for_exit(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"program still running; screen:\n{self.screen()}")
            time.sleep(POLL_INTERVAL)
        return status

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-x", str(width), "-y", str(height))

    def close(self) -> None:
        """End the program and the tmux server; tmux leaves its socket file behind."""
        subprocess.run(
            [need("tmux"), "-L", self.socket, "kill-server"], capture_output=True, timeout=10
        )
        self._socket_path.unlink(missing_ok=True)
