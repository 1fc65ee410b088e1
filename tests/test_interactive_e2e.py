"""The interactive shell as a person sees it: OpenSSH and PuTTY on a real PTY.

Each test runs a real client inside tmux (see :mod:`tests.terminal`) against
a real ``omsh serve`` on 127.0.0.1, types keys and reads the screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from omsh import __version__
from tests.terminal import Terminal

pytestmark = pytest.mark.e2e

# capture-pane drops trailing blanks, so a prompt is matched without its space.
PROMPT = "admin@omsh:/$"


def last_line(screen: str) -> str:
    lines = screen.rstrip("\n").splitlines()
    return lines[-1] if lines else ""


def run(term: Terminal, command: str, prompt: str = PROMPT) -> str:
    """Type *command*, press Enter and return what it printed before the next prompt."""
    term.type(command)
    term.press("Enter")
    typed = f"{prompt} {command}"

    def finished(screen: str) -> bool:
        lines = screen.splitlines()
        return typed in lines and lines[len(lines) - lines[::-1].index(typed) :].count(prompt) > 0

    lines = term.wait_for(finished).splitlines()
    start = len(lines) - lines[::-1].index(typed)
    return "\n".join(lines[start : lines.index(prompt, start)])


@pytest.fixture(scope="module")
def tree(server) -> None:
    wide = " ".join(f"/e2e/wide/container{n}" for n in range(6))
    done = server.ssh(f"mkdir -p /e2e/box '/e2e/my dir' {wide}")
    assert done.status == 0, done.err


@pytest.fixture
def term(server, tree, tmp_path) -> Iterator[Terminal]:
    """``ssh -tt admin@…`` on a 100x30 terminal, at its first prompt."""
    terminal = Terminal(server.ssh_argv("-tt"), tmp_path)
    try:
        terminal.wait_for(PROMPT)
        yield terminal
    finally:
        terminal.close()


def test_welcome_prompt_and_toolbar(term):
    screen = term.wait_for("help: list commands")
    assert f"omsh {__version__}" in screen
    assert "type 'help'" in screen
    assert screen.splitlines()[1] == PROMPT
    toolbar = last_line(screen)
    assert toolbar.startswith(" admin  / ")
    assert "exit" not in toolbar.replace("Ctrl-D: exit", "")


def test_commands_run_and_cd_shows_in_prompt(term):
    assert run(term, "pwd") == "/"
    term.type("cd /e2e/box")
    term.press("Enter")
    term.wait_for("admin@omsh:/e2e/box$")
    term.wait_for(lambda s: last_line(s).startswith(" admin  /e2e/box "))  # the toolbar
    assert run(term, "pwd", prompt="admin@omsh:/e2e/box$") == "/e2e/box"


def test_tab_completes_commands_and_paths(term):
    term.type("pw")
    term.press("Tab")
    term.wait_for(f"{PROMPT} pwd")
    term.press("Enter")
    term.wait_for(f"{PROMPT} pwd\n/\n{PROMPT}")

    term.type("cd /e2e/b")
    term.press("Tab")
    term.wait_for(f"{PROMPT} cd /e2e/box/")
    term.press("Enter")
    term.wait_for("admin@omsh:/e2e/box$")

    term.type("cd ../my")
    term.press("Tab")
    term.wait_for("admin@omsh:/e2e/box$ cd ../my\\ dir/")
    term.press("Enter")
    term.wait_for("admin@omsh:/e2e/my dir$")

    term.type("cd '../my")  # a quote the user opened is kept, and closed
    term.press("Tab")
    term.wait_for("admin@omsh:/e2e/my dir$ cd '../my dir/'")


def test_tab_twice_shows_a_menu(term):
    term.type("cd /e2e/")
    term.press("Tab")
    screen = term.wait_for("my dir/")
    assert "box/" in screen
    assert "container" in screen


def test_failed_command_shows_its_status_in_the_toolbar(term):
    term.type("cat /e2e/nothing")
    term.press("Enter")
    term.wait_for("omsh: cat: /e2e/nothing: not found")
    term.wait_for(lambda s: "exit 3: not found" in last_line(s))
    run(term, "pwd")
    assert "exit 3" not in last_line(term.screen())


def test_ctrl_c_abandons_the_line(term):
    term.type("cd /e2e")
    term.press("C-c")
    assert run(term, "pwd") == "/"


def test_ctrl_c_interrupts_a_running_command(server, term):
    line = b"a line of text that scrolls by\n"
    done = server.ssh("put /e2e/big.txt", stdin=line * 1_500_000)  # 46 MiB: seconds of output
    assert done.status == 0, done.err
    term.type("cat --no-pager /e2e/big.txt")
    term.press("Enter")
    term.wait_for(line.decode())
    term.press("C-c")
    term.wait_for(f"^C\n{PROMPT}")  # as bash: ^C, then the prompt
    term.wait_for(lambda s: "exit 130: interrupted" in last_line(s))


def test_output_without_a_final_newline_keeps_its_line(server, term):
    done = server.ssh("put /e2e/no-newline.txt", stdin=b"no newline at the end")
    assert done.status == 0, done.err
    term.type("cat /e2e/no-newline.txt")
    term.press("Enter")
    term.wait_for(f"no newline at the end%\n{PROMPT}")
    term.type("ls /e2")
    term.press("BSpace")  # a redraw must not overwrite the output
    screen = term.wait_for(f"no newline at the end%\n{PROMPT} ls /e")
    assert screen.count(PROMPT) == 2


def test_secret_prompt_cancels_and_stays_out_of_history(term):
    term.type("passwd")
    term.press("Enter")
    term.wait_for("New password:")
    term.type("not-echoed")
    term.press("C-c")
    screen = term.wait_for("omsh: passwd: interrupted")
    assert "not-echoed" not in screen
    assert "*" not in screen
    listed = run(term, "history")
    assert "history" in listed
    assert "passwd" not in listed
    for _ in range(3):
        term.press("Up")
        screen = term.wait_for(lambda s: current_line(s) != PROMPT)
        assert "passwd" not in current_line(screen)


def test_rm_r_asks_and_n_keeps_the_tree_then_y_removes_it(server, term):
    done = server.ssh("mkdir -p /e2e/doomed/sub; put /e2e/doomed/sub/f", stdin=b"")
    assert done.status == 0, done.err
    term.type("rm -r /e2e/doomed")
    term.press("Enter")
    term.wait_for("remove 3 objects under /e2e/doomed? [y/N]")
    term.type("n")
    term.wait_for("[y/N] n")  # the answer echoes
    term.press("Enter")
    term.wait_for("omsh: rm: /e2e/doomed: cancelled, nothing removed")
    assert server.ssh("stat /e2e/doomed/sub/f").status == 0
    term.type("rm -r /e2e/doomed")
    term.press("Enter")
    term.wait_for(lambda screen: screen.count("remove 3 objects under /e2e/doomed?") == 2)
    term.type("y")
    term.press("Enter")
    term.wait_for(lambda screen: current_line(screen) == PROMPT and "[y/N] y" in screen)
    assert server.ssh("stat /e2e/doomed").status == 3
    assert run(term, "pwd") == "/"


def current_line(screen: str) -> str:
    """The last prompt line on the screen: the one being edited."""
    return [line for line in screen.splitlines() if line.startswith(PROMPT)][-1]


def test_ctrl_l_clears_the_screen(term):
    run(term, "pwd")
    term.press("C-l")
    screen = term.wait_for(lambda s: s.splitlines()[0] == PROMPT)
    assert "pwd" not in screen


def test_exit_ends_the_session(term):
    term.type("exit")
    term.press("Enter")
    assert term.wait_for_exit() == 0


def test_ctrl_d_on_an_empty_line_ends_the_session(term):
    term.type("x")
    term.press("C-d")  # deletes nothing at the end of a line, ends nothing
    term.press("BSpace", "C-d")
    assert term.wait_for_exit() == 0


def test_resize_redraws_and_output_follows_the_width(term):
    assert len(run(term, "ls /e2e/wide").splitlines()) == 1  # six names fit in 100 columns
    term.resize(40, 20)
    screen = term.wait_for(lambda s: len(s.splitlines()) == 20 and " admin" in last_line(s))
    assert len(last_line(screen)) <= 40
    listed = run(term, "ls /e2e/wide").splitlines()
    assert len(listed) > 1
    assert all(len(line) <= 40 for line in listed)


@pytest.fixture
def plink_term(server, tree, tmp_path) -> Iterator[Terminal]:
    """PuTTY's ``plink -t admin@…`` on a 100x30 terminal, at its first prompt."""
    terminal = Terminal(server.plink_argv("-t"), tmp_path)
    try:
        # PuTTY's anti-spoofing pause after keyboard-interactive authentication.
        terminal.wait_for("Press Return to begin session")
        terminal.press("Enter")
        # The toolbar is drawn once the terminal's cursor report came back
        # through plink: from then on what is typed reaches the server.
        terminal.wait_for(lambda s: PROMPT in s and " admin  / " in last_line(s))
        yield terminal
    finally:
        terminal.close()


