"""``meta export`` and ``meta import``: exact round trips, line-numbered refusals.

The formats (:mod:`omsh.commands.metaio`) are checked alone with hypothesis,
and through the shell against a store: export, import, export gives the
same text with every type kept; a bad line changes nothing and says where.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.commands import metaio
from omsh.commands.base import ShellSession
from omsh.commands.output import BufferOutput
from omsh.commands.runtime import Shell
from omsh.errors import TransferAborted
from omsh.store.metadata import MAX_INT, MIN_INT, MetadataValue, validate_key
from omsh.store.view import StoreView


def _valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except Exception:
        return False
    return True


KEYS = st.text(min_size=1, max_size=12).filter(_valid_key)
VALUES: st.SearchStrategy[MetadataValue] = st.one_of(
    st.text(max_size=40),
    st.integers(MIN_INT, MAX_INT),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(["007", "1.5", "true", "2024-06-01", 'a,"b"\nc\r\nd', "ünï ✓", ""]),
)
ITEMS = st.dictionaries(KEYS, VALUES, max_size=8)
PATHS = st.text(min_size=1, max_size=20).filter(lambda p: "\n" not in p).map(lambda p: "/" + p)


def typed(items: dict) -> dict:
    """Items with their types, so 1, 1.0 and True are told apart."""
    return {key: (type(value), value) for key, value in items.items()}


def lines(text: str) -> list[tuple[int, str]]:
    return list(metaio.input_lines([text.encode("utf-8")]))


# -- the formats alone --------------------------------------------------------------


@given(path=PATHS, items=ITEMS)
def test_json_lines_read_back_exactly(path: str, items: dict) -> None:
    text = metaio.json_line(path, sorted(items.items())) + "\n"
    (record,) = metaio.read_json_lines(lines(text))
    assert record.path == path and typed(record.items) == typed(items)


@given(path=PATHS, items=ITEMS)
def test_csv_rows_read_back_exactly(path: str, items: dict) -> None:
    text = metaio.csv_header() + metaio.csv_rows(path, sorted(items.items()))
    merged = metaio.merge(metaio.read_csv(lines(text)))
    got = merged[path].items if items else {}
    assert typed(got) == typed(items)


def test_the_json_shape_is_documented_and_typed() -> None:
    when = datetime(2024, 6, 1, 12, tzinfo=UTC)
    line = metaio.json_line("/a", [("b", True), ("f", 1.0), ("n", 5), ("s", "5"), ("t", when)])
    assert json.loads(line) == {
        "path": "/a",
        "metadata": {
            "b": {"type": "bool", "value": True},
            "f": {"type": "float", "value": 1.0},
            "n": {"type": "int", "value": 5},
            "s": {"type": "str", "value": "5"},
            "t": {"type": "datetime", "value": "2024-06-01T12:00:00.000000Z"},
        },
    }
    rows = metaio.csv_rows("/a,b", [("q", 'say "hi"'), ("n", 5)])
    assert rows == '"/a,b",q,str,"say ""hi"""\n"/a,b",n,int,5\n'


def test_text_values_are_typed_by_the_set_meta_rule() -> None:
    text = '{"path": "/a", "metadata": {"n": {"type": "int", "value": "42"},'
    text += ' "w": {"type": "time", "value": "2024-06-01"}, "f": {"type": "float", "value": 2}}}'
    (record,) = metaio.read_json_lines(lines(text))
    assert typed(record.items) == typed({"n": 42, "w": datetime(2024, 6, 1, tzinfo=UTC), "f": 2.0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"path": "/a", "metadata": {}}\n{"path": "/b", "metadata": {}\n', "line 2: not JSON"),
        ("\n\n[1, 2]\n", 'line 3: expected {"path"'),
        ('{"path": 5, "metadata": {}}', "line 1: path must be a string"),
        ('{"path": "/a", "metadata": {"k": 5}}', "line 1: 'k': expected"),
        ('{"path": "/a", "metadata": {"k": {"type": "complex", "value": 1}}}', "type must be"),
        ('{"path": "/a", "metadata": {"k": {"type": "int", "value": true}}}', "is not a int"),
        ('{"path": "/a", "metadata": {"k": {"type": "int", "value": 1e999}}}', "is not a int"),
        ('{"path": "/a", "metadata": {"k": {"type": "float", "value": NaN}}}', "finite"),
        ('{"path": "/a", "metadata": {"k": {"type": "int", "value": 9223372036854775808}}}', "64"),
        ('{"path": "/a", "metadata": {"cdmi_size": {"type": "int", "value": 1}}}', "reserved"),
    ],
)
def test_bad_json_lines_are_refused_with_their_number(text: str, message: str) -> None:
    with pytest.raises(metaio.MalformedInput, match=None) as caught:
        list(metaio.read_json_lines(lines(text)))
    assert message in str(caught.value)
    assert str(caught.value).startswith("line ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path,key,value\n", "line 1: expected the header path,key,type,value"),
        ("path,key,type,value\n/a,k,int,1\n/a,k2,int\n", "line 3: expected 4 fields"),
        ('path,key,type,value\n/a,k,str,"two\nlines"\n/a,n,int,x\n', "line 4: 'n':"),
        ('path,key,type,value\n/a,k,str,"open\n', "line 2: malformed CSV"),
        ("path,key,type,value\n/a,k,bool,yes\n", "line 2: 'k': 'yes' is not a bool"),
        ("path,key,type,value\n/a,k,int,1\n/a,k,int,2\n", "line 3: 'k' of /a given twice"),
    ],
)
def test_bad_csv_is_refused_with_the_line_its_row_starts_on(text: str, message: str) -> None:
    with pytest.raises(metaio.MalformedInput) as caught:
        metaio.merge(metaio.read_csv(lines(text)))
    assert message in str(caught.value)


