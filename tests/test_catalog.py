"""The catalog's upkeep: how keys are held, document ids, checking and rebuilding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from BTrees.IIBTree import IITreeSet
from BTrees.IOBTree import IOBTree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.store import index as index_module
from omsh.store.access import Principal
from omsh.store.content import ContentUpload
from omsh.store.index import (
    RANK_BOOL,
    RANK_DATETIME,
    RANK_NUMBER,
    RANK_STRING,
    SHARED,
    Catalog,
    FieldIndex,
    KeyRange,
    catalog_problems,
    rebuild_catalog,
)
from omsh.store.model import walk
from omsh.store.query import QueryResult, parse_query
from omsh.store.trees import (
    INTERIOR_NODE_SIZE,
    IntObjectTree,
    IntTreeSet,
    ObjectIntTree,
    ObjectTree,
)
from omsh.store.view import StoreView

ADMIN = Principal("admin", frozenset({"admins"}))


def _put(view: StoreView, path: str, **metadata: object) -> None:
    with ContentUpload(view.root._p_jar.db().storage.temporaryDirectory()) as upload:
        upload.write(path.encode())
        view.store_data(path, upload, metadata=metadata)  # type: ignore[arg-type]


@pytest.fixture
def filled(store):
    """/d with ten objects (n = 0, 1, 2, 0, 1, … ) and one without n."""

    def fill(root) -> None:
        view = StoreView(root, ADMIN)
        view.make_container("/d")
        for number in range(10):
            _put(view, f"/d/o{number}", n=number % 3, label=f"x{number}")
        _put(view, "/d/plain")

    store.run(fill)
    return store


def test_a_key_of_one_document_is_a_bare_id_until_shared_then_stays_shared() -> None:
    index = FieldIndex()
    key = (RANK_NUMBER, 5)
    index.insert(7, key)
    assert index._unique[key] == 7
    assert key not in index._shared
    assert list(index.equal(key)) == [7]
    index.insert(3, key)
    assert index._unique[key] == SHARED  # marked: concurrent writers collide on it
    assert list(index._shared[key]) == [3, 7]
    assert list(index.equal(key)) == [3, 7]
    index.remove(7)  # stays a set (ARCHITECTURE §4)
    assert index._unique[key] == SHARED
    assert list(index._shared[key]) == [3]
    assert list(index.equal(key)) == [3]
    assert index.count_equal(key) == 1
    index.insert(3, (RANK_STRING, "5"))
    assert list(index._shared[key]) == []
    assert index.count_equal(key) == 0
    assert list(index.range(KeyRange(RANK_NUMBER))) == []
    assert index.count_range(KeyRange(RANK_NUMBER)) == 0
    assert list(index.of_rank(RANK_STRING)) == [3]
    assert list(index.of_rank(RANK_NUMBER)) == []
    assert len(index) == 1
    assert index.problems() == []


def test_strings_and_numbers_are_kept_bare_in_the_reverse_index() -> None:
    index = FieldIndex()
    keys = {
        1: (RANK_STRING, "/a"),
        2: (RANK_NUMBER, 2.5),
        3: (RANK_BOOL, 1),
        4: (RANK_DATETIME, 0.0),
    }
    for docid, key in keys.items():
        index.insert(docid, key)
    assert index.stored_values([1, 2, 3, 4, 5]) == {
        1: "/a",
        2: 2.5,
        3: (RANK_BOOL, 1),
        4: (RANK_DATETIME, 0.0),
        5: None,
    }
    assert index.keys_of([1, 2, 3, 4]) == keys
    index.insert(2, (RANK_NUMBER, 2.5))  # unchanged: nothing to do
    index.insert(1, (RANK_NUMBER, 1))
    assert index.key_of(1) == (RANK_NUMBER, 1)
    assert index.problems() == []


def test_counts_come_from_the_indexes_and_agree_with_the_sets() -> None:
    index = FieldIndex()
    for docid in range(1, 101):
        index.insert(docid, (RANK_NUMBER, docid % 40))  # 0..19 held by 3 documents, the rest by 2
    index.insert(200, (RANK_NUMBER, 1000))
    index.insert(201, (RANK_STRING, "x"))
    for low, high in [(None, 10), (5, 25), (39, None), (1000, 1000), (2000, None)]:
        for include_low in (True, False):
            for include_high in (True, False):
                keys = KeyRange(RANK_NUMBER, low, high, include_low, include_high)
                assert index.count_range(keys) == len(index.range(keys))
    assert index.count_equal((RANK_NUMBER, 3)) == 3
    assert index.count_equal((RANK_NUMBER, 1000)) == 1
    assert index.count_equal((RANK_NUMBER, 5000)) == 0
    assert index.count_of_rank(RANK_NUMBER) == 101


def test_field_problems_name_every_kind_of_disagreement() -> None:
    index = FieldIndex()
    for docid in (1, 2, 3):
        index.insert(docid, (RANK_NUMBER, docid))
    index._unique[(RANK_NUMBER, 1)] = 2
    index._rank_counts[RANK_NUMBER].change(-1)
    problems = index.problems()
    assert "document 2 is listed under a value it does not have" in problems
    assert "the count of number values is wrong" in problems
    del index._unique[(RANK_NUMBER, 3)]
    assert "3 documents have values but 2 are listed" in index.problems()
    index._shared[(RANK_NUMBER, 2)] = IITreeSet([2])
    assert "a value is listed as held by one document and by several" in index.problems()
    assert "a value's set of documents is not marked as shared" in index.problems()
    index._unique[(RANK_NUMBER, 4)] = SHARED
    assert "a value is marked as shared but has no documents' set" in index.problems()


def test_new_objects_take_consecutive_document_ids(store) -> None:
    def fill(root) -> list[int]:
        view = StoreView(root, ADMIN)
        view.make_container("/d")
        for number in range(5):
            _put(view, f"/d/o{number}")
        return [node._docid for _, node in walk(view.resolve("/d"))]

    docids = store.run(fill)
    assert docids == list(range(docids[0], docids[0] + 6))


def test_a_sound_catalog_has_no_problems_and_damage_is_found(filled) -> None:
    def damage(root) -> list[str]:
        assert catalog_problems(root.catalog, root.tree) == []
        view = StoreView(root, ADMIN)
        root.catalog.unindex(view.resolve("/d/o1"))
        view.resolve("/d/o2").replace_metadata({"n": 99, "label": "x2"})
        root.catalog.fields["m:label"].remove(view.resolve("/d/o3")._docid)
        view.resolve("/d").detach("o4")  # still indexed, no longer in the tree
        return catalog_problems(root.catalog, root.tree)

    problems = filled.run(damage, write=False)
    assert "not indexed: /d/o1" in problems
    assert "stale m:n: /d/o2" in problems
    assert "stale m:label: /d/o3" in problems
    # A container's size is read from it, not the catalog: one child fewer is no damage.
    assert any(line.startswith("indexed but not in the tree: docid") for line in problems)
    assert len(problems) == 4


def test_a_document_listed_under_a_key_its_object_lacks_is_damage(filled) -> None:
    """A query on that key would return an object without it."""

    def damage(root) -> list[str]:
        plain = StoreView(root, ADMIN).resolve("/d/plain")  # has no "label"
        root.catalog.fields["m:label"].insert(plain._docid, (RANK_STRING, "ghost"))
        return catalog_problems(root.catalog, root.tree)

    assert filled.run(damage, write=False) == ["field m:label: 11 documents, 10 objects have it"]


def test_rebuild_repairs_and_rewrites_no_object(filled, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "_SAVEPOINT_EVERY", 3)  # several savepoints
    progress: list[tuple[int, int]] = []

    def repair(root) -> tuple[int, list[str], list[str]]:
        view = StoreView(root, ADMIN)
        before = {path: node._docid for path, node in walk(root.tree) if path}
        root.catalog.unindex(view.resolve("/d/o1"))
        view.resolve("/d/o2").replace_metadata({"n": 99})
        root._p_jar.transaction_manager.savepoint()  # what is changed so far is saved
        done = rebuild_catalog(root, lambda *pair: progress.append(pair))
        rewritten = [path for path, node in walk(root.tree) if path and node._p_changed]
        after = {path: node._docid for path, node in walk(root.tree) if path}
        assert after == before
        return done, rewritten, catalog_problems(root.catalog, root.tree)

    done, rewritten, problems = filled.run(repair, write=False)
    assert done == 12  # /d and its eleven objects
    assert rewritten == []
    assert problems == []
    assert progress[-1] == (12, 12)


def test_query_results_sort_by_path_or_field_with_missing_values_last(filled) -> None:
    def ask(root) -> tuple[list[str], list[str], list[str], int]:
        result = StoreView(root, ADMIN).query(parse_query("name LIKE 'o%' OR name = 'plain'"))
        by_path = [result.path(d) for d in result.ordered()]
        by_n = [result.path(d) for d in result.ordered("m:n", descending=True)]
        unknown = [result.path(d) for d in result.ordered("m:nothing")]
        return by_path, by_n, unknown, len(result)

    by_path, by_n, unknown, count = filled.read(ask)
    assert by_path == [*(f"/d/o{n}" for n in range(10)), "/d/plain"]
    assert by_n[:3] == ["/d/o8", "/d/o5", "/d/o2"]  # n = 2; ties by path, also reversed
    assert by_n[-1] == "/d/plain"
    assert unknown == by_path
    assert count == 11


def test_a_result_missing_a_path_still_sorts(filled) -> None:
    def ask(root) -> list[str]:
        result = StoreView(root, ADMIN).query(parse_query("n = 0"))
        first = min(result.docids)
        root.catalog.fields["path"].remove(first)
        fresh = QueryResult(result.node, root.catalog, None, result.transaction, result.as_of)
        return [fresh.path(d) for d in fresh.ordered()]

    assert filled.read(ask) == ["", "/d/o3", "/d/o6", "/d/o9"]


@pytest.mark.parametrize("version", [3, 4])
def test_an_older_catalog_is_rebuilt_at_start(filled, version: int) -> None:
    def make_old(root) -> None:
        root.schema_version = version
        root.catalog = Catalog()  # as if in the old layout: no use to this code

    filled.run(make_old)
    filled.bootstrap()
    assert filled.read(lambda root: catalog_problems(root.catalog, root.tree)) == []
    assert filled.read(lambda root: len(root.catalog)) == 12


def _interior_sizes(node: object) -> list[int]:
    """The number of children of *node* and of every interior node below it."""
    state = node.__getstate__()  # type: ignore[attr-defined]
    if state is None or not isinstance(state[0], tuple) or len(state) != 2:
        return []  # empty, or a tree of one bucket (its state is the bucket's)
    children = state[0][::2]
    if not isinstance(children[0], type(node)):
        return [len(children)]  # their children are buckets
    return [len(children)] + [size for child in children for size in _interior_sizes(child)]


def test_trees_that_grow_at_one_end_keep_their_interior_nodes_small() -> None:
    """Appending splits a bucket every ~30 inserts and rewrites its parent:
    the parent must be a small record, not one of BTrees' 500 children."""
    tree = IntObjectTree()
    for docid in range(60_000):
        tree[docid] = "/path"
    sizes = _interior_sizes(tree)
    assert len(sizes) > 1  # more than one level of interior nodes
    assert max(sizes) <= INTERIOR_NODE_SIZE
    plain = IOBTree()
    plain.update(tree)
    assert max(_interior_sizes(plain)) > INTERIOR_NODE_SIZE  # what BTrees would do


