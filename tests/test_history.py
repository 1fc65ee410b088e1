"""``history PATH``: every kept change of an object, read from a FileStorage store.

The users of each change are recorded on the transaction by the store
(``note_user``), for one writer and for a group commit's batch alike.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.commands.registry import default_registry
from omsh.store.commits import GroupCommit, _Write
from omsh.store.database import Store
from omsh.store.history import NoHistory, object_history
from omsh.store.view import StoreView
from tests.conftest import ShellDriver


def changes(driver, path: str, *options: str) -> list[tuple[str, list[str]]]:
    """(user, changes) of each entry of ``history --json PATH``, newest first."""
    lines = driver.ok(f"history --json {' '.join(options)} {path}").splitlines()
    documents = [json.loads(line) for line in lines]
    return [(d["user"], d["changes"]) for d in documents if "txn" in d]


def test_every_change_of_an_object_newest_first(homes, admin, alice) -> None:
    alice.ok("put /home/alice/f", stdin=b"hello")
    alice.ok("set-meta /home/alice/f camera=nikon n=1")
    alice.ok("set-meta /home/alice/f n=2")
    alice.ok("put /home/alice/f", stdin=b"hello, world")
    alice.ok("mv /home/alice/f /home/alice/g")
    admin.ok("acl grant /home/alice/g bob r")
    admin.ok("chown bob /home/alice/g")
    assert alice("history /home/alice/g")[0] == 4  # bob's now: alice may no longer see it
    assert changes(admin, "/home/alice/g") == [
        ("admin", ["owner alice → bob"]),
        ("admin", ["acl"]),
        ("alice", ["moved from /home/alice/f"]),
        ("alice", ["content 5 B → 12 B"]),
        ("alice", ["metadata ~n"]),
        ("alice", ["metadata +camera +n"]),
        ("alice", ["created"]),
    ]
    assert changes(admin, "/home/alice/g", "-n", "2") == [
        ("admin", ["owner alice → bob"]),
        ("admin", ["acl"]),
    ]


def test_a_container_lists_its_children_changes(homes, alice) -> None:
    alice.ok("put /home/alice/a", stdin=b"1")
    alice.ok("mkdir /home/alice/d")
    alice.ok("mv /home/alice/a /home/alice/d/a")
    assert changes(alice, "/home/alice")[:3] == [
        ("alice", ["children -a"]),
        ("alice", ["children +d"]),
        ("alice", ["children +a"]),
    ]
    assert changes(alice, "/home/alice/d") == [
        ("alice", ["children +a"]),
        ("alice", ["created"]),
    ]


def test_the_table_and_transaction_ids(homes, alice) -> None:
    alice.ok("put /home/alice/f", stdin=b"x")
    alice.ok("put /home/alice/f", stdin=b"xy")
    lines = alice.ok("history /home/alice/f").splitlines()
    assert lines[0].split() == ["Time", "Txn", "User", "Change"]
    newest = lines[1].split("  ")
    assert [cell.strip() for cell in newest if cell.strip()][2:] == ["alice", "content 1 B → 2 B"]
    txn = json.loads(alice.ok("history --json -n 1 /home/alice/f"))["txn"]
    assert len(txn) == 16 and int(txn, 16) > 0
    assert txn in lines[1]
    assert lines[2].endswith("created")
    assert len(lines) == 3


def test_a_group_commit_names_every_writer(homes, store) -> None:
    """One batch, two writers: its transaction lists both, in the order they wrote."""

    def make(user: str, path: str):
        return lambda root: StoreView.for_user(root, user).make_container(path).path

    async def one_batch() -> list[tuple[bool, object]]:
        commits = GroupCommit(store, asyncio.to_thread)
        batch = [_Write(make("alice", "/home/alice/x")), _Write(make("bob", "/home/bob/y"))]
        return commits._commit(batch)

    assert asyncio.run(one_batch()) == [(True, "/home/alice/x"), (True, "/home/bob/y")]
    for path in ("/home/alice/x", "/home/bob/y"):
        newest = object_history(store, "admin", path).entries[0]
        assert (newest.users, newest.user, newest.changes) == (
            ("alice", "bob"),
            "alice,bob",
            ("created",),
        )


def test_packed_history_says_where_it_begins(homes, store, alice) -> None:
    alice.ok("put /home/alice/f", stdin=b"one")
    alice.ok("put /home/alice/f", stdin=b"two!")
    store.db.pack()
    alice.ok("put /home/alice/f", stdin=b"three")
    lines = alice.ok("history /home/alice/f").splitlines()
    assert "content 4 B → 5 B" in lines[1]
    assert lines[2].endswith("oldest kept")
    assert lines[3].startswith("history begins at ")
    assert lines[3].endswith("older changes were packed")
    last = json.loads(alice.ok("history --json /home/alice/f").splitlines()[-1])
    assert last["packed"] is True and len(last["history_begins"]) == 16


def test_bad_input(homes, alice, bob, store) -> None:
    assert alice("history /home/alice/nothing")[0] == 3
    status, out, err = bob("history /home/alice")
    assert (status, out) == (4, "")
    assert err.strip().count("\n") == 0 and "permission denied" in err
    assert alice("history -n 0 /home/alice")[0] == 2
    assert alice("history -n 2")[0] == 2


def test_a_storage_without_history_says_so(homes, store, alice, monkeypatch) -> None:
    class Bare:
        """A storage offering everything but ``history``."""

        def __init__(self, inner) -> None:
            self._inner = inner

        def __getattr__(self, name: str):
            if name == "history":
                raise AttributeError(name)
            return getattr(self._inner, name)

    monkeypatch.setattr(store.db, "storage", Bare(store.db.storage))
    with pytest.raises(NoHistory):
        object_history(store, "alice", "/home/alice")
    status, out, err = alice("history /home/alice")
    assert (status, out, err) == (1, "", "omsh: history: this storage keeps no history\n")


def test_command_history_still_works(alice) -> None:
    """A lone number is still bash's ``history N`` (the session's lines)."""
    alice.session.history.extend(["pwd", "ls"])
    assert alice.ok("history 1") == "    2  ls\n"


KEYS = ("a", "b", "c")
step = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(["alice", "bob"]), st.integers(0, 3)),
    st.tuples(st.just("meta"), st.sampled_from(["alice", "bob"]), st.sampled_from(KEYS)),
    st.tuples(st.just("unmeta"), st.sampled_from(["alice", "bob"]), st.sampled_from(KEYS)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=8), tag=st.integers(0, 1))
def test_history_matches_a_model_of_the_changes(tmp_path_factory, steps, tag) -> None:
    """Random puts and metadata edits by two users: history is exactly what a model predicts."""
    store = Store.open(data_dir=str(tmp_path_factory.mktemp("model")))
    try:
        store.bootstrap(admin_password="admin-secret")
        store.run(lambda root: [root.principals.add_user(n) for n in ("alice", "bob")] and None)
        admin = ShellDriver(store, default_registry(), "admin")
        admin.ok("mkdir /w")
        admin.ok("acl grant /w alice 0x1f --inherit")
        admin.ok("acl grant /w bob 0x1f --inherit")
        drivers = {name: ShellDriver(store, admin.registry, name) for name in ("alice", "bob")}
        drivers["alice"].ok("put /w/f", stdin=b"")
        expected: list[tuple[str, list[str]]] = [("alice", ["created"])]
        size, metadata = 0, {}
        for kind, user, argument in steps:
            if kind == "put":
                drivers[user].ok("put /w/f", stdin=bytes([tag]) * argument)
                same = argument == size
                change = "touched" if same else f"content {size} B → {argument} B"
                size = argument
            elif kind == "meta":
                drivers[user].ok(f"set-meta /w/f {argument}=v{tag}")
                change = f"metadata +{argument}" if argument not in metadata else "touched"
                metadata[argument] = tag
            elif argument in metadata:
                drivers[user].ok(f"set-meta /w/f -d {argument}")
                change = f"metadata -{argument}"
                del metadata[argument]
            else:
                continue
            expected.insert(0, (user, [change]))
        assert changes(admin, "/w/f") == expected
    finally:
        store.close()
