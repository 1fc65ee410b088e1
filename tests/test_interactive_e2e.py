"""The interactive shell as a person sees it: OpenSSH and PuTTY on a real PTY.

Each test runs a real client inside tmux (see :mod:`tests.terminal`) against
a real ``omsh serve`` on 127.0.0.1, types keys and reads the screen.
"""

from __future__ import annotations

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
    term.type("cat /e2e/big.txt")
    term.press("Enter")
    term.wait_for(line.decode())
    term.press("C-c")
    term.wait_for(f"omsh: cat: interrupted\n{PROMPT}")
    term.wait_for(lambda s: "exit 1: failed" in last_line(s))


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
