"""Ctrl-C inside commands: every loop stops, and the transaction is the unit.

A :class:`CtrlCAfter` presses Ctrl-C at the *n*-th check the command makes,
so "in the middle of the third object" is deterministic.  Through real
clients (``ssh -tt`` in tmux, asyncssh's ``send_signal``) in
``tests/test_cancel_e2e.py``.
"""

from __future__ import annotations

import pytest

from omsh.commands.base import Interrupt
from omsh.commands.runtime import EXIT_INTERRUPTED
from omsh.store.content import CHUNK_SIZE


class CtrlCAfter(Interrupt):
    """An interrupt that sets itself at its *checks*-th check."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    def check(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.set()
        super().check()


OBJECT = b"x" * (3 * CHUNK_SIZE)  # three chunks: cat checks before each


@pytest.fixture
def tree(admin) -> None:
    admin.ok("mkdir -p /t/sub")
    for name in ("a", "b", "c", "sub/d", "sub/e"):
        admin.ok(f"put /t/{name}", stdin=OBJECT)


def test_multi_object_cat_stops_mid_object_and_goes_no_further(admin, tree):
    admin.interrupt = CtrlCAfter(3)  # each(a), chunk 1, chunk 2: set
    status, out, err = admin("cat /t/a /t/b /t/c")
    assert status == EXIT_INTERRUPTED == 130
    assert len(out) == CHUNK_SIZE  # one chunk of a; nothing of b or c
    assert err == ""  # off a terminal the status says it, as after SIGINT
    assert not admin.interrupt.is_set()  # reported, so the next command runs
    assert admin("pwd")[0] == 0


def test_on_a_terminal_it_echoes_caret_c_and_abandons_the_line(admin, tree):
    admin.terminal = True
    admin.interrupt = CtrlCAfter(2)
    status, _, err = admin("cat /t/a; mkdir /t/after")
    assert status == 130
    assert err == "^C\r\n"
    admin.terminal, admin.interrupt = False, None
    assert admin("stat /t/after")[0] == 3  # the rest of the line did not run


def test_json_cat_is_interrupted_between_chunks_too(admin, tree):
    admin.interrupt = CtrlCAfter(3)
    status, out, _ = admin("cat --json /t/a /t/b")
    assert status == 130
    assert out.count('"path"') == 1 and len(out) < 2 * CHUNK_SIZE


def test_rm_r_interrupted_leaves_the_tree_whole(admin, tree):
    admin.interrupt = CtrlCAfter(4)  # inside the removal transaction
    assert admin("rm -r /t/sub")[0] == 130
    admin.interrupt = None
    assert admin.ok("ls /t/sub").split() == ["d", "e"]


def test_rm_of_several_keeps_what_was_done(admin, tree):
    admin.interrupt = CtrlCAfter(3)  # each(a), a itself, each(b): before b
    assert admin("rm /t/a /t/b /t/c")[0] == 130
    admin.interrupt = None
    assert admin.ok("ls /t").split() == ["b", "c", "sub/"]


def test_cp_r_interrupted_copies_nothing(admin, tree):
    admin.interrupt = CtrlCAfter(4)  # the third object of the copy
    assert admin("cp -r /t /copy")[0] == 130
    admin.interrupt = None
    assert admin("stat /copy")[0] == 3


def test_verify_r_interrupted_inside_an_object(admin, tree):
    admin.interrupt = CtrlCAfter(9)  # walk (7 objects), then each(), then a's first chunk
    status, out, _ = admin("verify -r /t")
    assert status == 130
    assert out == ""


def test_check_interrupted_while_hashing(admin, tree):
    admin.interrupt = CtrlCAfter(2)
    status, out, _ = admin("check")
    assert status == 130
    assert "checked" not in out


@pytest.mark.parametrize("line", ["find /t", "query 'cdmi_size > 0'", "md5sum /t/a"])
def test_searches_and_checksums_stop(admin, tree, line):
    admin.interrupt = CtrlCAfter(1)
    assert admin(line)[0] == 130
