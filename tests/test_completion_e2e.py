"""Issue 11's completion and typo help as a person meets them: OpenSSH and PuTTY on a real PTY.

Each test runs a real client inside tmux (:mod:`tests.terminal`) against a
real ``omsh serve``, types, presses Tab and reads the screen: metadata keys,
query fields, operators and keywords, principals and permissions, choices;
an unknown command coloured as an error before Enter and answered with the
nearest names after it, in the interactive shell and in exec mode alike.
"""

from __future__ import annotations

import re

import pytest

from tests import test_interactive_e2e as interactive
from tests.terminal import Terminal
from tests.test_interactive_e2e import PROMPT, current_line, last_line, run

pytestmark = pytest.mark.e2e

# An SGR escape sequence, as tmux's capture-pane -e writes colours.
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


# The shell tests' terminals (``ssh -tt``, ``plink -t``; at their first prompt) and tree.
term = interactive.term
tree = interactive.tree
plink_term = interactive.plink_term


@pytest.fixture(scope="module", autouse=True)
def tagged(server) -> None:
    """/tab with two photos carrying metadata, and a document."""
    for path in ("/tab/photos/a.jpg", "/tab/photos/b.jpg", "/tab/doc.txt"):
        done = server.ssh(f"mkdir -p {path.rpartition('/')[0]}; put {path}", stdin=b"data")
        assert done.status == 0, done.err
    done = server.ssh(
        "set-meta /tab/photos/a.jpg camera=nikon 'colour space=srgb';"
        " set-meta /tab/photos/b.jpg camera=canon rating=4; set-meta /tab/doc.txt author=me"
    )
    assert done.status == 0, done.err


def tab(term: Terminal, typed: str, expected_line: str) -> None:
    """Type *typed*, press Tab, and wait for the line to read *expected_line*.

    capture-pane drops trailing blanks, so a completion's final space is not
    seen; what is typed next shows whether it is there.
    """
    term.type(typed)
    term.press("Tab")
    term.wait_for(lambda screen: current_line(screen) == f"{PROMPT} {expected_line}".rstrip())


def enter(term: Terminal) -> str:
    """Press Enter and wait for the command to finish: the screen then."""
    term.press("Enter")
    return term.wait_for(lambda screen: current_line(screen) == PROMPT)


def colour_of(term: Terminal, word: str) -> set[str]:
    """The SGR parameters in force where *word* is drawn on the prompt line."""
    screen = term._tmux("capture-pane", "-p", "-e")  # with the colours
    line = next(line for line in screen.splitlines() if PROMPT.split("@")[0] in _SGR.sub("", line))
    active: set[str] = set()
    position = 0
    for match in _SGR.finditer(line):
        if word in line[position : match.start()]:
            break
        for parameter in match.group(1).split(";"):
            if parameter in ("", "0"):
                active = set()
            else:
                active.add(parameter)
        position = match.end()
    return active


def test_unknown_command_is_red_while_typed_and_suggested_after_enter(term):
    term.type("lss")
    term.wait_for(f"{PROMPT} lss")
    term.wait_for(lambda _: "31" in colour_of(term, "lss"))  # red: ANSI colour 1
    term.press("BSpace")
    term.wait_for(lambda _: "32" in colour_of(term, "ls"))  # a command again: green
    term.type("s /tab")
    term.press("Enter")
    term.wait_for("omsh: lss: command not found; did you mean ls?")
    term.wait_for(lambda screen: "exit 3: not found" in last_line(screen))
    output = run(term, "ls --jsn /tab")
    assert output == "omsh: ls: unrecognized arguments: --jsn; did you mean --json?"


def test_exec_mode_suggests_too(server, tagged):
    done = server.ssh("mkdri /tab/new")
    assert (done.status, done.err) == (3, "omsh: mkdri: command not found; did you mean mkdir?\n")
    done = server.ssh("find /tab --typ object")
    assert done.status == 2
    assert done.err == "omsh: find: unrecognized arguments: --typ object; did you mean --type?\n"


def test_metadata_keys_complete_for_set_meta_and_find(term):
    tab(term, "set-meta /tab/photos/a.jpg ra", "set-meta /tab/photos/a.jpg rating=")
    term.type("5")
    enter(term)
    assert "rating=5" in run(term, "meta /tab/photos/a.jpg")
    tab(term, "set-meta /tab/photos/b.jpg -d cam", "set-meta /tab/photos/b.jpg -d camera")
    term.press("C-c")
    tab(term, "find /tab --meta au", "find /tab --meta author=")
    term.type("me")
    assert "/tab/doc.txt" in enter(term)


def test_query_completes_fields_operators_and_keywords(term):
    tab(term, "query ", "query '")  # the quote opens; the menu shows fields
    term.wait_for(lambda screen: all(f" {field} " in screen for field in ("name", "cdmi_size")))
    term.press("C-c")
    tab(term, "query 'cam", "query 'camera ")
    term.press("Tab")  # the operators
    screen = term.wait_for("IS NOT NULL")
    assert "LIKE" in screen and "BETWEEN" in screen
    term.press("C-c")
    tab(term, "query \"camera = 'nikon' o", "query \"camera = 'nikon' or ")
    term.type('rating >= 4"')
    screen = enter(term)
    assert "/tab/photos/a.jpg" in screen and "/tab/photos/b.jpg" in screen
    tab(term, "query 'x' --order-by rat", "query 'x' --order-by rating")


def test_acl_completes_actions_principals_and_permissions(term):
    tab(term, "acl gr", "acl grant")
    term.type(" /tab ev")
    term.press("Tab")
    term.wait_for(f"{PROMPT} acl grant /tab everyone@")
    term.type(" read,write-m")
    term.press("Tab")
    term.wait_for(f"{PROMPT} acl grant /tab everyone@ read,write-metadata")
    enter(term)
    listing = run(term, "acl /tab")
    assert "EVERYONE@" in listing
    tab(term, "setfacl -m g:ad", "setfacl -m g:admins:")
    term.press("C-c")
    tab(term, "find /tab --type o", "find /tab --type object")
    term.press("C-c")
    tab(term, "chown ad", "chown admin")


def test_putty_plink_completes_a_query(plink_term):
    tab(plink_term, 'query "auth', 'query "author ')
    plink_term.type("= 'me'\"")
    assert "/tab/doc.txt" in enter(plink_term)
