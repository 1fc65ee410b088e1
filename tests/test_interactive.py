"""The pieces of the interactive shell, without a network: completer, lexer,
key bindings, history and toolbar (the whole thing over SSH is in
``test_interactive_e2e.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import (
    CompleteEvent,
    Completion,
    DummyCompleter,
    ThreadedCompleter,
)
from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from pygments.token import Error, Name, Number, Operator, Punctuation, String, Text
from zope.interface.registry import Components

from omsh.commands.arguments import Complete, arg, close_matches, did_you_mean
from omsh.commands.base import Command, ShellSession
from omsh.commands.registry import register_command
from omsh.commands.words import split_commands
from omsh.ssh import history as history_module
from omsh.ssh.completer import (
    FLAGS,
    ShellCompleter,
    line_context,
    pending_argument,
    query_expectation,
    query_field,
)
from omsh.ssh.history import (
    EventNotFound,
    PromptHistory,
    SessionHistory,
    expand_history,
    may_hold_secret,
)
from omsh.ssh.interactive import command_prompt, prompt_message
from omsh.ssh.keybindings import NO_JOB_CONTROL, shell_key_bindings
from omsh.ssh.lexer import UNKNOWN_COMMAND, OmshLexer
from omsh.ssh.pager import TerminalPager, chop, pager_disabled, rows_needed
from omsh.ssh.style import SHELL_STYLE
from omsh.ssh.toolbar import Toolbar
from omsh.store.acl import AceType, with_entry
from omsh.store.content import ContentUpload
from omsh.store.perms import Perm
from omsh.store.view import StoreView

# -- a registry of test commands, one argument of every kind ---------------


class Grant(Command):
    name = "grant"
    summary = "grant something to someone"
    arguments = (
        arg("action", choices=("allow", "deny"), help="what to do"),
        arg("path", complete=Complete.PATH, help="an object"),
        arg("who", nargs="*", complete=Complete.USER, help="users"),
        arg("--group", complete=Complete.GROUP, help="a group"),
        arg("--in", complete=Complete.CONTAINER, help="a container"),
        arg("-v", "--verbose", action="count", default=0, help="say more"),
        arg("-q", "--quiet", action="store_true", help="say less"),
    )


class Go(Command):
    name = "go"
    aliases = ("goto",)
    summary = "enter a container"
    arguments = (arg("path", nargs="?", complete=Complete.CONTAINER, help="where"),)


class Explain(Command):
    name = "explain"
    summary = "explain a command"
    arguments = (arg("command", nargs="?", complete=Complete.COMMAND, help="which"),)


@pytest.fixture(scope="module")
def commands() -> Components:
    registry = Components("test")
    for factory in (Grant, Go, Explain):
        register_command(registry, factory)
    return registry


@pytest.fixture
def tree(store):
    """``/data`` with containers and objects whose names need quoting."""

    def build(root) -> None:
        view = StoreView.for_user(root, "admin")
        for path in ("/data/my dir/sub", "/data/it's", "/data/.hidden", "/data/plans"):
            view.make_container(path, parents=True)
        for path in ("/data/file.txt", "/data/my file"):
            upload = ContentUpload(store.temporary_directory())
            upload.write(b"12345")
            try:
                view.store_data(path, upload)
            finally:
                upload.discard()

    store.run(build)
    return store


def completions(store, registry, line: str, user="admin", cwd="/") -> list[Completion]:
    completer = ShellCompleter(store, registry, ShellSession(user=user, cwd=cwd))
    event = CompleteEvent(completion_requested=True)
    return list(completer.get_completions(Document(line), event))


def applied(store, registry, line: str, **session) -> list[str]:
    """The lines that taking each completion of *line* would give."""
    return [line + c.text for c in completions(store, registry, line, **session)]


# -- completer -------------------------------------------------------------


def test_command_names_with_their_summaries(store, commands):
    assert applied(store, commands, "") == ["explain", "go", "goto", "grant"]
    (only,) = completions(store, commands, "gr")
    assert only.text == "ant"
    assert only.display_text == "grant"
    assert only.display_meta_text == "grant something to someone"


def test_a_command_after_a_semicolon_is_a_command_name(store, commands):
    assert applied(store, commands, "go /; gr") == ["go /; grant"]
    assert applied(store, commands, "go /;e") == ["go /;explain"]


def test_command_kind_arguments_complete_command_names(store, commands):
    assert applied(store, commands, "explain g") == ["explain go", "explain goto", "explain grant"]


def test_flags_come_from_the_declaration(store, commands):
    offered = {c.display_text for c in completions(store, commands, "grant allow x -")}
    assert offered == {
        "-h",
        "--help",
        "--json",
        "--color",
        "--no-pager",
        "--group",
        "--in",
        "-v",
        "--verbose",
        "-q",
        "--quiet",
    }
    by_flag = {c.display_text: c for c in completions(store, commands, "grant --")}
    assert by_flag["--quiet"].display_meta_text == "say less"


def test_flags_already_given_are_not_offered_again_unless_repeatable(store, commands):
    offered = {c.display_text for c in completions(store, commands, "grant -q -v -")}
    assert "-q" not in offered
    assert "-v" in offered
    assert "--json" in offered


def test_choices_are_offered(store, commands):
    assert applied(store, commands, "grant ") == ["grant allow", "grant deny"]
    assert applied(store, commands, "grant -q d") == ["grant -q deny"]


def test_paths_absolute_and_relative_containers_get_a_slash(tree, commands):
    assert applied(tree, commands, "go /da") == ["go /data/"]
    assert applied(tree, commands, "grant allow /data/f") == ["grant allow /data/file.txt"]
    assert applied(tree, commands, "grant allow pl", cwd="/data") == ["grant allow plans/"]
    assert applied(tree, commands, "grant allow ../data/pl", cwd="/data") == [
        "grant allow ../data/plans/"
    ]
    (entry,) = completions(tree, commands, "grant allow /data/file")
    assert entry.display_text == "file.txt"
    assert entry.display_meta_text == "5B"


def test_paths_under_a_tilde_complete_in_that_home_and_keep_the_tilde(tree, commands):
    def homes(root) -> None:
        view = StoreView.for_user(root, "admin")
        view.make_container("/home/admin/notes", parents=True)
        view.make_container("/home/bob/plans", parents=True)

    tree.run(homes)
    assert applied(tree, commands, "go ~/no") == ["go ~/notes/"]
    assert applied(tree, commands, "go ~bob/p") == ["go ~bob/plans/"]
    assert applied(tree, commands, "go '~'/no") == []  # a quoted tilde is a name, as in sh


def test_container_arguments_offer_only_containers(tree, commands):
    offered = [c.display_text for c in completions(tree, commands, "go /data/")]
    assert offered == ["it's/", "my dir/", "plans/"]


def test_names_needing_quotes_are_escaped_or_continue_the_open_quote(tree, commands):
    assert applied(tree, commands, "go /data/my") == ["go /data/my\\ dir/"]
    assert applied(tree, commands, "go '/data/my") == ["go '/data/my dir/'"]
    assert applied(tree, commands, 'go "/data/my') == ['go "/data/my dir/"']
    assert applied(tree, commands, "go /data/i") == ["go /data/it\\'s/"]
    assert applied(tree, commands, "go '/data/i") == ["go '/data/it'\\''s/'"]
    assert applied(tree, commands, "go /data/my\\") == ["go /data/my\\ dir/"]
    for line in (
        *applied(tree, commands, "grant allow /data/my"),
        *applied(tree, commands, "go '/data/i"),
    ):
        assert split_commands(line)[0][-1] in ("/data/my dir/", "/data/my file", "/data/it's/")


def test_hidden_names_only_for_a_dot(tree, commands):
    assert ".hidden/" not in [c.display_text for c in completions(tree, commands, "go /data/")]
    assert applied(tree, commands, "go /data/.") == ["go /data/.hidden/"]


def test_only_children_the_user_may_see(tree, commands):
    def hide_plans_from_bob(root) -> None:
        view = StoreView.for_user(root, "admin")
        data = view.resolve("/data")
        readable = Perm.READ | Perm.READ_METADATA
        shared = with_entry(data.acl, AceType.ALLOW, "bob", readable, inherit=True)
        view.replace_acl(data, "/data", shared, action="test")
        plans = view.resolve("/data/plans")
        hidden = with_entry(plans.acl, AceType.DENY, "bob", Perm.READ_METADATA)
        view.replace_acl(plans, "/data/plans", hidden, action="test")

    tree.run(hide_plans_from_bob)
    offered = [c.display_text for c in completions(tree, commands, "go /data/", user="bob")]
    assert offered == ["it's/", "my dir/"]
    assert "plans/" in [c.display_text for c in completions(tree, commands, "go /data/")]


def test_principals(store, commands):
    assert applied(store, commands, "grant allow x a") == [
        "grant allow x admin",
        "grant allow x alice",
    ]
    assert applied(store, commands, "grant allow x alice b") == ["grant allow x alice bob"]
    assert applied(store, commands, "grant --group ad") == ["grant --group admins"]


def test_other_users_see_only_their_own_principal_names(store, commands):
    def join_staff(root) -> None:
        root.principals.add_group("staff")
        root.principals.add_member("staff", "bob")

    store.run(join_staff)
    assert applied(store, commands, "grant allow x ", user="bob") == ["grant allow x bob"]
    assert applied(store, commands, "grant allow x a", user="bob") == []
    assert applied(store, commands, "grant --group ", user="bob") == ["grant --group staff"]
    assert applied(store, commands, "grant --group ", user="alice") == []


def test_option_values_in_both_forms(tree, commands):
    assert applied(tree, commands, "grant --in /da") == ["grant --in /data/"]
    assert applied(tree, commands, "grant --in=/data/p") == ["grant --in=/data/plans/"]
    assert applied(tree, commands, "grant --in='/data/m") == ["grant --in='/data/my dir/'"]


@pytest.mark.parametrize(
    "line",
    [
        "nosuch ",  # unknown command
        "grant allow /nope/",  # no such container
        "grant allow /data/file.txt/",  # not a container
        "grant allow /data/*",  # wildcards expand when the command runs
        "grant allow /data/\0",  # a name no path can hold
        "go / /",  # more words than the command takes
    ],
)
def test_nothing_to_offer(tree, commands, line):
    assert completions(tree, commands, line) == []


def test_a_removed_account_gets_no_completions_and_no_error(tree, commands):
    tree.run(lambda root: root.principals.users.pop("alice"))
    assert completions(tree, commands, "go /", user="alice") == []


def test_threaded_completer_gives_the_same_answers(tree, commands):
    completer = ShellCompleter(tree, commands, ShellSession(user="admin"))
    threaded = ThreadedCompleter(completer)

    async def collect() -> list[str]:
        event = CompleteEvent(completion_requested=True)
        return [c.text async for c in threaded.get_completions_async(Document("go /data/m"), event)]

    assert asyncio.run(collect()) == ["y\\ dir/"]


# -- reading the line --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "current", "quote", "escaped"),
    [
        ("", [], "", None, False),
        ("ls", [], "ls", None, False),
        ("ls ", ["ls"], "", None, False),
        ("ls -l a/b", ["ls", "-l"], "a/b", None, False),
        ("ls 'my f", ["ls"], "my f", "'", False),
        ('cat "a b', ["cat"], "a b", '"', False),
        ('cd "a\\"b', ["cd"], 'a"b', '"', False),
        ("cat a\\ b", ["cat"], "a b", None, False),
        ("cat a\\", ["cat"], "a", None, True),
        ("pwd; c", [], "c", None, False),
        ("pwd;", [], "", None, False),
        ("ls x; cd 'it'\\''s", ["cd"], "it's", "'", False),
        ("cd a'b c'd", ["cd"], "ab cd", None, False),
    ],
)
def test_line_context(text, words, current, quote, escaped):
    context = line_context(text)
    assert context is not None
    assert (context.words, context.current, context.quote, context.escaped) == (
        words,
        current,
        quote,
        escaped,
    )


_SPECIAL = set(" \t\r\n;'\"\\*?[|&<>`$")


def _typed_bare(text: str) -> str:
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


_TYPED: dict[str, Callable[[str], str]] = {
    "bare": _typed_bare,
    "bare, ending in a backslash": lambda text: _typed_bare(text) + "\\",
    "single": lambda text: "'" + text.replace("'", "'\\''"),
    "double": lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"'),
}


@given(
    value=st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1, max_size=12),
    cut=st.integers(min_value=0, max_value=12),
    style=st.sampled_from(sorted(_TYPED)),
)
def test_a_completion_always_yields_the_value_it_offers(value, cut, style):
    prefix = value[: min(cut, len(value) - 1)] if style.endswith("backslash") else value[:cut]
    line = "cmd " + _TYPED[style](prefix)
    context = line_context(line)
    assert context is not None
    assert context.current == prefix
    assert split_commands(line + context.continuation(value)) == [["cmd", value]]


def test_pending_argument_follows_argparse():
    declared = Grant.arguments
    by_dest = {item.dest: item for item in declared}
    assert pending_argument(declared, [], "") is by_dest["action"]
    assert pending_argument(declared, ["allow"], "") is by_dest["path"]
    assert pending_argument(declared, ["allow", "x", "a", "b"], "") is by_dest["who"]
    assert pending_argument(declared, ["--group"], "") is by_dest["group"]
    assert pending_argument(declared, ["--group", "g"], "") is by_dest["action"]
    assert pending_argument(declared, ["-q"], "") is by_dest["action"]
    assert pending_argument(declared, ["allow"], "-") is FLAGS
    assert pending_argument(declared, ["--", "allow"], "-x") is by_dest["path"]
    assert pending_argument(Go.arguments, ["a"], "") is None


# -- lexer -------------------------------------------------------------------


def tokens(line: str) -> list[tuple[object, str]]:
    lexer = OmshLexer(stripnl=False, ensurenl=False)
    return [(kind, text) for _, kind, text in lexer.get_tokens_unprocessed(line) if text.strip()]


def test_lexer_names_the_parts_of_a_line():
    assert tokens("ls -l /data/x; cd 'my dir'") == [
        (Name.Function, "ls"),
        (Name.Attribute, "-l"),
        (Name.Namespace, "/data/x"),
        (Punctuation, ";"),
        (Name.Function, "cd"),
        (String.Single, "'my dir'"),
    ]


def test_lexer_shows_typed_metadata_values():
    assert tokens("set-meta x n=5 s='5' --meta=k=v") == [
        (Name.Function, "set-meta"),
        (Text, "x"),
        (Name.Variable, "n"),
        (Operator, "="),
        (Number, "5"),
        (Name.Variable, "s"),
        (Operator, "="),
        (String.Single, "'5'"),
        (Name.Attribute, "--meta"),
        (Operator, "="),
        (Name.Variable, "k"),
        (Operator, "="),
        (Text, "v"),
    ]


def test_lexer_words_after_double_dash_are_not_flags():
    assert tokens("rm -- -x; ls -l") == [
        (Name.Function, "rm"),
        (Operator, "--"),
        (Text, "-x"),
        (Punctuation, ";"),
        (Name.Function, "ls"),
        (Name.Attribute, "-l"),
    ]


def test_lexer_open_quotes_and_trailing_backslash():
    assert tokens('cat "a b')[-1] == (String.Double, '"a b')
    assert tokens("cat a\\")[-1] == (Error, "\\")


@given(st.text(max_size=40))
def test_lexer_covers_every_character(line):
    lexer = OmshLexer(stripnl=False, ensurenl=False)
    assert "".join(text for _, _, text in lexer.get_tokens_unprocessed(line)) == line


# -- key bindings ------------------------------------------------------------


Step = tuple[str, Callable[[Buffer], bool] | None]


async def _type(
    steps: list[Step], completer=None, history=None, bindings=None
) -> str | BaseException:
    """Type into the shell's command prompt (on a dummy screen); return the line.

    Each step sends keys, then waits until the buffer meets its condition
    (completion and suggestions run in the background, so their effect is
    awaited, not assumed).  Ctrl-C and Ctrl-D come back as their exception:
    asyncio takes a raised ``KeyboardInterrupt`` as a signal to stop.
    """
    with create_pipe_input() as pipe:
        session = command_prompt(
            pipe,
            DummyOutput(),
            completer or DummyCompleter(),
            history or InMemoryHistory(),
            key_bindings=bindings,
        )

        async def read_line() -> str | BaseException:
            try:
                return await session.prompt_async("$ ")
            except (KeyboardInterrupt, EOFError) as exc:
                return exc

        task = asyncio.ensure_future(read_line())
        for keys, ready in steps:
            pipe.send_text(keys)
            for _ in range(500):
                if task.done() or ready is None or ready(session.default_buffer):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError(f"after {keys!r}: {session.default_buffer.document}")
        return await asyncio.wait_for(task, 5)


def type_keys(*steps: Step, completer=None, history=None, bindings=None) -> str | BaseException:
    return asyncio.run(_type(list(steps), completer, history, bindings))


def text_is(expected: str) -> Callable[[Buffer], bool]:
    return lambda buffer: buffer.text == expected


def test_ctrl_d_ends_only_on_an_empty_line():
    assert isinstance(type_keys(("\x04", None)), EOFError)
    assert type_keys(("ab\x01\x04\r", None)) == "b"  # Ctrl-A, then Ctrl-D deletes "a"


def test_ctrl_c_abandons_the_line():
    assert isinstance(type_keys(("half a line\x03", None)), KeyboardInterrupt)


def test_tab_completes_the_common_part(store, commands):
    completer = ShellCompleter(store, commands, ShellSession(user="admin"))
    assert type_keys(("gr\t", text_is("grant")), ("\r", None), completer=completer) == "grant"


def test_tab_cycles_a_menu_and_enter_takes_an_entry_without_running(store, commands):
    completer = ShellCompleter(store, commands, ShellSession(user="admin"))
    line = type_keys(
        ("g\t", lambda buffer: bool(buffer.complete_state and buffer.complete_state.completions)),
        ("\t", text_is("go")),
        ("\r", lambda buffer: buffer.complete_state is None),
        (" /\r", None),
        completer=completer,
    )
    assert line == "go /"


def test_history_recall_and_suggestion():
    history = InMemoryHistory(["pwd", "cd /data/reports"])
    assert type_keys(("\x1b[A", text_is("cd /data/reports")), ("\r", None), history=history) == (
        "cd /data/reports"
    )
    suggested = type_keys(
        ("cd /d", lambda buffer: buffer.suggestion is not None),
        ("\x1b[C\r", None),  # Right accepts the grey suggestion
        history=InMemoryHistory(["cd /data/reports"]),
    )
    assert suggested == "cd /data/reports"


# -- history, toolbar, prompt ------------------------------------------------


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("passwd", True),
        ("passwd hunter2", True),
        (" ls -l", True),
        ("set-meta x api_key=abc", True),
        ("set-meta x TOKEN=abc", True),
        ("user add bob --password x", True),
        ("ls -l", False),
        ("cd /data/reports", False),
    ],
)
def test_lines_that_may_hold_a_secret(line, secret):
    assert may_hold_secret(line) is secret


def test_session_history_shares_lines_per_user_without_secrets(monkeypatch):
    lines = ["pwd", "ls"]
    history = SessionHistory(lines)
    assert list(history.load_history_strings()) == ["ls", "pwd"]
    history.append_string("cd /data")
    history.append_string("passwd")
    history.append_string(" cat secret-notes")
    assert lines == ["pwd", "ls", "cd /data"]
    assert history.get_strings()[-1] == "cd /data"

    monkeypatch.setattr(history_module, "MAX_LINES", 3)
    history.append_string("tree")
    assert lines == ["ls", "cd /data", "tree"]


def test_toolbar_shows_user_cwd_failure_and_hint():
    session = ShellSession(user="alice", cwd="/data/my dir")
    toolbar = Toolbar(session)
    text = "".join(fragment[1] for fragment in toolbar())
    assert "alice" in text
    assert "/data/my dir" in text
    assert "exit" not in text.replace("Ctrl-D: exit", "")
    assert "help: list commands" in text
    toolbar.last_status = 3
    assert "exit 3: not found" in "".join(fragment[1] for fragment in toolbar())
    toolbar.last_status = 42
    assert "exit 42: failed" in "".join(fragment[1] for fragment in toolbar())


def test_prompt_shows_control_characters_escaped():
    message = prompt_message(ShellSession(user="bob", cwd="/a\x1bb"))
    assert "".join(text for _, text in message) == "bob@omsh:/a\\x1bb$ "


# -- did you mean (issue 11): unknown commands and flags ------------------------


def test_an_unknown_command_suggests_the_nearest_names(admin):
    assert admin("lss /") == (3, "", "omsh: lss: command not found; did you mean ls?\n")
    assert admin("mkdri /x")[2] == "omsh: mkdri: command not found; did you mean mkdir?\n"
    # Nothing close: the old pointer to help, and the same status.
    assert admin("frobnicate") == (3, "", "omsh: frobnicate: command not found (try 'help')\n")


def test_an_unknown_flag_suggests_the_nearest_flags_of_that_command(admin):
    status, _, err = admin("ls --jsn /")
    assert (status, err) == (2, "omsh: ls: unrecognized arguments: --jsn; did you mean --json?\n")
    assert admin("rm --recursiv=3 /x")[2].endswith("did you mean --recursive?\n")
    assert admin("set-meta / --delte k")[2].endswith("--delte k; did you mean --delete?\n")
    assert admin("ls -Z /")[2] == "omsh: ls: unrecognized arguments: -Z\n"


def test_close_matches_keep_only_the_nearly_best():
    assert close_matches("pwdd", ["pwd", "passwd", "cd", "ls"]) == ["pwd"]
    assert close_matches("xyz", ["pwd", "ls"]) == []
    assert did_you_mean([]) == ""
    assert did_you_mean(["cp", "cd"]) == "; did you mean cp or cd?"
    assert did_you_mean(["a", "b", "c"]) == "; did you mean a, b or c?"


# -- the lexer knows the commands ----------------------------------------------------


def known_tokens(line: str, names=("ls", "cd", "dir")) -> list[tuple[object, str]]:
    lexer = OmshLexer.knowing(names)(stripnl=False, ensurenl=False)
    return [(kind, text) for _, kind, text in lexer.get_tokens_unprocessed(line) if text.strip()]


def test_lexer_marks_unknown_commands():
    assert known_tokens("lss -l /x; cd /; dir") == [
        (UNKNOWN_COMMAND, "lss"),
        (Name.Attribute, "-l"),
        (Name.Namespace, "/x"),
        (Punctuation, ";"),
        (Name.Function, "cd"),
        (Name.Namespace, "/"),
        (Punctuation, ";"),
        (Name.Function, "dir"),
    ]
    assert known_tokens("ls; nosuch")[-1] == (UNKNOWN_COMMAND, "nosuch")
    assert tokens("nosuch")[0] == (Name.Function, "nosuch")  # a lexer told no names judges none


def test_unknown_commands_are_shown_in_the_error_colour():
    unknown = SHELL_STYLE.get_attrs_for_style_str("class:pygments.name.function.unknown")
    error = SHELL_STYLE.get_attrs_for_style_str("class:pygments.error")
    command = SHELL_STYLE.get_attrs_for_style_str("class:pygments.name.function")
    assert (unknown.color, unknown.bold) == (error.color, error.bold) == ("ansired", True)
    assert command.color != unknown.color


# -- completing metadata keys, query expressions and principals ----------------


@pytest.fixture
def tagged(store, admin):
    """/photos and /docs with tagged objects; /shared, where alice may look but
    not into /shared/private."""
    for path in ("/photos/cats", "/docs", "/shared/open", "/shared/private"):
        admin.ok(f"mkdir -p {path}")
    for path in (
        "/photos/a.jpg",
        "/photos/cats/b.jpg",
        "/docs/c.txt",
        "/shared/open/d",
        "/shared/private/e",
    ):
        admin.ok(f"put {path}", b"data")
    admin.ok("set-meta /photos/a.jpg camera=nikon 'colour space=rgb' size=3")
    admin.ok("set-meta /photos/cats/b.jpg cat=tabby")
    admin.ok("set-meta /docs/c.txt author=me")
    admin.ok("set-meta /shared/open/d public=yes")
    admin.ok("set-meta /shared/private/e hidden=yes")
    admin.ok("set-meta /docs gone=1")
    admin.ok("set-meta /docs -d gone")
    admin.ok("acl grant /shared alice read,read-metadata --inherit")
    admin.ok("acl deny /shared/private alice read")
    return store


def test_set_meta_offers_keys_at_and_beside_the_target(tagged, registry):
    assert applied(tagged, registry, "set-meta /photos/a.jpg ") == [
        "set-meta /photos/a.jpg camera=",
        "set-meta /photos/a.jpg cat=",
        "set-meta /photos/a.jpg colour\\ space=",
        "set-meta /photos/a.jpg size=",
    ]
    assert applied(tagged, registry, "set-meta /photos/a.jpg ca") == [
        "set-meta /photos/a.jpg camera=",
        "set-meta /photos/a.jpg cat=",
    ]
    assert applied(tagged, registry, "set-meta /photos/a.jpg camera=") == []  # the value
    # -d: only the keys the object has.
    assert applied(tagged, registry, "set-meta /photos/cats/b.jpg -d ") == [
        "set-meta /photos/cats/b.jpg -d cat"
    ]
    assert applied(tagged, registry, "set-meta /docs -d ") == []  # its one key was deleted


def test_find_meta_offers_keys_below_its_path(tagged, registry):
    assert applied(tagged, registry, "find /docs --meta ") == ["find /docs --meta author="]
    assert applied(tagged, registry, "find --meta=a", cwd="/docs") == ["find --meta=author="]
    below_root = applied(tagged, registry, "find / --meta ")
    assert [line.removeprefix("find / --meta ") for line in below_root] == [
        "author=",
        "camera=",
        "cat=",
        "colour\\ space=",
        "hidden=",
        "public=",
        "size=",
    ]


def test_keys_of_objects_the_user_may_not_see_are_not_offered(tagged, registry):
    assert applied(tagged, registry, "find /shared --meta ", user="alice") == [
        "find /shared --meta public="
    ]
    assert applied(tagged, registry, "find /photos --meta ", user="alice") == []  # private


def test_keys_come_from_the_smaller_side_of_key_and_subtree(tagged, registry, admin):
    # "common" held by many objects, /docs holding few: the subtree's documents are checked.
    for n in range(12):
        admin.ok(f"put /photos/p{n}", b"x")
        admin.ok(f"set-meta /photos/p{n} common=1")
    admin.ok("set-meta /docs/c.txt common=2")
    assert applied(tagged, registry, "find /docs --meta c") == ["find /docs --meta common="]
    # A key one object holds, in a subtree of many: the key's documents are checked.
    assert applied(tagged, registry, "find /photos --meta cat") == ["find /photos --meta cat="]


def test_key_search_is_bounded(tagged, registry, admin, monkeypatch):
    from omsh.store import index

    for n in range(5):
        admin.ok(f"put /docs/x{n}", b"x")
    admin.ok("set-meta /docs/x4 late=1")
    monkeypatch.setattr(index, "KEY_SCAN_PER_FIELD", 1)
    monkeypatch.setattr(index, "KEY_SCAN_TOTAL", 1)
    offered = applied(tagged, registry, "find / --meta ")
    assert len(offered) == 1  # one document looked at in all: at most one key


def test_query_offers_fields_then_operators_then_connectives(tagged, registry):
    offered = {c.display_text for c in completions(tagged, registry, "query ")}
    assert {"name", "size", "cdmi_size", "mimetype", "camera", "NOT"} <= offered
    assert '"colour space"' in offered and '"size"' in offered  # quoted keys
    # A query begun unquoted gets its quote; completions leave it open.
    assert "query 'camera " in applied(tagged, registry, "query ")
    assert applied(tagged, registry, "query 'cam") == ["query 'camera "]
    assert applied(tagged, registry, 'query "cam') == ['query "camera ']
    assert applied(tagged, registry, "query 'camera = 'x' a") == ["query 'camera = 'x' and "]
    assert applied(tagged, registry, "query 'size IS ") == [
        "query 'size IS NULL ",
        "query 'size IS NOT NULL ",
    ]
    assert applied(tagged, registry, "query 'x' --order-by cam") == ["query 'x' --order-by camera"]
    assert applied(tagged, registry, "query 'x' --select name,col") == []  # needs its quote
    assert applied(tagged, registry, """query 'x' --select 'name,"col""") == [
        """query 'x' --select 'name,"colour space"'"""
    ]
    # --in scopes the keys, as it scopes the query.
    fields = {c.display_text for c in completions(tagged, registry, "query --in /docs '")}
    assert "author" in fields and "camera" not in fields


