"""Concurrent writers into one container: what merges, what conflicts (issue 14).

The container's own record merges concurrent changes
(:meth:`Container._p_resolveConflict`, three-way, attribute by attribute),
and neither a child added nor one removed rewrites the container's entries
in the catalog (its size and mtime are read from it).  Checked on the
merge function with hand-made states, on a real FileStorage with two
connections committing over each other, and with hypothesis: two writers'
changes committed concurrently (resolved, or retried as :meth:`Store.run`
does) give the catalog that the same changes committed one after the
other give.  Failed logins are counted in the store so that every node
throttles with the same counts; concurrent failures add up.
"""

from __future__ import annotations

import asyncio

import transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from ZODB.POSException import ConflictError

from omsh.authn import Authenticator, ThrottlePolicy
from omsh.store.audit import FailureCount
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.index import LIVE_CONTAINER_FIELDS, catalog_problems, indexed_values
from omsh.store.model import ROOT_KEY, Container, resolve_states
from omsh.store.query import parse_query
from omsh.store.schema import SCHEMA_VERSION, upgrade
from omsh.store.view import StoreView

ADMIN = "admin"


# -- the merge itself ----------------------------------------------------------


def test_times_merge_to_the_later_one() -> None:
    old = {"mtime": 1.0, "atime": 1.0, "owner": "a"}
    assert resolve_states(
        old, {**old, "mtime": 3.0}, {**old, "mtime": 2.0}, merge_latest=frozenset({"mtime"})
    ) == {
        **old,
        "mtime": 3.0,
    }


def test_a_change_on_one_side_is_kept_beside_the_other_sides() -> None:
    old = {"mtime": 1.0, "_metadata": {"k": 1}, "owner": "a"}
    committed = {**old, "mtime": 2.0}
    new = {**old, "_metadata": {"k": 2}, "owner": "b"}
    assert resolve_states(old, committed, new) == {
        "mtime": 2.0,
        "_metadata": {"k": 2},
        "owner": "b",
    }
    assert resolve_states(old, new, committed) == {
        "mtime": 2.0,
        "_metadata": {"k": 2},
        "owner": "b",
    }


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    old = {"acl": ()}
    both = {"acl": ("x",)}
    assert resolve_states(old, both, dict(both)) == both


def test_an_attribute_added_or_removed_on_one_side_follows_that_side() -> None:
    old = {"mtime": 1.0, "gone": 1}
    assert resolve_states(old, {"mtime": 1.0}, {**old, "added": 2}) == {"mtime": 1.0, "added": 2}


def test_both_changing_anything_else_is_a_conflict() -> None:
    old = {"_metadata": {"k": 1}}
    try:
        resolve_states(old, {"_metadata": {"k": 2}}, {"_metadata": {"k": 3}})
    except ConflictError:
        pass
    else:  # pragma: no cover - the assertion
        raise AssertionError("metadata changed twice merged")


def test_a_container_merges_times_but_not_its_owner() -> None:
    container = Container("box", "admin", "0" * 40)
    old = dict(container.__getstate__())
    later, latest = {**old, "mtime": old["mtime"] + 1}, {**old, "mtime": old["mtime"] + 2}
    assert container._p_resolveConflict(old, later, latest)["mtime"] == old["mtime"] + 2
    try:
        container._p_resolveConflict(old, {**old, "owner": "x"}, {**old, "owner": "y"})
    except ConflictError:
        pass
    else:  # pragma: no cover - the assertion
        raise AssertionError("two owners merged")


# -- two connections on a real FileStorage -------------------------------------


def _put(view: StoreView, path: str, **metadata: object) -> None:
    with ContentUpload(view.root._p_jar.db().storage.temporaryDirectory()) as upload:
        upload.write(b"same content")
        view.store_data(path, upload, metadata=metadata)  # type: ignore[arg-type]


class Writer:
    """One connection with its own transaction, as a second node's would be."""

    def __init__(self, store: Store) -> None:
        self.manager = transaction.TransactionManager(explicit=True)
        self.connection = store.db.open(transaction_manager=self.manager)
        self.manager.begin()
        self.view = StoreView.for_user(self.connection.root()[ROOT_KEY], ADMIN)
        self.conflict: ConflictError | None = None

    def commit(self) -> bool:
        """Commit; False (and aborted) if ZODB could not resolve a conflict."""
        try:
            self.manager.commit()
            return True
        except ConflictError as conflict:
            self.manager.abort()
            self.conflict = conflict
            return False
        finally:
            self.connection.close()


