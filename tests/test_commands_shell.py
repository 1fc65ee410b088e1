"""help, history, clear, exit; and the framework every command shares."""

from __future__ import annotations

import json

import pytest

from omsh.commands.output import BufferOutput
from omsh.commands.registry import primary_commands
from omsh.commands.runtime import Shell

CORE = {
    "cat",
    "cd",
    "clear",
    "cp",
    "exit",
    "head",
    "help",
    "history",
    "id",
    "key",
    "ls",
    "meta",
    "mkdir",
    "mv",
    "passwd",
    "put",
    "pwd",
    "rm",
    "set-meta",
    "stat",
    "tree",
    "verify",
    "whoami",
}


def test_help_lists_every_command_with_its_summary(registry, alice) -> None:
    out = alice.ok("help")
    for factory in primary_commands(registry):
        line = next(line for line in out.splitlines() if line.split()[0] == factory.name)
        assert factory.summary in line
    assert "exit [quit, logout]" in out


def test_help_json_lines(registry, alice) -> None:
    documents = [json.loads(line) for line in alice.ok("help --json").splitlines()]
    assert {d["name"] for d in documents} >= CORE
    cat = next(d for d in documents if d["name"] == "cat")
    assert cat["usage"].startswith("usage: cat")
    assert ["--range"] in [a["flags"] for a in cat["arguments"]]


def test_help_for_one_command(alice) -> None:
    out = alice.ok("help rm")
    assert out.startswith("usage: rm")
    assert "--recursive" in out
    assert alice.ok("help quit").startswith("usage: exit")
    assert json.loads(alice.ok("help --json set-meta"))["name"] == "set-meta"


def test_help_unknown_command(alice) -> None:
    assert alice("help frobnicate") == (3, "", "omsh: help: frobnicate: no such command\n")


@pytest.mark.parametrize("name", sorted(CORE))
def test_every_command_has_help_and_json_flags(alice, name) -> None:
    out = alice.ok(f"{name} --help")
    assert out.startswith(f"usage: {name}")
    assert "--json" in out


@pytest.mark.parametrize("name", sorted(CORE - {"exit", "clear"}))
def test_unknown_flags_are_usage_errors(alice, name) -> None:
    status, out, err = alice(f"{name} --no-such-flag")
    assert status == 2
    assert out == ""
    assert err.startswith(f"omsh: {name}: ")
    assert err.count("\n") == 1


def test_history_numbers_lines(alice) -> None:
    alice.session.history.extend(["ls", "cd /", "cat 'a b'"])
    assert alice.ok("history") == "    1  ls\n    2  cd /\n    3  cat 'a b'\n"
    assert alice.ok("history 2") == "    2  cd /\n    3  cat 'a b'\n"
    assert alice.ok("history 0") == ""
    assert alice.ok("history 99").count("\n") == 3
    assert [json.loads(line) for line in alice.ok("history --json 1").splitlines()] == [
        {"index": 3, "line": "cat 'a b'"}
    ]
    assert alice("history -1")[0] == 2


def test_history_shows_control_characters_escaped(alice) -> None:
    alice.session.history.append("echo \x1b[31mred")
    assert alice.ok("history") == "    1  echo \\x1b[31mred\n"


def test_clear_writes_escape_codes_only_to_a_terminal(store, registry, alice) -> None:
    assert alice.ok("clear") == ""
    out = BufferOutput(terminal=True)
    shell = Shell(store, registry, alice.session, out, BufferOutput(), stdin=None)  # type: ignore[arg-type]
    assert shell.execute("clear") == 0
    assert out.text.startswith("\x1b[H\x1b[2J")


def test_exit_ends_the_session_and_the_line(alice) -> None:
    status, out, _ = alice("pwd; exit; pwd")
    assert (status, out) == (0, "/\n")
    assert alice.session.finished


def test_exit_status(alice) -> None:
    assert alice("quit 3")[0] == 3
    assert alice.session.finished


@pytest.mark.parametrize("line", ["exit 256", "exit -1", "exit x"])
def test_exit_bad_status(alice, line) -> None:
    assert alice(line)[0] == 2
    assert not alice.session.finished


def test_unknown_command(alice) -> None:
    assert alice("frobnicate") == (3, "", "omsh: frobnicate: command not found (try 'help')\n")


def test_unterminated_quote(alice) -> None:
    status, _, err = alice("cat 'oops")
    assert status == 2
    assert err == "omsh: unterminated quote at column 5\n"


def test_options_may_follow_positionals(admin) -> None:
    admin.ok("mkdir -p /a/b; put /a/b/f")
    admin.ok("rm /a -r")
    assert admin.ok("ls /") == ""


def test_double_dash_ends_options(admin) -> None:
    admin.ok("put -- -dash", stdin=b"D")
    assert admin.ok("cat -- -dash") == "D"
    assert admin.ok("ls") == "-dash\n"


def test_semicolons_run_in_order_and_status_is_the_last(admin) -> None:
    status, out, err = admin("cat /nope; pwd")
    assert (status, out) == (0, "/\n")
    assert err == "omsh: cat: /nope: not found\n"
    assert admin("pwd; cat /nope")[0] == 3