def test_putty_plink_interactive(plink_term):
    plink_term.type("cd /e2e/b")
    plink_term.press("Tab")
    plink_term.wait_for(f"{PROMPT} cd /e2e/box/")
    plink_term.press("Enter")
    plink_term.wait_for("admin@omsh:/e2e/box$")
    plink_term.type("exit")
    plink_term.press("Enter")
    assert plink_term.wait_for_exit() == 0


# -- the pager ---------------------------------------------------------------

NUMBERED = "".join(f"line {n:03d}\n" for n in range(1, 201)).encode()
STATUS = ":"


@pytest.fixture(scope="module")
def numbered(server, tree) -> str:
    """An object of 200 numbered lines: longer than any test screen."""
    done = server.ssh("put /e2e/lines.txt", stdin=NUMBERED)
    assert done.status == 0, done.err
    return "/e2e/lines.txt"


def screen_lines(term: Terminal) -> list[str]:
    return term.screen().rstrip("\n").splitlines()


def top_line(term: Terminal, expected: str) -> None:
    """Wait until the pager shows *expected* on the first row."""
    term.wait_for(lambda s: s.splitlines()[0] == expected)


def test_long_output_is_paged_like_less(term, numbered):
    term.type(f"cat {numbered}")
    term.press("Enter")
    screen = term.wait_for(lambda s: last_line(s) == STATUS)
    rows = screen.rstrip("\n").splitlines()
    assert len(rows) == 30
    assert rows[-2] == "line 029"  # a screen less the status line, printed as it came
    assert "line 030" not in screen
    term.type(" ")  # a screen forward: lines 30-58 scroll up
    top_line(term, "line 030")
    term.type("b")
    top_line(term, "line 001")
    term.press("Down")
    term.press("Down")
    top_line(term, "line 003")
    term.type("k")
    top_line(term, "line 002")
    term.type("G")
    screen = term.wait_for(lambda s: "(END)" in last_line(s))
    assert screen.splitlines()[-2] == "line 200"
    term.type("g")
    top_line(term, "line 001")
    term.type("/line 1[5]0")
    term.wait_for(lambda s: last_line(s) == "/line 1[5]0")
    term.press("Enter")
    top_line(term, "line 150")
    term.type("n")  # no other match: says so, stays
    term.wait_for(lambda s: "Pattern not found" in last_line(s))
    term.type("q")
    # The page stays on the screen (-X); the prompt and toolbar come back below it.
    screen = term.wait_for(lambda s: s.rstrip("\n").splitlines()[-2] == PROMPT)
    assert screen.splitlines()[-3] == "line 178"
    assert "exit" not in last_line(screen).replace("Ctrl-D: exit", "")
    assert run(term, "pwd") == "/"