@pytest.mark.parametrize(
    ("text", "expecting", "partial"),
    [
        ("", "field", ""),
        ("si", "field", "si"),
        ("size ", "operator", ""),
        ("size >", "operator", ">"),
        ("size > ", "value", ""),
        ("size > 5 ", "after", ""),
        ("size > 5 AND ", "field", ""),
        ("size > 5 or NOT (", "field", ""),
        ('"my key" NOT ', "negated", ""),
        ("a is ", "is", ""),
        ("a IS NOT ", "is-not", ""),
        ("a IS NULL ", "after", ""),
        ("a BETWEEN 1 ", "between-and", ""),
        ("a BETWEEN 1 AND 2 ", "after", ""),
        ("a IN (1, ", "in-list", ""),
        ("a IN (1, 2) ", "after", ""),
        ("a LIKE 'x%' ", "after", ""),
        ("a = TIMESTAMP '2024-01-01' ", "after", ""),
        ("a = 'it''s ", None, ""),  # inside a string
        ("a = = ", None, ""),  # wrong: no guess
        ("a ! ", None, ""),
    ],
)
def test_query_expectation(text, expecting, partial):
    assert query_expectation(text) == (expecting, partial)


def test_query_field_quotes_what_the_language_would_misread():
    assert query_field("camera") == "camera"
    assert query_field("size") == '"size"'
    assert query_field("and") == '"and"'
    assert query_field('a "b" c') == '"a ""b"" c"'
    assert query_field("camera", quoted=True) == '"camera"'


