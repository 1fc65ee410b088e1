"""Splitting command lines into words, and what each word remembers."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsh.commands.words import UnsupportedSyntax, Word, split_commands
from omsh.errors import UsageError

# Everything but NUL and lone surrogates (neither can reach us as UTF-8 text).
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))


def sh_quote(text: str) -> str:
    """POSIX single quoting: the word exactly, whatever it contains."""
    return "'" + text.replace("'", "'\\''") + "'"


@given(st.lists(_TEXT, min_size=1, max_size=6))
def test_quoted_words_round_trip(words: list[str]) -> None:
    line = " ".join(sh_quote(word) for word in words)
    (parsed,) = split_commands(line)
    assert parsed == words
    for word, original in zip(parsed, words, strict=True):
        assert word.quoted_positions == frozenset(range(len(original)))
        assert word.glob_pattern is None


@given(st.lists(_TEXT, min_size=1, max_size=4), st.lists(_TEXT, min_size=1, max_size=4))
def test_quoted_semicolons_do_not_split(first: list[str], second: list[str]) -> None:
    line = " ".join(map(sh_quote, first)) + " ; " + " ".join(map(sh_quote, second))
    assert split_commands(line) == [first, second]


@given(st.text(alphabet="ab \t'\"\\\n;", max_size=24))
def test_agrees_with_posix_shlex(line: str) -> None:
    """Where ``;`` does not occur, omsh splits exactly as Python's POSIX shlex."""
    if ";" in line:
        line = line.replace(";", "")
    try:
        expected = shlex.split(line, comments=False, posix=True)
    except ValueError:
        with pytest.raises(UsageError):
            split_commands(line)
        return
    assert [str(w) for command in split_commands(line) for w in command] == expected


@given(st.text(max_size=40))
def test_any_text_splits_or_is_a_usage_error(line: str) -> None:
    try:
        commands = split_commands(line)
    except UnsupportedSyntax as exc:
        assert "omsh has no" in str(exc)
        return
    except UsageError as exc:
        assert "unterminated" in str(exc)
        return
    assert all(commands)  # no empty commands


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ls -l", ["ls", "-l"]),
        ("  spaced   out  ", ["spaced", "out"]),
        ("a'b c'd", ["ab cd"]),
        ('"a \\" b"', ['a " b']),
        ('"keep \\n"', ["keep \\n"]),
        ("back\\ slash", ["back slash"]),
        ("''", [""]),
        ("x=''", ["x="]),
        ("日本 ü", ["日本", "ü"]),
    ],
)
def test_examples(line: str, words: list[str]) -> None:
    assert split_commands(line) == [words]


def test_empty_commands_are_dropped() -> None:
    assert split_commands(" ;; a ; ; b ;") == [["a"], ["b"]]
    assert split_commands("") == []


@pytest.mark.parametrize(("line", "column"), [("'open", 1), ('a "b', 3), ("tail\\", 5)])
def test_unterminated(line: str, column: int) -> None:
    with pytest.raises(UsageError, match=f"column {column}"):
        split_commands(line)


def test_quoted_positions_and_wildcards() -> None:
    ((word,),) = split_commands("n='5'")
    assert word == "n=5"
    assert word.quoted_positions == frozenset({2})
    ((glob,),) = split_commands("a*'*'?")
    assert glob.glob_pattern == "a*[*]?"
    assert Word("plain").glob_pattern is None


# -- shell operators omsh does not have -------------------------------------


@pytest.mark.parametrize(
    ("line", "operator"),
    [
        ("ls / | grep a", "|"),
        ("ls|grep", "|"),
        ("ls |& less", "|&"),
        ("ls > out", ">"),
        ("ls>>out", ">>"),
        ("put /x < file", "<"),
        ("ls a>b", ">"),
        ("ls 2>/dev/null", "2>"),
        ("ls 2>&1", "2>&1"),
        ("ls &> both", "&>"),
        ("cat <<EOF", "<<"),
        ("mkdir a && ls a", "&&"),
        ("ls a || ls b", "||"),
        ("ls &", "&"),
        ("ls a&b", "&"),
        ("ls $(pwd)", "$("),
        ("ls `pwd`", "`"),
        ("ls ; ls | wc", "|"),
    ],
)
def test_unquoted_operators_are_refused(line: str, operator: str) -> None:
    with pytest.raises(UnsupportedSyntax) as refused:
        split_commands(line)
    assert refused.value.operator == operator
    assert refused.value.exit_status == 2
    message = str(refused.value)
    assert message.startswith(f"{operator!r} is not supported: omsh has no ")
    assert "\n" not in message


def test_the_message_says_how_to_pipe_on_the_client() -> None:
    with pytest.raises(UnsupportedSyntax, match="omsh has no pipes") as refused:
        split_commands("ls / | grep a")
    assert str(refused.value).endswith("pipe on your side instead: ssh HOST 'ls /' | grep a")


@pytest.mark.parametrize(
    ("line", "example"),
    [
        ("put /x < photo.jpg", "ssh HOST 'put /x' < photo.jpg"),
        ("ls 2>&1", "ssh HOST ls 2>&1"),
        ("ls |", "ssh HOST ls | COMMAND"),
        ("> out", "ssh HOST COMMAND > out"),
        ("ls >", "ssh HOST ls > FILE"),
        ("query 'n > 1' | head", "ssh HOST \"query 'n > 1'\" | head"),
        ("mkdir a && ls a", "ssh HOST 'mkdir a' && ssh HOST 'ls a'"),
    ],
)
def test_client_side_examples(line: str, example: str) -> None:
    with pytest.raises(UnsupportedSyntax) as refused:
        split_commands(line)
    assert str(refused.value).endswith(example)


@given(st.lists(_TEXT, min_size=1, max_size=4))
def test_the_example_quotes_the_command_for_the_client_shell(words: list[str]) -> None:
    """The client's ``sh`` hands ssh the refused command as one word, unchanged."""
    before = " ".join(sh_quote(word) for word in words)
    with pytest.raises(UnsupportedSyntax) as refused:
        split_commands(before + " | grep a")
    example = str(refused.value).split("instead: ", 1)[1]
    assert shlex.split(example) == ["ssh", "HOST", before, "|", "grep", "a"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ls 'a|b' \"c>d\" e\\|f g\\&\\&h", ["ls", "a|b", "c>d", "e|f", "g&&h"]),
        ("query 'n > 1' --count", ["query", "n > 1", "--count"]),
        ("set-meta x 'url=http://h/?a=1&b=2'", ["set-meta", "x", "url=http://h/?a=1&b=2"]),
        ('ls "$(pwd)" \\`x\\`', ["ls", "$(pwd)", "`x`"]),
        ("ls $HOME a$ 2", ["ls", "$HOME", "a$", "2"]),
    ],
)
def test_quoted_operators_are_ordinary_characters(line: str, words: list[str]) -> None:
    assert split_commands(line) == [words]


def test_a_line_with_an_operator_runs_nothing(admin) -> None:
    """Refused before the first command: no listing, no container made."""
    status, out, err = admin("mkdir /made; ls / | grep made")
    assert (status, out) == (2, "")
    assert err.startswith("omsh: '|' is not supported: omsh has no pipes or redirections")
    assert len(err.splitlines()) == 1
    assert admin("ls /made")[0] == 3