def test_short_output_and_no_pager_print_directly(term, numbered):
    assert run(term, "pwd") == "/"
    term.type(f"cat --no-pager {numbered}")
    term.press("Enter")
    screen = term.wait_for(f"line 199\nline 200\n{PROMPT}")
    assert STATUS not in screen.splitlines()


def test_quitting_the_pager_stops_a_long_cat_at_once(server, term):
    line = b"a line of a big object\n"
    done = server.ssh("put /e2e/huge.txt", stdin=line * 2_000_000)  # 44 MiB
    assert done.status == 0, done.err
    started = time.monotonic()
    term.type("cat /e2e/huge.txt")
    term.press("Enter")
    term.wait_for(lambda s: last_line(s) == STATUS)
    first_screen = time.monotonic() - started
    term.type("q")
    term.wait_for(lambda s: s.rstrip("\n").splitlines()[-2] == PROMPT)
    quit_after = time.monotonic() - started
    # Only what was read ahead was read: nothing like 44 MiB went by.
    assert first_screen < 5 and quit_after < 6, (first_screen, quit_after)
    assert "exit 1" not in last_line(term.screen())  # quitting is not a failure
    term.type("cat /e2e/huge.txt")
    term.press("Enter")
    term.wait_for(lambda s: last_line(s) == STATUS)
    term.type("G")  # reads on to the end of the 44 MiB
    screen = term.wait_for(lambda s: "(END)" in last_line(s), timeout=60)
    assert screen.splitlines()[-2] == line.decode().strip()
    term.type("q")
    # Keys typed before the pager has gone are the pager's (as in less): wait.
    term.wait_for(lambda s: s.rstrip("\n").splitlines()[-2] == PROMPT)
    assert run(term, "pwd") == "/"