def test_acl_offers_actions_principals_and_permissions(tagged, registry):
    tagged.run(lambda root: root.principals.add_group("staff"))
    assert applied(tagged, registry, "acl g") == ["acl grant"]
    offered = [c.display_text for c in completions(tagged, registry, "acl grant /docs ")]
    assert offered[:6] == [
        "OWNER@",
        "GROUP@",
        "EVERYONE@",
        "AUTHENTICATED@",
        "ANONYMOUS@",
        "ADMINISTRATOR@",
    ]
    assert {"admin", "alice", "bob", "g:admins", "g:staff"} <= set(offered)
    assert applied(tagged, registry, "acl grant /docs g:s") == ["acl grant /docs g:staff"]
    assert applied(tagged, registry, "acl grant /docs ev") == ["acl grant /docs everyone@"]
    assert applied(tagged, registry, "acl grant /docs alice read,w") == [
        "acl grant /docs alice read,write",
        "acl grant /docs alice read,write-acl",
        "acl grant /docs alice read,write-metadata",
        "acl grant /docs alice read,w",
    ]
    assert applied(tagged, registry, "acl check /docs --user b") == ["acl check /docs --user bob"]
    # Only the caller's own names for a user who may not list principals.
    assert {
        c.display_text for c in completions(tagged, registry, "acl grant /x a", user="bob")
    } == {
        "anonymous@",
        "authenticated@",
        "administrator@",
    }