def test_input_lines_bound_their_length_and_need_utf8() -> None:
    with pytest.raises(metaio.MalformedInput, match="line 2: longer than 10 bytes"):
        list(metaio.input_lines([b"short\n", b"x" * 6, b"y" * 6], limit=10))
    with pytest.raises(metaio.MalformedInput, match="line 1: not UTF-8"):
        list(metaio.input_lines([b"\xff\xfe\n"]))
    got = list(metaio.input_lines(["a\u2028".encode(), b"\nb"]))
    assert got == [(1, "a\u2028\n"), (2, "b")]


# -- through the shell ---------------------------------------------------------------


@pytest.fixture
def tagged(admin):
    admin.ok("mkdir -p /m/sub")
    admin.ok("put /m/a --meta n=5 --meta f=1.5 --meta code:str=007", b"a")
    admin.ok("put /m/sub/b --meta when=2024-06-01T12:00:00Z --meta flag=true", b"b")
    admin.ok("set-meta /m/sub 'odd=a,b\"c' 'üni=✓ line'")
    return admin


def test_export_json_lines_in_path_order(tagged) -> None:
    out = tagged.ok("meta export /m -r")
    documents = [json.loads(line) for line in out.splitlines()]
    assert [doc["path"] for doc in documents] == ["/m", "/m/a", "/m/sub", "/m/sub/b"]
    assert documents[1]["metadata"]["code"] == {"type": "str", "value": "007"}
    assert tagged.ok("meta export /m/a").count("\n") == 1


@pytest.mark.parametrize("form", ["", " --csv"])
def test_export_import_export_is_identical(tagged, form: str) -> None:
    first = tagged.ok(f"meta export /m -r{form}")
    tagged.ok("set-meta --query 'type IS NOT NULL' --in / -d n f code when flag odd üni")
    assert "changed" in tagged.ok(f"meta import{form}", first.encode())
    assert tagged.ok(f"meta export /m -r{form}") == first
    out = tagged.ok(f"meta import{form}", first.encode())
    assert out == f"imported metadata of {4 if not form else 3} objects (0 changed)\n"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=ITEMS)
def test_any_typed_metadata_round_trips_through_the_store(admin, store, items: dict) -> None:
    def reset(root) -> None:
        view = StoreView.for_user(root, "admin")
        obj = view.make_container("/rt", parents=True)
        view.set_metadata(obj, "/rt", items, tuple(obj.metadata))

    store.run(reset)
    for form in ("", " --csv"):
        first = admin.ok(f"meta export /rt{form}")
        admin.ok(f"meta import --replace{form}", first.encode())
        assert admin.ok(f"meta export /rt{form}") == first
    got = store.run(lambda root: root.tree.get("rt").metadata, write=False)
    assert typed(got) == typed(items)


def test_replace_drops_the_items_not_imported(tagged) -> None:
    line = '{"path": "/m/a", "metadata": {"n": {"type": "int", "value": 6}}}\n'
    tagged.ok("meta import", line.encode())
    assert json.loads(tagged.ok("meta --json /m/a"))["metadata"] == {
        "n": 6,
        "f": 1.5,
        "code": "007",
    }
    assert tagged.ok("meta import --replace --json", line.encode()) == (
        '{"count": 1, "changed": 1}\n'
    )
    assert json.loads(tagged.ok("meta --json /m/a"))["metadata"] == {"n": 6}


