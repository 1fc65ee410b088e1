"""Progress bars: the line, its timing, the terminal's status line, and the commands.

Commands are driven as in the interactive shell on a terminal (their bars
appear) and as in exec mode or with ``--json`` (never).  The bar's first
draw and throttle are set to zero here so every step draws; the timing
itself is tested with a fake clock.  On a real PTY: ``tests/test_cancel_e2e.py``.
"""

from __future__ import annotations

import re

import pytest

from omsh.commands import progress
from omsh.commands.output import BufferOutput, Output
from omsh.commands.progress import Progress, binary_size, duration

MIB = 1024 * 1024
BAR = re.compile(r"\r([^\r\n\x1b]*)\x1b\[K")
ERASE = "\r\x1b[K"


def bars(text: str) -> list[str]:
    """The bars drawn in *text* (each ``\\rTEXT\\x1b[K``), without the erasures."""
    return [bar for bar in BAR.findall(text) if bar]


def test_sizes_and_durations_read_as_transfer_tools_show_them():
    assert binary_size(512) == "512 B"
    assert binary_size(12.3 * MIB) == "12.3 MiB"
    assert binary_size(3 * 1024 * MIB) == "3.0 GiB"
    assert duration(5) == "0:05"
    assert duration(754) == "12:34"
    assert duration(3723) == "1:02:03"


def test_the_line_has_amounts_rate_and_eta():
    now = [0.0]
    bar = Progress(None, "verify", 40 * MIB, clock=lambda: now[0])
    now[0] = 2.0
    bar.advance(10 * MIB)
    assert bar.text(now[0]) == "verify  10.0 MiB / 40.0 MiB  5.0 MiB/s  ETA 0:06"
    objects = Progress(None, "rm", 10_000, unit="objects", clock=lambda: now[0])
    now[0] = 4.0
    objects.advance(1_000)
    assert objects.text(now[0]) == "rm  1,000 / 10,000 objects  500/s  ETA 0:18"
    assert Progress(None, "x", 5, clock=lambda: now[0]).text(now[0]).endswith("ETA --:--")


def test_draws_late_at_most_ten_times_a_second_and_erases_itself():
    now = [0.0]
    out = BufferOutput(terminal=True)
    with Progress(out, "cp", 100, clock=lambda: now[0]) as bar:
        bar.advance(10)  # at once: quick commands show nothing
        now[0] = 0.5
        bar.advance(10)
        now[0] = 0.55
        bar.advance(10)  # 50 ms after the last draw: skipped
        now[0] = 0.7
        bar.advance(10)
    assert [b.split("  ")[1] for b in bars(out.text)] == ["20 B / 100 B", "40 B / 100 B"]
    assert out.text.endswith(ERASE)


def test_status_line_never_overwrites_output_and_output_erases_it():
    out, err = BufferOutput(terminal=True), BufferOutput(terminal=True)
    out.partner, err.partner = err, out
    out.write("half a line")
    out.show_status("bar")
    assert "bar" not in out.text  # mid-line: not drawn
    out.write(" ends\n")
    out.show_status("bar")
    assert out.text.endswith("\r\n\rbar\x1b[K") and out.status_shown
    err.line("omsh: x: warning")  # the other stream erases it first
    assert out.text.endswith("bar\x1b[K\r\x1b[K") and not out.status_shown
    plain = BufferOutput()
    plain.show_status("bar")
    assert plain.text == ""  # never off a terminal


@pytest.fixture
def immediate(monkeypatch) -> None:
    """Every step draws: no delay before the first bar, no throttle."""
    monkeypatch.setattr(progress, "FIRST_DRAW", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


@pytest.fixture
def shell(admin, immediate):
    """The admin's shell as the interactive one on a terminal, with a tree to work on."""
    admin.ok("mkdir -p /p/sub")
    for name in ("a", "b", "sub/c"):
        admin.ok(f"put /p/{name}", stdin=b"z" * MIB)
    admin.session.interactive = True
    admin.terminal = True
    return admin


@pytest.mark.parametrize(
    ("line", "label", "amount"),
    [
        ("verify -r /p", "verify", "3.0 MiB / 3.0 MiB"),
        ("cp -r /p /q", "cp", "3.0 MiB / 3.0 MiB"),
        ("rm -rf /p", "rm", "5 / 5 objects"),
        ("check", "check", "3.0 MiB / 3.0 MiB"),
    ],
)
def test_long_commands_show_a_bar_and_clear_it(shell, line, label, amount):
    status, out, _ = shell(line)
    assert status == 0
    drawn = bars(out)
    assert drawn and all(bar.startswith(f"{label}  ") for bar in drawn)
    assert drawn[-1].split("  ")[1] == amount
    assert out.count(ERASE) >= 1
    assert not shell.out.status_shown  # nothing left on the screen


def test_verify_lines_erase_the_bar_before_they_print(shell):
    out = shell.ok("verify -r /p")
    for line in ("OK /p/a", "OK /p/b", "OK /p/sub/c"):
        assert f"{ERASE}{line}\r\n" in out or out.startswith(f"{line}\r\n")


def test_cat_shows_a_bar_only_for_large_objects(shell):
    shell.session.interactive = False
    shell.ok("put /p/big", stdin=b"line of text\n" * (9 * MIB // 13))
    shell.session.interactive = True
    assert bars(shell.ok("cat /p/big"))
    assert not bars(shell.ok("cat /p/a"))


@pytest.mark.parametrize("line", ["verify -r /p", "verify -r --json /p", "check --json"])
def test_never_in_exec_mode_or_with_json(shell, line):
    if "--json" not in line:
        shell.session.interactive = False  # exec with a PTY: output may be captured
    status, out, _ = shell(line)
    assert status == 0
    assert not bars(out) and ERASE not in out


def test_the_bar_goes_straight_to_the_terminal_past_a_pager_and_not_over_it():
    screen = BufferOutput(terminal=True)  # the terminal itself
    paged = bytearray()  # what a pager in front of it was given
    out = Output(paged.extend, terminal=True)
    out.status_sink = screen.write_bytes
    showing = [False]
    out.status_allowed = lambda: not showing[0]
    out.line("held by the pager")
    out.show_status("bar")
    out.line("more")
    out.flush()
    assert paged == b"held by the pager\r\nmore\r\n"  # no bar in the paged text
    assert screen.text == "\rbar\x1b[K\r\x1b[K"  # drawn and erased on the terminal
    showing[0] = True
    out.show_status("bar")  # the pager is on the screen: nothing
    assert screen.text.count("bar") == 1 and not out.status_shown