def test_setfacl_offers_entries(tagged, registry):
    offered = [c.display_text for c in completions(tagged, registry, "setfacl -m ")]
    assert offered[:4] == ["d:", "u:", "g:", "o::"] and "EVERYONE@:" in offered
    assert applied(tagged, registry, "setfacl -m u:al") == ["setfacl -m u:alice:"]
    assert applied(tagged, registry, "setfacl -x u:al") == ["setfacl -x u:alice"]
    assert "setfacl -m u:alice:rw,d:g:" in applied(tagged, registry, "setfacl -m u:alice:rw,d:")
    assert applied(tagged, registry, "setfacl -m EVERYONE@:wr") == [
        "setfacl -m EVERYONE@:write",
        "setfacl -m EVERYONE@:write-acl",
        "setfacl -m EVERYONE@:write-metadata",
    ]


def test_chown_and_choices(tagged, registry):
    assert applied(tagged, registry, "chown al") == ["chown alice"]
    assert applied(tagged, registry, "find --type ") == [
        "find --type container",
        "find --type object",
    ]
    assert applied(tagged, registry, "user s") == ["user show"]


# -- history expansion -------------------------------------------------------

HISTORY = ["ls -l /data", "cd '/my dir'", "stat x"]


@pytest.mark.parametrize(
    ("line", "expanded"),
    [
        ("!!", "stat x"),
        ("!1", "ls -l /data"),
        ("!-2", "cd '/my dir'"),
        ("ls !$", "ls x"),
        ("!c", "cd '/my dir'"),
        ("!st; !!", "stat x; stat x"),
        ('tree "!-1"', 'tree "stat x"'),  # double quotes do not protect, as in bash
        ("echo '!!'", "echo '!!'"),  # single quotes do
        ("echo \\!!", "echo \\!!"),  # nor does an escaped "!"
        ("find 'a != b'", "find 'a != b'"),
        ('find "a != b"', 'find "a != b"'),  # "!" before "=" is no event
        ("x !", "x !"),
        ("ls", "ls"),
    ],
)
def test_history_expansion(line, expanded):
    assert expand_history(line, HISTORY) == expanded


