"""Ctrl-C and progress bars against a real ``omsh serve``, through real clients.

* exec mode, asyncssh client: ``send_signal("INT")`` and ``send_break``
  stop a multi-object ``cat`` and a ``put`` (which then stores nothing);
* OpenSSH ``ssh -tt`` in tmux (:mod:`tests.terminal`), the interactive shell
  and an exec command: Ctrl-C is a ``0x03`` on the PTY.

Times are printed (``pytest -s``) rather than asserted tightly: machines
are noisy.  The assertions are "the prompt is back within a few seconds"
and "far fewer bytes arrived than were asked for".
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.e2e import OmshServer
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
LINE = b"omsh keeps scrolling this line of text past the reader\n"
#: Four objects of 16 MiB: a cat of all of them is 64 MiB.
OBJECTS = [f"/cancel/big{n}.txt" for n in range(4)]
OBJECT_SIZE = len(LINE) * (16 * MIB // len(LINE))
TOTAL = OBJECT_SIZE * len(OBJECTS)
PROMPT = "admin@omsh:/$"
#: The prompt must be back within this many seconds of the Ctrl-C.
PATIENCE = 5.0


@pytest.fixture(scope="module")
def big(server: OmshServer) -> None:
    assert server.ssh("mkdir -p /cancel").status == 0
    content = LINE * (OBJECT_SIZE // len(LINE))
    for path in OBJECTS:
        done = server.ssh(f"put {path}", stdin=content)
        assert done.status == 0, done.err


# -- exec mode: signal and break requests over the channel --------------------------


def _connect(server: OmshServer) -> Any:
    """An asyncssh connection as the admin, by key."""
    return asyncssh.connect(
        "127.0.0.1",
        server.port,
        username="admin",
        client_keys=[str(server.client_key)],
        known_hosts=str(server.known_hosts()),
        agent_path=None,
    )


async def _interrupted_cat(server: OmshServer, interrupt: str) -> tuple[int, int, float]:
    """``cat`` of every object; after 1 MiB, *interrupt*; returns status, bytes, seconds.

    *interrupt*: ``INT`` (a signal request), ``INT after EOF`` (stdin closed
    first), ``break``, or ``typed`` (a PTY; keys typed ahead, then Ctrl-C).
    """
    async with _connect(server) as conn:
        command = f"cat {' '.join(OBJECTS)}"
        tty = {"term_type": "xterm"} if interrupt == "typed" else {}
        process = await conn.create_process(command, encoding=None, **tty)
        if interrupt == "INT after EOF":
            process.stdin.write_eof()
        received = 0
        while received < MIB:
            received += len(await process.stdout.read(64 * 1024))
        if interrupt == "break":
            process.send_break(0)
        elif interrupt == "typed":
            for _ in range(3):  # more typed ahead than the command takes (none)
                process.stdin.write(b"typed ahead, never read\r" * 100)
                await asyncio.sleep(0.05)
            process.stdin.write(b"\x03")
        else:
            process.send_signal(interrupt.split()[0])
        sent = time.monotonic()
        while data := await process.stdout.read(1 << 20):
            received += len(data)
        completed = await process.wait()
        return completed.exit_status, received, time.monotonic() - sent


@pytest.mark.parametrize("interrupt", ["INT", "INT after EOF", "break", "typed"])
def test_exec_signal_stops_a_multi_object_cat(server, big, interrupt):
    status, received, seconds = asyncio.run(_interrupted_cat(server, interrupt))
    print(f"\nexec {interrupt}: exit {status} {seconds:.3f} s after it, {received / MIB:.1f} MiB")
    assert status == 130
    assert received < TOTAL // 4  # not even one object more than the first MiB
    assert seconds < PATIENCE


async def _interrupted_put(server: OmshServer) -> int:
    async with _connect(server) as conn:
        process = await conn.create_process("put /cancel/half-sent", encoding=None)
        process.stdin.write(LINE * 40_000)  # 2 MiB, and no end of input
        await process.stdin.drain()
        process.send_signal("INT")
        completed = await process.wait()
        return completed.exit_status


def test_exec_signal_stops_a_put_and_stores_nothing(server, big):
    assert asyncio.run(_interrupted_put(server)) == 130
    assert server.ssh("stat /cancel/half-sent").status == 3


def test_exec_signals_that_do_not_interrupt_are_ignored(server, big):
    async def scenario() -> tuple[int, bytes]:
        async with _connect(server) as conn:
            process = await conn.create_process(f"head -n 2 {OBJECTS[0]}", encoding=None)
            process.send_signal("WINCH")
            out = await process.stdout.read()
            return (await process.wait()).exit_status, out

    status, out = asyncio.run(scenario())
    assert (status, out) == (0, LINE * 2)


def test_a_signal_ends_a_script_session_like_sh(server, big):
    """``ssh -T host < script``: a signal stops the script before its next line, status 130."""

    async def scenario() -> tuple[int | None, bytes]:
        async with _connect(server) as conn:
            process = await conn.create_process(encoding=None)  # no command, no PTY: a script
            process.stdin.write(b"mkdir -p /cancel/script\npwd\n")
            out = await process.stdout.readline()
            process.send_signal("INT")
            process.stdin.write(b"mkdir /cancel/script/after\n")
            return (await process.wait()).exit_status, out

    status, out = asyncio.run(scenario())
    assert (status, out) == (130, b"/\n")
    assert server.ssh("stat /cancel/script").status == 0
    assert server.ssh("stat /cancel/script/after").status == 3


# -- a real PTY: OpenSSH in tmux ----------------------------------------------------


@pytest.fixture
def logged(server, big, tmp_path) -> Iterator[tuple[Terminal, Path]]:
    """``ssh -tt`` in tmux with everything it prints also logged to a file."""
    log = tmp_path / "screen.log"
    command = f"{shlex.join(server.ssh_argv('-tt'))} | tee {shlex.quote(str(log))}"
    terminal = Terminal(["sh", "-c", command], tmp_path)
    try:
        terminal.wait_for(PROMPT)
        yield terminal, log
    finally:
        terminal.close()


def _prompt_is_back(screen: str) -> bool:
    """A line that is the bare prompt (the one the command was typed at has the command)."""
    return PROMPT in screen.splitlines()


def _press_ctrl_c_when_it_scrolls(term: Terminal) -> float:
    term.wait_for(LINE.decode().strip())
    term.press("C-c")
    return time.monotonic()


def test_ctrl_c_stops_a_multi_object_cat_in_the_shell(logged):
    term, log = logged
    term.type(f"cat --no-pager {' '.join(OBJECTS)}")  # in the pager, Ctrl-C quits it
    term.press("Enter")
    pressed = _press_ctrl_c_when_it_scrolls(term)
    screen = term.wait_for(_prompt_is_back, timeout=30)
    seconds = time.monotonic() - pressed
    arrived = log.stat().st_size
    print(f"\nshell: prompt {seconds:.2f} s after Ctrl-C; {arrived / MIB:.1f} MiB arrived")
    assert "^C" in screen
    assert seconds < PATIENCE
    assert arrived < TOTAL // 4
    term.wait_for(lambda s: "exit 130: interrupted" in s)  # the toolbar


def test_ctrl_c_stops_an_exec_command_on_a_pty(server, big, tmp_path):
    # 512 MiB (each object eight times): on a loaded machine the screen is
    # read slowly, and 64 MiB could be done before the Ctrl-C is pressed.
    argv = [*server.ssh_argv("-tt"), f"cat {' '.join(OBJECTS * 8)}"]
    term = Terminal(argv, tmp_path)
    try:
        pressed = _press_ctrl_c_when_it_scrolls(term)
        status = term.wait_for_exit(timeout=30)
        seconds = time.monotonic() - pressed
        print(f"\nssh -tt exec: exit {status} {seconds:.2f} s after Ctrl-C")
        assert status == 130
        assert seconds < PATIENCE
    finally:
        term.close()


def test_cat_of_a_large_object_shows_a_progress_bar_then_clears_it(logged):
    term, log = logged
    term.type(f"cat --no-pager {OBJECTS[0]}")
    term.press("Enter")
    term.wait_for(LINE.decode().strip())  # started: the bare prompt is gone
    screen = term.wait_for(_prompt_is_back, timeout=60)
    drawn = log.read_bytes()
    assert b"\rcat  " in drawn and b" / 16.0 MiB  " in drawn and b"ETA " in drawn
    assert "MiB/s" not in screen  # erased: the screen shows content and the prompt only


def test_a_signal_request_interrupts_the_interactive_shell_too(server, big):
    async def scenario() -> bytes:
        async with _connect(server) as conn:
            process = await conn.create_process(
                term_type="xterm", term_size=(100, 30), encoding=None
            )
            # The prompt is coloured: its parts come with escape codes between.
            seen = b""
            while b"@omsh" not in seen:
                seen += await asyncio.wait_for(process.stdout.read(4096), PATIENCE)
            process.stdin.write(f"cat --no-pager {' '.join(OBJECTS)}\r".encode())
            seen = b""
            while seen.count(LINE.rstrip()) < 100:
                seen += await asyncio.wait_for(process.stdout.read(1 << 16), PATIENCE)
            process.send_signal("INT")
            seen = b""
            while b"^C" not in seen or b"@omsh" not in seen.split(b"^C")[-1]:
                seen += await asyncio.wait_for(process.stdout.read(1 << 16), PATIENCE)
            process.stdin.write(b"exit\r")
            await process.wait()
            return seen

    after = asyncio.run(scenario()).split(b"^C")[-1]
    assert LINE.rstrip() not in after  # nothing of the cat after the ^C