def test_exec_never_pages(server, numbered):
    done = server.ssh(f"cat {numbered}", extra=("-tt",))
    assert done.status == 0
    assert done.out.replace("\r\n", "\n") == NUMBERED.decode()


def test_pager_keeps_colours_and_chops_long_lines(server, term):
    names = " ".join(f"/e2e/colours/{'c' * 60}{n:02d}" for n in range(40))
    done = server.ssh(f"mkdir -p {names}")
    assert done.status == 0, done.err
    term.type("ls -l /e2e/colours")
    term.press("Enter")
    term.wait_for(lambda s: last_line(s) == STATUS)
    coloured = term._tmux("capture-pane", "-p", "-e")
    assert "\x1b[1m\x1b[34m" in coloured or "\x1b[1;34m" in coloured  # containers: bold blue
    rows = term.screen().rstrip("\n").splitlines()
    assert all(len(row) <= 100 for row in rows)
    assert not any(row.startswith("c" * 10) for row in rows)  # chopped, not wrapped
    term.press("Right")  # half a screen sideways: the ends of the names come into view
    term.wait_for(lambda s: any(row.rstrip().endswith("cc00/") for row in s.splitlines()))
    term.type("q")
    term.wait_for(lambda s: s.rstrip("\n").splitlines()[-2] == PROMPT)


# -- colours, paste, history expansion, Ctrl-Z -----------------------------


def colours(screen: str) -> set[str]:
    """The SGR parameters in *screen* that set a colour (not the defaults, 39 and 49)."""
    found = set()
    for codes in re.findall(r"\x1b\[([0-9;]*)m", screen):
        for code in codes.split(";"):
            if code and (30 <= int(code) <= 38 or 40 <= int(code) <= 48 or int(code) >= 90):
                found.add(code)
    return found


def test_no_color_from_the_client_environment(server, tree, tmp_path):
    terminal = Terminal(server.ssh_argv("-tt", "-o", "SetEnv=NO_COLOR=1"), tmp_path)
    try:
        terminal.wait_for(PROMPT)
        run(terminal, "ls /e2e")
        terminal.wait_for(lambda s: " admin " in last_line(s))
        screen = terminal._tmux("capture-pane", "-p", "-e")
        assert "box/" in screen
        # No colour anywhere (the toolbar is in reverse video), only attributes.
        assert colours(screen) == set(), screen
        assert "\x1b[1;7m admin " in screen
    finally:
        terminal.close()
    coloured = server.ssh("ls /e2e", extra=("-tt",))
    plain = server.ssh("ls /e2e", extra=("-tt", "-o", "SetEnv=NO_COLOR=1"))
    assert "\x1b[1;34m" in coloured.out
    assert colours(coloured.out)
    assert "\x1b[" not in plain.out
    assert "box/" in plain.out