def test_last_word_keeps_its_quotes():
    assert expand_history("cd !$", ["ls 'my dir'"]) == "cd 'my dir'"


@pytest.mark.parametrize("line", ["!42", "!0", "!-4", "!nothing", "ls !!"])
def test_unknown_history_events(line):
    history = HISTORY if line != "ls !!" else []
    with pytest.raises(EventNotFound) as caught:
        expand_history(line, history)
    assert str(caught.value) == f"{line.removeprefix('ls ')}: event not found"
    assert caught.value.exit_status == 1


def test_prompt_history_reads_the_list_and_records_nothing():
    lines = ["pwd"]
    seen = PromptHistory(lines)
    SessionHistory(lines).append_string("ls")
    seen.append_string("typed")
    assert seen.get_strings() == ["pwd", "ls"]
    assert lines == ["pwd", "ls"]


# -- paste and Ctrl-Z ----------------------------------------------------------


def test_a_multi_line_paste_runs_its_first_line_and_queues_the_rest():
    pasted: list[tuple[list[str], str]] = []
    bindings = shell_key_bindings(on_paste=lambda lines, rest: pasted.append((lines, rest)))
    line = type_keys(("cd \x1b[200~/a\r\npwd\rls -l\nhist\x1b[201~", None), bindings=bindings)
    assert line == "cd /a"
    assert pasted == [(["pwd", "ls -l"], "hist")]