def test_new_stores_build_their_big_trees_with_small_interior_nodes(filled) -> None:
    def classes(root) -> set[type]:
        field = root.catalog.field("path")
        shared = root.catalog.field("type")._shared
        return {
            type(root.by_id),
            type(root.tree.get("d")._children),
            type(root.catalog._objects),
            type(root.catalog._fields_of),
            type(field._unique),
            type(field._reverse),
            type(shared),
            *map(type, shared.values()),
        }

    assert filled.read(classes) == {IntObjectTree, ObjectIntTree, ObjectTree, IntTreeSet}


def test_reindex_moves_an_older_catalog_onto_the_small_node_trees(filled) -> None:
    def age(root) -> None:  # a catalog as stores made before kept it
        for index in root.catalog.fields.values():
            index._reverse = IOBTree(index._reverse)
        root.catalog._objects = IOBTree(root.catalog._objects)

    def classes(root) -> set[type]:
        return {type(root.catalog._objects)} | {
            type(index._reverse) for index in root.catalog.fields.values()
        }

    filled.run(age)
    assert filled.read(classes) == {IOBTree}
    filled.run(rebuild_catalog)
    assert filled.read(classes) == {IntObjectTree}
    assert filled.read(lambda root: catalog_problems(root.catalog, root.tree)) == []


