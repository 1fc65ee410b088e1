"""meta and set-meta: typed values from shell words."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from omsh.commands.metadata import parse_assignment, pasteable_item
from omsh.commands.words import Word, split_commands
from omsh.errors import UsageError
from omsh.store.metadata import MAX_ITEMS, MAX_VALUE_BYTES, InvalidMetadata, to_text


def metadata(driver, path: str) -> tuple[dict, dict]:
    document = json.loads(driver.ok(f"meta --json {path}"))
    return document["metadata"], document["types"]


@pytest.fixture
def thing(admin):
    admin.ok("put /thing", stdin=b"x")
    return admin


def test_values_are_typed_by_their_text_whatever_the_quoting(thing) -> None:
    thing.ok(
        "set-meta /thing n=5 s='5' f=1.5 b=true d=2024-05-01 t=hello q=\"7\" neg=-3 e= half=5'5'"
    )
    values, types = metadata(thing, "/thing")
    assert values == {
        "n": 5,
        "s": 5,
        "f": 1.5,
        "b": True,
        "d": "2024-05-01T00:00:00.000000Z",
        "t": "hello",
        "q": 7,
        "neg": -3,
        "e": "",
        "half": 55,
    }
    assert types == {
        "n": "int",
        "s": "int",
        "f": "float",
        "b": "bool",
        "d": "datetime",
        "t": "str",
        "q": "int",
        "neg": "int",
        "e": "str",
        "half": "int",
    }


def test_whole_word_quoted_is_typed_the_same(thing) -> None:
    thing.ok("set-meta /thing 'n=5' \"m=true\"")
    assert metadata(thing, "/thing") == ({"n": 5, "m": True}, {"n": "int", "m": "bool"})


def test_explicit_types(thing) -> None:
    thing.ok(
        "set-meta /thing code:str=007 n:int=-5 x:float=2 flag:bool=TRUE"
        " when:time=2024-05-01 at:datetime=2024-05-01T10:00:00+02:00 yes:str=true"
    )
    assert metadata(thing, "/thing") == (
        {
            "code": "007",
            "n": -5,
            "x": 2.0,
            "flag": True,
            "when": "2024-05-01T00:00:00.000000Z",
            "at": "2024-05-01T08:00:00.000000Z",
            "yes": "true",
        },
        {
            "code": "str",
            "n": "int",
            "x": "float",
            "flag": "bool",
            "when": "datetime",
            "at": "datetime",
            "yes": "str",
        },
    )


def test_only_a_last_known_type_name_after_a_colon_is_a_type(thing) -> None:
    thing.ok("set-meta /thing dc:title=5 a:b:str=5 x:int:int=5 x:INT=5 u:integer=5")
    assert metadata(thing, "/thing")[1] == {
        "dc:title": "int",
        "a:b": "str",
        "x:int": "int",
        "x:INT": "int",
        "u:integer": "int",
    }


@pytest.mark.parametrize(
    ("item", "spelling"),
    [
        ("n:int=1.5", "digits"),
        ("n:int=abc", "digits"),
        ("f:float=nan", "decimal number"),
        ("b:bool=yes", "true or false"),
        ("b:bool=1", "true or false"),
        ("t:time=yesterday", "ISO 8601"),
        ("t:datetime=2024-13-01", "ISO 8601"),
    ],
)
def test_a_value_that_is_no_spelling_of_its_type_is_a_usage_error(thing, item, spelling) -> None:
    status, out, err = thing(f"set-meta /thing keep=1 {item}")
    assert (status, out) == (2, "")
    assert spelling in err
    assert err.count("\n") == 1
    assert metadata(thing, "/thing")[0] == {}


def test_values_with_spaces_and_equals(thing) -> None:
    thing.ok("set-meta /thing 'title=a b = c' expr=x=y")
    assert metadata(thing, "/thing")[0] == {"title": "a b = c", "expr": "x=y"}


def test_the_first_equals_sign_ends_the_key_even_quoted(thing) -> None:
    thing.ok("set-meta /thing 'a=b'=c")
    assert metadata(thing, "/thing")[0] == {"a": "b=c"}


def test_meta_table(thing) -> None:
    thing.ok("set-meta /thing n=5 s:str=5 'title=a b' when=2024-01-01T10:00:00+02:00")
    assert thing.ok("meta /thing").splitlines() == [
        "TYPE      ITEM",
        "int       n=5",
        "str       s:str=5",
        "str       'title=a b'",
        "datetime  when=2024-01-01T08:00:00.000000Z",
    ]


def test_meta_output_pasted_into_set_meta_gives_the_same_items(thing) -> None:
    thing.ok(
        "set-meta /thing code:str=007 n=5 s:str=true dc:title=x x:int:str=5 'sp=a b'"
        " q:str=\"it's\" empty= when=2024-05-01 f:float=2 semi:str='a;b|c'"
    )
    thing.ok("put /copy")
    items = [line.split(maxsplit=1)[1] for line in thing.ok("meta /thing").splitlines()[1:]]
    thing.ok("set-meta /copy " + " ".join(items))
    assert metadata(thing, "/copy") == metadata(thing, "/thing")


def test_meta_of_a_container_and_empty_metadata(admin) -> None:
    admin.ok("mkdir /c")
    assert admin.ok("meta /c") == ""
    assert json.loads(admin.ok("meta --json /c")) == {"path": "/c", "metadata": {}, "types": {}}
    admin.ok("set-meta /c owner-team=storage")
    assert metadata(admin, "/c")[0] == {"owner-team": "storage"}


def test_delete_keys(thing) -> None:
    thing.ok("set-meta /thing a=1 b=2 c=3")
    thing.ok("set-meta /thing -d a c")
    assert metadata(thing, "/thing")[0] == {"b": 2}
    thing.ok("set-meta /thing -d missing")
    thing.ok("set-meta /thing d=4 -d b")
    assert metadata(thing, "/thing")[0] == {"d": 4}


def test_set_meta_json_prints_the_result(thing) -> None:
    document = json.loads(thing.ok("set-meta --json /thing n=1"))
    assert document == {"path": "/thing", "metadata": {"n": 1}, "types": {"n": "int"}}


@pytest.mark.parametrize(
    ("line", "status", "message"),
    [
        ("set-meta /thing", 2, "nothing to do"),
        ("set-meta /thing novalue", 2, "novalue: expected KEY=VALUE"),
        ("set-meta /thing -d a=1", 2, "-d takes keys"),
        ("set-meta /thing =5", 1, "empty metadata key"),
        ("set-meta /thing cdmi_size=5", 1, "reserved"),
        ("set-meta /thing n=99999999999999999999", 1, "64-bit"),
        ("set-meta /thing n:int=99999999999999999999", 1, "KEY:str=VALUE"),
        ("set-meta /thing :str=5", 1, "empty metadata key"),
        ("set-meta /thing f=1e999", 1, "finite"),
        ("set-meta /nope n=1", 3, "not found"),
        ("set-meta /thing n=1 --bogus", 2, "unrecognized"),
        ("meta", 2, "required"),
        ("meta /nope", 3, "not found"),
    ],
)
def test_errors(thing, line, status, message) -> None:
    got, out, err = thing(line)
    assert (got, out) == (status, "")
    assert message in err
    assert err.count("\n") == 1


def test_a_failed_set_meta_changes_nothing(thing) -> None:
    thing.ok("set-meta /thing keep=1")
    assert thing("set-meta /thing new=2 cdmi_x=3")[0] == 1
    assert metadata(thing, "/thing")[0] == {"keep": 1}


def test_huge_values(thing) -> None:
    big = "v" * MAX_VALUE_BYTES
    thing.ok(f"set-meta /thing big={big}")
    assert metadata(thing, "/thing")[0]["big"] == big
    status, _, err = thing(f"set-meta /thing big={big}v")
    assert status == 1
    assert "longer than" in err
    assert len(err) < 200


def test_item_limit(thing) -> None:
    assignments = " ".join(f"k{i}={i}" for i in range(MAX_ITEMS))
    thing.ok(f"set-meta /thing {assignments}")
    status, _, err = thing("set-meta /thing one=more")
    assert status == 1
    assert f"at most {MAX_ITEMS}" in err


def test_unicode_keys_and_values(thing) -> None:
    thing.ok("set-meta /thing 'clé=värde' 日本=語")
    assert metadata(thing, "/thing")[0] == {"clé": "värde", "日本": "語"}


def test_control_characters_are_shown_escaped(thing) -> None:
    thing.ok('set-meta /thing "note=line1\nline2"')
    assert "line1\\x0aline2" in thing.ok("meta /thing")


def test_alice_may_read_but_not_write_admins_metadata(homes, thing, alice) -> None:
    thing.ok("set-meta /thing n=1; acl grant /thing alice read")
    assert metadata(alice, "/thing")[0] == {"n": 1}
    assert alice("set-meta /thing n=2") == (4, "", "omsh: set-meta: /thing: permission denied\n")
    alice.ok("put /home/alice/mine")
    alice.ok("set-meta /home/alice/mine n=2")


def test_set_meta_wildcard_path_must_match_one(thing) -> None:
    thing.ok("put /thing2")
    status, _, err = thing("set-meta /thing* n=1")
    assert status == 2
    assert "matches 2 objects" in err
    thing.ok("set-meta /thing2* n=1")
    assert metadata(thing, "/thing2")[0] == {"n": 1}


# -- parse_assignment -------------------------------------------------------------


def test_parse_assignment_accepts_plain_strings() -> None:
    assert parse_assignment("n=5") == ("n", 5)


def test_parse_assignment_needs_an_equals_sign() -> None:
    with pytest.raises(UsageError):
        parse_assignment(Word("abc"))
    with pytest.raises(UsageError, match="…"):
        parse_assignment("x" * 500)


_KEY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="="),
    min_size=1,
    max_size=20,
).filter(lambda key: not key.startswith("cdmi_"))


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


_VALUE = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
    st.sampled_from(["007", "5", "1.5", "true", "False", "2024-01-01", "1e3", "-0", ""]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


@given(_KEY, _VALUE)
def test_quoting_never_changes_the_type(key: str, value: str) -> None:
    text = str(value)
    line = f"set-meta {_sh_quote(key + '=' + text)} {_sh_quote(key)}={_sh_quote(text)}"
    (words,) = split_commands(line)
    try:
        expected = parse_assignment(Word(f"{key}={text}"))
    except (UsageError, InvalidMetadata):
        return
    for word in words[1:]:
        got = parse_assignment(word)
        assert got == expected
        assert type(got[1]) is type(expected[1])


@given(_KEY, _VALUE)
def test_a_pasted_item_reads_back_as_the_same_value_and_type(key: str, value: object) -> None:
    """What meta shows for an item, typed back into set-meta, is that item.

    Unprintable characters are shown escaped, so those items are not pasteable.
    """
    assume(key.isprintable() and to_text(value).isprintable())
    (words,) = split_commands(f"set-meta /x {pasteable_item(key, value)}")
    got_key, got = parse_assignment(words[2])
    assert got_key == key
    assert type(got) is type(value)
    assert got == value


@given(st.text(max_size=30))
def test_unquoted_values_type_or_fail_cleanly(value: str) -> None:
    try:
        key, _ = parse_assignment(Word("k=" + value))
    except (UsageError, InvalidMetadata):
        return
    assert key == "k"