def test_a_one_line_paste_is_only_inserted():
    pasted: list[object] = []
    bindings = shell_key_bindings(on_paste=lambda lines, rest: pasted.append(lines))
    line = type_keys(("\x1b[200~pwd\x1b[201~", text_is("pwd")), ("\r", None), bindings=bindings)
    assert line == "pwd"
    assert pasted == []


def test_ctrl_z_only_shows_a_notice():
    notices: list[str] = []
    line = type_keys(("pwd\x1a\r", None), bindings=shell_key_bindings(notify=notices.append))
    assert line == "pwd"
    assert notices == [NO_JOB_CONTROL]
    session = ShellSession(user="alice")
    toolbar = Toolbar(session)
    toolbar.notice = NO_JOB_CONTROL
    text = "".join(fragment[1] for fragment in toolbar())
    assert NO_JOB_CONTROL in text
    assert "help: list commands" not in text


# -- the pager -----------------------------------------------------------------


def test_chop_keeps_colours_and_cuts_at_display_columns():
    line = "\x1b[1;34mbox/\x1b[0m  plain\ttab"
    assert chop(line, 0, 80) == "\x1b[1;34mbox/\x1b[0m  plain     tab\x1b[0m"
    assert chop(line, 0, 3) == "\x1b[1;34mbox\x1b[0m"
    assert chop(line, 6, 5) == "\x1b[1;34m\x1b[0mplain\x1b[0m"  # the colour state left of view
    assert chop("a\x01b\x1b[2Jc", 0, 10) == "a^Abc"  # controls shown, other escapes dropped
    assert chop("日本語", 1, 4) == " 本 "  # wide characters cut by an edge become spaces