def test_two_writers_into_one_container_both_commit(store: Store) -> None:
    # A metadata key's first use adds its index, and a value's second holder
    # turns its entry into a set: both once per key or value, and they conflict.
    def seed(root) -> None:
        view = StoreView.for_user(root, ADMIN)
        view.make_container("/box")
        for name in ("seed1", "seed2"):
            _put(view, f"/box/{name}", n=0)

    store.run(seed)
    first, second = Writer(store), Writer(store)
    _put(first.view, "/box/a", n=1)
    _put(second.view, "/box/b", n=2)
    assert first.commit()
    assert second.commit(), second.conflict

    def look(root) -> tuple[int, int, list[str]]:
        found = StoreView.for_user(root, ADMIN).query(parse_query("n >= 1"))
        return len(root.tree.get("box")), len(found), catalog_problems(root.catalog, root.tree)

    size, matches, problems = store.read(look)
    assert (size, matches, problems) == (4, 2, [])


def test_a_container_query_on_size_and_mtime_reads_the_container(store: Store) -> None:
    def fill(root) -> None:
        view = StoreView.for_user(root, ADMIN)
        view.make_container("/big")
        view.make_container("/small")
        for name in "abcd":
            _put(view, f"/big/{name}")
        _put(view, "/small/x")

    store.run(fill)

    def ask(query: str) -> list[str]:
        def run(root) -> list[str]:
            found = StoreView.for_user(root, ADMIN).query(parse_query(query))
            return sorted(found.paths().values())

        return store.read(run)

    assert ask("cdmi_size = 4") == ["/big"]
    assert ask("type = 'container' AND NOT cdmi_size = 4") == ["/small"]
    assert len(ask("cdmi_size BETWEEN 1 AND 12")) == 7  # the objects hold 12 bytes each
    assert ask("type = 'container' AND mtime > 2000-01-01") == ["/big", "/small"]


# -- concurrent against serial, with hypothesis --------------------------------

NAMES = st.sampled_from([f"o{number}" for number in range(12)])
#: One writer's changes: objects stored (name, value of n) and ones removed.
CHANGES = st.lists(st.tuples(st.booleans(), NAMES, st.integers(0, 3)), max_size=8)


def _apply(view: StoreView, changes: list[tuple[bool, str, int]], tag: str) -> None:
    for store_it, name, value in changes:
        path = f"/box/{tag}{name}"
        if store_it:
            _put(view, path, n=value)
        elif view.lookup(path) is not None:
            view.remove(path)


def _catalog_state(root) -> tuple[dict[str, dict[str, object]], list[str], int]:
    """Every indexed object's path and values (less times and IDs), problems, box size."""
    state = {}
    for docid in root.catalog.all_docids():
        obj = root.catalog.object(docid)
        values = indexed_values(obj)
        for varying in ("cdmi_ctime", "cdmi_mtime", "objectid"):
            values.pop(varying, None)
        state[obj.path] = values
    return state, catalog_problems(root.catalog, root.tree), len(root.tree.get("box"))


def _fresh(tmp_path, label: str) -> Store:
    store = Store.open(data_dir=str(tmp_path / label))
    store.bootstrap(admin_password="admin-secret")

    def fill(root) -> None:
        view = StoreView.for_user(root, ADMIN)
        view.make_container("/box")
        for number in range(0, 12, 3):  # some of what the writers remove
            for tag in "ab":
                _put(view, f"/box/{tag}o{number}", n=0)

    store.run(fill)
    return store