def test_color_option_per_command(server, tree):
    assert "\x1b[1;34m" in server.ssh("ls -l --color always /e2e").out  # even into a pipe
    assert "\x1b[" not in server.ssh("ls --color=never /e2e", extra=("-tt",)).out
    assert "\x1b[" not in server.ssh("ls --color auto /e2e").out
    bad = server.ssh("ls --color sometimes /e2e")
    assert bad.status == 2
    assert "invalid choice: 'sometimes'" in bad.err


def paste(term: Terminal, text: str) -> None:
    """Paste *text* the way a terminal does, in bracketed-paste mode."""
    term._tmux("set-buffer", "--", text)
    term._tmux("paste-buffer", "-p", "-r")


def test_a_pasted_block_runs_line_by_line(term):
    paste(term, "cd /e2e\npwd\ncd box\npwd\nhistory")
    box = "admin@omsh:/e2e/box$"
    screen = term.wait_for(f"{box} history")
    assert f"{PROMPT} cd /e2e\nadmin@omsh:/e2e$ pwd\n/e2e\nadmin@omsh:/e2e$ cd box\n" in screen
    assert f"{box} pwd\n/e2e/box\n" in screen
    # The unfinished last line waits on the prompt; each pasted line is history.
    term.type(" 5")
    term.press("Enter")
    screen = term.wait_for(f"  history 5\n{box}")
    listing = screen.split(f"{box} history 5\n")[1].splitlines()[:5]
    assert [row.split(maxsplit=1)[1] for row in listing] == [
        "cd /e2e",
        "pwd",
        "cd box",
        "pwd",
        "history 5",
    ]


def history_entries(listing: str) -> dict[str, int]:
    """``history`` output as line -> its newest number."""
    entries = {}
    for row in listing.splitlines():
        number, line = row.split(maxsplit=1)
        entries[line] = int(number)
    return entries


def test_history_expansion_like_bash(term):
    box = "admin@omsh:/e2e/box$"
    assert run(term, "pwd") == "/"
    assert run(term, "!!") == "pwd\n/"  # echoed, then run
    stat = run(term, "stat /e2e/box")
    term.type("cd !$")
    term.press("Enter")
    term.wait_for(f"{PROMPT} cd !$\ncd /e2e/box\n{box}")
    assert run(term, "!pw", prompt=box) == "pwd\n/e2e/box"
    assert run(term, "!-3", prompt=box) == f"stat /e2e/box\n{stat}"
    assert run(term, "!99999", prompt=box) == "omsh: !99999: event not found"
    term.wait_for(lambda s: "exit 1: failed" in last_line(s))
    listing = run(term, "history 5", prompt=box)
    # The expanded lines are recorded, never the references.
    assert [row.split(maxsplit=1)[1] for row in listing.splitlines()] == [
        "stat /e2e/box",
        "cd /e2e/box",
        "pwd",
        "stat /e2e/box",
        "history 5",
    ]
    number = history_entries(listing)["cd /e2e/box"]
    term.type("cd /")
    term.press("Enter")
    term.wait_for(f"{box} cd /\n{PROMPT}")
    term.type(f"!{number}")
    term.press("Enter")
    term.wait_for(f"{PROMPT} !{number}\ncd /e2e/box\n{box}")


def test_ctrl_z_is_ignored_with_a_hint(term):
    term.type("pwd")
    term.press("C-z")
    screen = term.wait_for(lambda s: "no job control" in last_line(s))
    assert current_line(screen) == f"{PROMPT} pwd"
    term.press("Enter")
    term.wait_for(f"{PROMPT} pwd\n/\n{PROMPT}")
    term.wait_for(lambda s: "help: list commands" in last_line(s))


def test_putty_plink_pages_with_its_own_keys(plink_term, numbered):
    plink_term.type(f"cat {numbered}")
    plink_term.press("Enter")
    plink_term.wait_for(lambda s: last_line(s) == STATUS)
    plink_term.press("NPage")  # PuTTY's PgDn
    top_line(plink_term, "line 030")
    plink_term.press("End")
    plink_term.wait_for(lambda s: "(END)" in last_line(s))
    plink_term.press("Home")
    top_line(plink_term, "line 001")
    plink_term.type("q")
    plink_term.wait_for(lambda s: s.rstrip("\n").splitlines()[-2] == PROMPT)