def test_rows_needed_counts_wrapped_lines():
    assert rows_needed("a\nb", 80, 10) == 2
    assert rows_needed("x" * 81, 80, 10) == 2
    assert rows_needed("\x1b[31m" + "x" * 80 + "\x1b[0m", 80, 10) == 1
    assert rows_needed("\n" * 100, 80, 10) == 11  # stops counting past the limit


@pytest.mark.parametrize(
    ("env", "disabled"),
    [
        ({}, False),
        ({"OMSH_PAGER": "off"}, True),
        ({"PAGER": "cat"}, True),
        ({"PAGER": "less"}, False),
    ],
)
def test_pager_can_be_turned_off_by_the_environment(env, disabled):
    assert pager_disabled(env) is disabled


def test_pager_prints_short_output_pages_long_output_and_holds_the_writer_back():
    async def scenario() -> tuple[list[bytes], list[str], int]:
        loop = asyncio.get_running_loop()
        sent: list[bytes] = []
        drawn: list[str] = []
        pager = TerminalPager(loop, drawn.append, lambda: Size(rows=10, columns=20))
        sink = pager.attach(sent.append)

        def short() -> None:
            with pager.page():
                sink(b"one\r\ntwo\r\n")

        await loop.run_in_executor(None, short)
        assert sent == [b"one\r\ntwo\r\n"]
        assert drawn == []
        written = 0

        def long() -> None:
            nonlocal written
            with pager.page():
                for number in range(100_000):
                    sink(f"line {number}\r\n".encode())
                    written += 1

        finished = loop.run_in_executor(None, long)
        while not pager.showing:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        pager.feed_keys("q")
        await asyncio.wait_for(finished, 5)  # quitting ends the command quietly
        return sent, drawn, written

    sent, drawn, written = asyncio.run(scenario())
    assert len(sent) == 1  # nothing of the long output went past the pager
    assert drawn[0].startswith("\r\x1b[Kline 0\r\n")
    assert drawn[-1] == "\r\x1b[K"  # quitting erases the status line only
    # A screen and two of read-ahead (9 rows each, less the status line), not 100,000
    # lines; the write that filled them is the one held back.
    assert written == 9 * 3 - 1


def test_pager_sends_binary_output_straight_through():
    async def scenario() -> list[bytes]:
        loop = asyncio.get_running_loop()
        sent: list[bytes] = []
        pager = TerminalPager(loop, lambda text: None, lambda: Size(rows=5, columns=20))
        sink = pager.attach(sent.append)

        def binary() -> None:
            with pager.page():
                sink(b"text\r\n")
                sink(b"\x00\x01" * 1000)

        await loop.run_in_executor(None, binary)
        return sent

    assert asyncio.run(scenario()) == [b"text\r\n", b"\x00\x01" * 1000]
