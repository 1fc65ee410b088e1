"""The query language and the catalog: parsing, errors, planner vs brute force."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.store.access import Principal
from omsh.store.content import ContentUpload
from omsh.store.index import indexed_values
from omsh.store.model import walk
from omsh.store.query import Node, Not, QuerySyntaxError, evaluate, parse_query
from omsh.store.view import StoreView

ADMIN = Principal("admin", frozenset({"admins"}))


def brute_force(root, node, within=None) -> set[str]:
    found = set()
    for _, obj in walk(root.tree):
        if obj.__parent__ is None:
            continue
        if within and not obj.path.startswith(within + "/"):
            continue
        if node.matches(indexed_values(obj)):
            found.add(obj.path)
    return found


def indexed(root, node, within=None) -> set[str]:
    return {root.catalog.object(d).path for d in evaluate(node, root.catalog, within)}


@pytest.mark.parametrize(
    "query",
    [
        "(a = 1",
        "a == 1",
        "a = 'unterminated",
        "a = 1 AND",
        "a LIKE 5",
        "a = 1 )",
        "a ~ 1",
        "a IN ()",
        "a BETWEEN 1",
        "a IS NOTNULL",
        "= 5",
        "a = 2024-13-45T99:00:00",
    ],
)
def test_bad_queries_are_usage_errors(query):
    with pytest.raises(QuerySyntaxError) if "2024" not in query else pytest.raises(Exception) as e:
        parse_query(query)
    assert getattr(e.value, "exit_status", 2) == 2


def test_syntax_errors_point_at_the_fault():
    with pytest.raises(QuerySyntaxError) as raised:
        parse_query("size > 5 AND AND n = 1")
    message = str(raised.value)
    lines = message.splitlines()
    assert "column 14" in lines[0]
    assert lines[2].index("^") == lines[1].index("AND AND") + 4


def test_huge_and_deeply_nested_queries_are_refused_quickly():
    with pytest.raises(QuerySyntaxError, match="limit"):
        parse_query("a = 1 OR " * 12_000 + "a = 1")
    with pytest.raises(QuerySyntaxError, match="deeper"):
        parse_query("(" * 500 + "a = 1" + ")" * 500)
    with pytest.raises(QuerySyntaxError, match="deeper"):
        parse_query("NOT " * 1000 + "a = 1")
    parse_query("(" * 50 + "a = 1" + ")" * 50)


def test_types_never_compare_across():
    node = parse_query("n > '5'")
    assert not node.matches({"m:n": (1, 10)})
    assert parse_query("n = 5").matches({"m:n": (1, 5.0)})
    assert not parse_query("n = 5").matches({"m:n": (2, "5")})
    assert not parse_query("n != 5").matches({"m:n": (2, "5")})
    assert not parse_query("flag = 1").matches({"m:flag": (0, 1)})


def _put(view: StoreView, path: str, metadata: dict) -> None:
    upload = ContentUpload(view.root._p_jar.db().storage.temporaryDirectory())
    upload.write(path.encode())
    try:
        view.store_data(path, upload, metadata=metadata)
    finally:
        upload.discard()


def _parts(node: Node) -> Iterator[Node]:
    """*node* and every expression inside it."""
    yield node
    for inner in getattr(node, "items", ()):
        yield from _parts(inner)
    if isinstance(node, Not):
        yield from _parts(node.item)


NAMES = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.one_of(
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False).map(lambda f: round(f, 1)),
    st.text(alphabet="abc%_", max_size=3),
    st.booleans(),
    st.sampled_from([datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3)]),
)
LITERALS = st.one_of(
    st.integers(-5, 5).map(str),
    st.sampled_from(["'a'", "'ab'", "''", "true", "false", "2024-01-02T00:00:00Z", "1.5"]),
)
FIELDS = st.sampled_from(["k", "j", "size", "name", "type", '"k"'])


def _predicates() -> st.SearchStrategy[str]:
    compare = st.builds(
        lambda f, op, v: f"{f} {op} {v}",
        FIELDS,
        st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]),
        LITERALS,
    )
    like = st.builds(
        lambda f, n, p: f"{f} {'NOT ' if n else ''}LIKE '{p}'",
        FIELDS,
        st.booleans(),
        st.text(alphabet="ab%_", max_size=3),
    )
    member = st.builds(
        lambda f, n, vs: f"{f} {'NOT ' if n else ''}IN ({', '.join(vs)})",
        FIELDS,
        st.booleans(),
        st.lists(LITERALS, min_size=1, max_size=3),
    )
    between = st.builds(
        lambda f, n, lo, hi: f"{f} {'NOT ' if n else ''}BETWEEN {lo} AND {hi}",
        FIELDS,
        st.booleans(),
        LITERALS,
        LITERALS,
    )
    null = st.builds(lambda f, n: f"{f} IS {'NOT ' if n else ''}NULL", FIELDS, st.booleans())
    return st.one_of(compare, like, member, between, null)


QUERIES = st.recursive(
    _predicates(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) AND ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a: f"NOT ({a})", inner),
    ),
    max_leaves=6,
)

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.sampled_from(string.ascii_lowercase[:6]),
            st.dictionaries(st.sampled_from(["k", "j"]), VALUES, max_size=2),
        ),
        st.tuples(
            st.just("meta"),
            st.sampled_from(string.ascii_lowercase[:6]),
            st.dictionaries(st.sampled_from(["k", "j"]), VALUES, max_size=2),
        ),
        st.tuples(st.just("rm"), st.sampled_from(string.ascii_lowercase[:6]), st.just({})),
        st.tuples(st.just("mv"), st.sampled_from(string.ascii_lowercase[:6]), st.just({})),
        st.tuples(st.just("cp"), st.sampled_from(string.ascii_lowercase[:6]), st.just({})),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPERATIONS, st.lists(QUERIES, min_size=1, max_size=4))
def test_index_answers_equal_brute_force_after_random_changes(store, operations, queries):
    def scenario(root) -> None:
        view = StoreView(root, ADMIN)
        view.make_container("/q/one", parents=True)
        view.make_container("/q/two", parents=True)
        for action, name, metadata in operations:
            here, there = f"/q/one/{name}", f"/q/two/{name}"
            exists = view.lookup(here) is not None
            if action == "put":
                _put(view, here, metadata)
            elif action == "meta" and exists:
                view.set_metadata(view.resolve(here), here, metadata)
            elif action == "rm" and exists:
                view.remove(here)
            elif action == "mv" and exists:
                view.move(here, there)
            elif action == "cp" and exists:
                view.copy(here, there)
        for text in queries:
            node = parse_query(text)
            expected = brute_force(root, node)
            assert indexed(root, node) == expected, text
            for part in _parts(node):
                counted = part.count(root.catalog)
                assert counted is None or counted == len(part.evaluate(root.catalog)), text
            assert indexed(root, node, "/q/two") == brute_force(root, node, "/q/two"), text
        view.remove("/q", recursive=True)

    store.run(scenario, write=False)