def test_dry_run_lists_and_changes_nothing(tagged) -> None:
    text = '{"path": "/m/a", "metadata": {"n": {"type": "int", "value": 5}}}\n'
    text += '{"path": "/m/sub/b", "metadata": {"n": {"type": "int", "value": 5}}}\n'
    status, out, err = tagged("meta import --dry-run", text.encode())
    assert (status, out) == (0, "/m/sub/b\n")
    assert err == "(1 object would change; nothing changed)\n"
    assert "n" not in json.loads(tagged.ok("meta --json /m/sub/b"))["metadata"]


def test_a_bad_line_changes_nothing(tagged) -> None:
    text = '{"path": "/m/a", "metadata": {"n": {"type": "int", "value": 1}}}\n' * 16
    text = text.replace("/m/a", "/m/sub/b", 1)  # different paths: no "given twice"
    text = "".join(
        line.replace('"/m/a"', f'"/m/x{i}"') for i, line in enumerate(text.splitlines(True))
    )
    text += '{"path": "/m/a", "metadata": {"n": {"type": "int", "value": "1.5"}}}\n'
    status, out, err = tagged("meta import", text.encode())
    assert status == 1 and out == ""
    assert err.startswith("omsh: meta: line 17: 'n': '1.5' is not a int")
    assert json.loads(tagged.ok("meta --json /m/a"))["metadata"]["n"] == 5


def test_a_missing_object_or_a_refusal_names_the_line(tagged, alice) -> None:
    text = '{"path": "/m/a", "metadata": {}}\n{"path": "/m/none", "metadata": {}}\n'
    status, _, err = tagged("meta import", text.encode())
    assert (status, err) == (3, "omsh: meta: line 2: /m/none: not found\n")
    tagged.ok("acl grant /m alice all --inherit")
    tagged.ok("acl deny /m/sub/b alice write-metadata")
    text = '{"path": "/m/a", "metadata": {"k": {"type": "int", "value": 1}}}\n'
    text += '{"path": "/m/sub/b", "metadata": {"k": {"type": "int", "value": 1}}}\n'
    status, _, err = alice("meta import", text.encode())
    assert status == 4
    assert "line 2: /m/sub/b: permission denied (1 of 2 objects refused; nothing changed)" in err
    assert "k" not in json.loads(tagged.ok("meta --json /m/a"))["metadata"]


def test_a_huge_line_is_refused(tagged) -> None:
    big = '{"path": "/m/a", "metadata": {"k": {"type": "str", "value": "'
    big += "x" * (metaio.MAX_LINE + 10) + '"}}}\n'
    status, _, err = tagged("meta import", big.encode())
    assert status == 1 and "line 1: longer than 4,194,304 bytes" in err


class _Vanishing:
    """Standard input whose client goes away after sending some lines."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        chunk = self.data.read(size)
        if not chunk:
            raise TransferAborted()
        return chunk

    def readline(self) -> bytes:
        return self.read(1)


def test_a_client_vanishing_mid_import_changes_nothing(store, registry, tagged) -> None:
    text = '{"path": "/m/a", "metadata": {"k": {"type": "int", "value": 1}}}\n'
    err = BufferOutput()
    shell = Shell(
        store, registry, ShellSession(user="admin"), BufferOutput(), err, _Vanishing(text.encode())
    )
    assert shell.execute("meta import") != 0
    assert "transfer aborted" in err.text
    assert "k" not in json.loads(tagged.ok("meta --json /m/a"))["metadata"]


USAGE = {
    "meta export": "usage: meta export PATH",
    "meta import -r": "-r does not go with meta import",
    "meta /m/a --csv": "--csv does not go with meta PATH",
    "meta export /m --replace": "--replace does not go with meta export",
    "meta import /m": "meta import takes no further path",
    "meta export /m --csv --json": "choose one",
}


@pytest.mark.parametrize("line", sorted(USAGE))
def test_usage_errors(tagged, line: str) -> None:
    status, _, err = tagged(line)
    assert status == 2 and USAGE[line] in err


def test_an_object_named_like_an_action_is_written_as_a_path(tagged) -> None:
    tagged.ok("put /m/export --meta k=1", b"")
    assert json.loads(tagged.ok("meta --json /m/export"))["metadata"] == {"k": 1}
    tagged.session.cwd = "/m"
    assert json.loads(tagged.ok("meta --json ./export"))["metadata"] == {"k": 1}