_VALUES = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0]),
    st.sampled_from(["x", "1", ""]),
    st.sampled_from([datetime(2026, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]),
)
_EDITS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which object
        st.dictionaries(st.sampled_from("abc"), _VALUES, max_size=3),  # set
        st.lists(st.sampled_from("abcd"), max_size=2),  # delete
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=_EDITS)
def test_a_metadata_edit_reindexes_only_what_it_changed_and_leaves_the_catalog_exact(
    store, edits
) -> None:
    """set_metadata reindexes just its keys and mtime (``reindex_fields``):
    the catalog must still equal a full index of every object after any edits
    (types changing under a key, keys deleted, keys that were never there)."""

    def setup(root) -> None:
        view = StoreView(root, ADMIN)
        if view.lookup("/e") is None:
            view.make_container("/e")
            for number in range(3):
                _put(view, f"/e/o{number}", a=number)

    def edit(root, number: int, updates: dict, deletions: list[str]) -> None:
        view = StoreView(root, ADMIN)
        obj = view.resolve(f"/e/o{number}")
        view.set_metadata(obj, obj.path, updates, tuple(deletions))

    store.run(setup)
    for number, updates, deletions in edits:
        store.run(lambda root: edit(root, number, updates, deletions))  # noqa: B023
        assert store.read(lambda root: catalog_problems(root.catalog, root.tree)) == []