@settings(max_examples=50, deadline=None)
@given(first=CHANGES, second=CHANGES)
def test_concurrent_commits_give_the_serial_catalog(tmp_path_factory, first, second) -> None:
    base = tmp_path_factory.mktemp("conflicts")
    concurrent, serial = _fresh(base, "concurrent"), _fresh(base, "serial")
    try:
        one, two = Writer(concurrent), Writer(concurrent)
        _apply(one.view, first, "a")
        _apply(two.view, second, "b")
        assert one.commit()
        if not two.commit():  # not resolvable (a bucket split): retried, as Store.run does
            concurrent.run(lambda root: _apply(StoreView.for_user(root, ADMIN), second, "b"))
        serial.run(lambda root: _apply(StoreView.for_user(root, ADMIN), first, "a"))
        serial.run(lambda root: _apply(StoreView.for_user(root, ADMIN), second, "b"))
        got, want = concurrent.read(_catalog_state), serial.read(_catalog_state)
        assert got == want
        assert got[1] == []
    finally:
        concurrent.close()
        serial.close()


# -- login failures counted in the store, for every node -----------------------


def test_failure_counts_add_up_both_sides() -> None:
    record = FailureCount()
    old = {"count": 4, "last": 10.0}
    merge = record._p_resolveConflict
    assert merge(old, {"count": 5, "last": 11.0}, {"count": 6, "last": 12.0}) == {
        "count": 7,
        "last": 12.0,
    }
    # One side forgave the account (or the count had faded): only the other's failure stays.
    assert merge(old, {"count": 0, "last": 10.0}, {"count": 5, "last": 12.0})["count"] == 1
    assert merge(old, {"count": 1, "last": 99.0}, {"count": 1, "last": 98.0}) == {
        "count": 2,
        "last": 99.0,
    }


def test_concurrent_failures_on_two_connections_are_all_counted(store: Store) -> None:
    store.run(lambda root: root.audit.count_failure(("user:alice",), 1.0, 900.0))
    first, second = Writer(store), Writer(store)
    for writer in (first, second):
        writer.view.root.audit.count_failure(("user:alice",), 2.0, 900.0)
    assert first.commit()
    assert second.commit(), second.conflict
    counts = store.read(lambda root: root.audit.failure_counts(("user:alice", "user:bob")))
    assert counts == {"user:alice": (3, 2.0)}


def test_a_node_throttles_with_the_failures_another_node_counted(store: Store) -> None:
    policy = ThrottlePolicy(base_delay=0.01)
    first, second = Authenticator(store, policy=policy), Authenticator(store, policy=policy)
    for attempt in range(5):
        assert not asyncio.run(first.check_password("alice", f"guess-{attempt}", "10.0.0.5"))
    assert second.throttle.delay("10.0.0.9", "alice") == 0.0  # nothing known yet
    assert not asyncio.run(second.check_password("alice", "guess", "10.0.0.9"))
    # Six failures for alice in all: the third past the free ones.
    assert second.throttle.delay("10.0.0.9", "alice") == 0.01 * 2**3
    assert not asyncio.run(second.check_password("bob", "guess", "10.0.0.5"))
    assert second.throttle.delay("10.0.0.5", "carol") == 0.01 * 2**3  # the address's six
    assert asyncio.run(second.check_password("alice", "alice-secret", "10.0.0.9"))
    asyncio.run(second.login_succeeded("alice", "10.0.0.9", "password"))
    assert store.read(lambda root: root.audit.failure_counts(("user:alice",))) == {}


def test_a_catalog_of_schema_7_is_brought_up_to_date_without_a_rebuild(store: Store) -> None:
    def fill(root) -> None:
        view = StoreView.for_user(root, ADMIN)
        view.make_container("/box")
        for name in ("a", "b", "c"):
            _put(view, f"/box/{name}", n=1)

    store.run(fill)

    def as_schema_7(root) -> None:  # shared keys unmarked, containers' live fields indexed
        for index in root.catalog.fields.values():
            for key in index._shared:
                del index._unique[key]
        for docid in root.catalog.containers():
            values = indexed_values(root.catalog.object(docid))
            for field in LIVE_CONTAINER_FIELDS:
                root.catalog.fields[field].insert(docid, values[field])
            root.catalog._fields_of[docid] = tuple(sorted(values))
        root.schema_version = 7

    store.run(as_schema_7)
    assert store.read(lambda root: catalog_problems(root.catalog, root.tree)) != []
    store.run(upgrade)
    assert store.read(lambda root: catalog_problems(root.catalog, root.tree)) == []
    assert store.read(lambda root: root.schema_version) == SCHEMA_VERSION
