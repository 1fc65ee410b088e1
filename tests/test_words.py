"""Splitting command lines into words, and what each word remembers."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omsh.commands.words import Word, split_commands
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
    assert word.is_quoted_from(2)
    assert not word.is_quoted_from(3)
    ((glob,),) = split_commands("a*'*'?")
    assert glob.glob_pattern == "a*[*]?"
    assert Word("plain").glob_pattern is None
