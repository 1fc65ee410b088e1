"""``watch``: the change feed read from the transaction log (:mod:`omsh.store.changes`).

Replays (``--since TXN --until-now``) on FileStorage, ``memory://`` and ZEO,
a live follow in a thread stopped by Ctrl-C, and the refusals.  Over real
``ssh`` and CDMI in ``tests/test_watch_e2e.py``.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsh.commands.base import Interrupt
from omsh.commands.watch import FOLLOWING, MAX_FOLLOWING
from omsh.store.changes import POLL_INTERVAL, Feed, PollInterval, StoreClosed
from omsh.store.content import ContentUpload
from omsh.store.view import StoreView
from tests.conftest import ShellDriver, zeo_store
from tests.test_at import CHANGES, memory_store


def last_tid(store) -> str:
    return store.db.lastTransaction().hex()


def events(driver: ShellDriver, since: str, *options: str) -> list[dict]:
    """The events ``watch --json --until-now --since`` prints (without the last ``until``)."""
    lines = driver.ok(f"watch --json --until-now --since {since} {' '.join(options)}").splitlines()
    documents = [json.loads(line) for line in lines]
    assert "until" in documents[-1]
    return documents[:-1]


def summary(documents: list[dict]) -> list[tuple[str, str]]:
    return [(document["event"], document["path"]) for document in documents]


def test_every_kind_of_change_once_per_object_and_transaction(store, homes, admin, alice) -> None:
    start = last_tid(store)
    alice.ok("put /home/alice/f", stdin=b"hello")
    alice.ok("set-meta /home/alice/f camera=nikon")
    alice.ok("put /home/alice/f", stdin=b"hello, world")
    alice.ok("put --mimetype text/x-test /home/alice/f", stdin=b"hello, world")

    def touch(root) -> None:  # times only: no event
        view = StoreView.for_user(root, "alice")
        view.set_times(view.resolve("/home/alice/f"), "f", mtime=1.0)

    store.run(touch)
    alice.ok("mkdir /home/alice/d")
    alice.ok("mv /home/alice/f /home/alice/d/g")
    admin.ok("acl grant /home/alice/d/g bob r")
    admin.ok("chown bob /home/alice/d/g")
    admin.ok("rm -r /home/alice/d")
    found = events(admin, start)
    assert summary(found) == [
        ("created", "/home/alice/f"),
        ("metadata", "/home/alice/f"),
        ("content", "/home/alice/f"),
        ("metadata", "/home/alice/f"),
        ("created", "/home/alice/d"),
        ("moved", "/home/alice/d/g"),
        ("acl", "/home/alice/d/g"),
        ("owner", "/home/alice/d/g"),
        ("removed", "/home/alice/d"),  # one event for the subtree, at its top
    ]
    assert found[1]["detail"] == ["metadata +camera"]
    assert found[3]["detail"] == ["mimetype application/octet-stream → text/x-test"]
    assert found[2]["detail"] == ["content 5 B → 12 B"]
    assert found[5]["from"] == "/home/alice/f" and "from" not in found[0]
    assert [document["user"] for document in found] == ["alice"] * 6 + ["admin"] * 3
    assert found[4]["type"] == "container" and found[0]["type"] == "object"
    # Transaction ids are history's, in commit order.
    history = json.loads(admin.ok("history --json -n 1 /home/alice")).get("txn")
    assert history == found[-1]["txn"]
    assert [document["txn"] for document in found] == sorted(document["txn"] for document in found)


def test_one_transaction_with_several_changes_is_one_event(store, homes, alice) -> None:
    alice.ok("put /home/alice/f", stdin=b"a")
    start = last_tid(store)
    alice.ok("put --meta k=1 /home/alice/f", stdin=b"ab")
    [event] = events(alice, start, "/home/alice")
    assert event["event"] == "content" and event["changes"] == ["content", "metadata"]


def test_a_move_over_an_object_removes_it(store, homes, alice) -> None:
    alice.ok("put /home/alice/a", stdin=b"a")
    alice.ok("put /home/alice/b", stdin=b"b")
    start = last_tid(store)
    alice.ok("mv /home/alice/a /home/alice/b")
    found = events(alice, start, "/home/alice")
    assert summary(found) == [("removed", "/home/alice/b"), ("moved", "/home/alice/b")]
    assert found[0]["txn"] == found[1]["txn"]


def test_a_rename_in_place_is_a_move_not_a_removal(store, homes, alice) -> None:
    alice.ok("put /home/alice/a", stdin=b"a")
    start = last_tid(store)
    alice.ok("mv /home/alice/a /home/alice/z")
    assert summary(events(alice, start, "~")) == [("moved", "/home/alice/z")]


def test_resume_after_a_transaction_and_until_names_where_to_go_on(store, homes, alice) -> None:
    start = last_tid(store)
    alice.ok("put /home/alice/a", stdin=b"1")
    middle = last_tid(store)
    alice.ok("put /home/alice/b", stdin=b"2")
    assert summary(events(alice, middle, "~")) == [("created", "/home/alice/b")]
    assert len(events(alice, start, "~")) == 2
    until = json.loads(alice.ok(f"watch --json --until-now --since {middle}").splitlines()[-1])
    assert until == {"until": last_tid(store)}
    # Resuming from there finds nothing new, then the next change only.
    assert events(alice, until["until"], "~") == []
    alice.ok("rm /home/alice/a")
    assert summary(events(alice, until["until"], "~")) == [("removed", "/home/alice/a")]


def test_path_limits_to_a_subtree_and_moves_across_its_edge_show(store, homes, alice) -> None:
    alice.ok("mkdir /home/alice/in /home/alice/out")
    start = last_tid(store)
    alice.ok("put /home/alice/out/x", stdin=b"x")
    alice.ok("put /home/alice/in/y", stdin=b"y")
    alice.ok("mv /home/alice/in/y /home/alice/out/y")
    found = events(alice, start, "/home/alice/in")
    assert summary(found) == [("created", "/home/alice/in/y"), ("moved", "/home/alice/out/y")]
    assert alice("watch --until-now /home/alice/nothing")[0] == 3


def test_query_keeps_objects_whose_metadata_matched_then(store, homes, alice) -> None:
    start = last_tid(store)
    alice.ok("put --meta project=apollo /home/alice/a", stdin=b"1")
    alice.ok("put --meta project=gemini /home/alice/b", stdin=b"2")
    alice.ok("set-meta /home/alice/a project=gemini")
    alice.ok("rm /home/alice/b")
    found = events(alice, start, "~", "--query", "\"project = 'gemini'\"")
    assert summary(found) == [
        ("created", "/home/alice/b"),
        ("metadata", "/home/alice/a"),
        ("removed", "/home/alice/b"),  # as it was just before: it matched
    ]
    assert alice("watch --until-now --query 'project ='")[0] == 2


def test_events_are_shown_only_if_visible_then_and_now(store, homes, admin, alice, bob) -> None:
    admin.ok("acl grant --inherit /home/alice bob read,read-metadata")
    alice.ok("mkdir /home/alice/shut")
    admin.ok("acl deny /home/alice/shut bob read")  # bob sees it but may not list it
    start = last_tid(store)
    alice.ok("put /home/alice/open", stdin=b"1")
    alice.ok("put /home/alice/secret", stdin=b"2")
    admin.ok("acl deny /home/alice/secret bob all")  # bob could see it then, not now
    alice.ok("put /home/alice/shut/inside", stdin=b"3")
    bob_sees = summary(events(bob, start, "/home/alice"))
    assert bob_sees == [("created", "/home/alice/open")]
    assert summary(events(alice, start, "/home/alice")) == [
        ("created", "/home/alice/open"),
        ("created", "/home/alice/secret"),
        ("acl", "/home/alice/secret"),
        ("created", "/home/alice/shut/inside"),
    ]
    # Revoked now: nothing of the past either.
    admin.ok("acl revoke /home/alice bob")
    assert events(bob, start) == []
    # Made visible only later: what happened while it was hidden stays hidden.
    admin.ok("mkdir -p /pub/priv")
    admin.ok("acl grant --inherit /pub bob read,read-metadata")
    admin.ok("acl deny /pub/priv bob all")
    second = last_tid(store)
    admin.ok("put /pub/priv/x", stdin=b"x")
    admin.ok("acl revoke /pub/priv bob")
    admin.ok("put /pub/priv/y", stdin=b"y")
    assert summary(events(bob, second)) == [("acl", "/pub/priv"), ("created", "/pub/priv/y")]


def test_a_resume_point_packed_away_or_malformed_is_refused(store, homes, alice) -> None:
    old = last_tid(store)
    alice.ok("put /home/alice/a", stdin=b"1")
    kept = last_tid(store)
    time.sleep(0.01)
    store.db.pack(time.time())
    alice.ok("put /home/alice/b", stdin=b"2")
    status, _, err = alice(f"watch --until-now --since {old}")
    assert status == 3
    assert err == f"omsh: watch: --since {old}: the history from then was packed away\n"
    assert summary(events(alice, kept, "~")) == [("created", "/home/alice/b")]
    assert alice("watch --until-now --since 12ab")[0] == 2
    assert alice("watch --until-now --since zzzzzzzzzzzzzzzz")[0] == 2
    future = f"{int(last_tid(store), 16) + 10**9:016x}"
    status, _, err = alice(f"watch --until-now --since {future}")
    assert status == 2 and "future" in err


@pytest.mark.parametrize("opened", [memory_store, zeo_store], ids=["memory", "zeo"])
def test_other_storages_are_followed_alike(tmp_path, registry, opened) -> None:
    with opened(tmp_path) as store:
        store.bootstrap(admin_password="admin-secret")
        admin = ShellDriver(store, registry, "admin")
        start = last_tid(store)
        admin.ok("put /f", b"one\n")
        admin.ok("mv /f /g")
        assert summary(events(admin, start)) == [("created", "/f"), ("moved", "/g")]


def test_follow_live_until_ctrl_c(store, homes, alice) -> None:
    """A running ``watch`` prints each change as it is committed; Ctrl-C ends it (130)."""
    watcher = ShellDriver(alice.store, alice.registry, "alice")
    watcher.interrupt = Interrupt()
    result: list[tuple[int, str, str]] = []
    thread = threading.Thread(target=lambda: result.append(watcher("watch --json ~")))
    thread.start()
    try:
        time.sleep(0.3)  # started: only changes from now on
        for name in "abc":
            alice.ok(f"put /home/alice/{name}", stdin=name.encode())
        deadline = time.monotonic() + 10
        while watcher.out.data.count(b"\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        shown = [json.loads(line) for line in bytes(watcher.out.data).decode().splitlines()]
        assert summary(shown) == [("created", f"/home/alice/{name}") for name in "abc"]
    finally:
        watcher.interrupt.set()
        thread.join(10)
    assert result and result[0][0] == 130


def test_a_feed_starts_at_now_and_advances(store, homes) -> None:
    feed = Feed(store, lambda root: StoreView.for_user(root, "admin"))
    assert feed.position == last_tid(store) and not feed.pending()
    assert not feed.wait(0.05)
    store.run(lambda root: StoreView.for_user(root, "admin").make_container("/n"))
    assert feed.wait(1.0)
    [change] = feed.poll()
    assert (change.event, change.path, change.users) == ("created", "/n", ("admin",))
    assert feed.position == last_tid(store) and feed.poll() == []


def test_a_quiet_follower_looks_less_often_and_quickly_again_after_a_change() -> None:
    intervals = PollInterval()
    assert [next(intervals) for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    intervals.reset()
    assert next(intervals) == POLL_INTERVAL


def test_only_a_storage_that_needs_no_query_is_polled_on_the_event_loop(store) -> None:
    feed = Feed(store, lambda root: StoreView.for_user(root, "admin"))
    assert feed.polls_cheaply  # FileStorage: an attribute read

    class RelStorageLike:  # learns of other nodes' commits by asking its database
        def __init__(self, storage: object) -> None:
            self._storage = storage

        def poll_invalidations(self) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            return getattr(self._storage, name)

    feed.store.db.storage = RelStorageLike(store.db.storage)
    try:
        assert not feed.polls_cheaply
    finally:
        feed.store.db.storage = feed.store.db.storage._storage


@pytest.mark.parametrize(
    "half_written",
    [AttributeError("no _scan_foreward", name="_scan_foreward"), ValueError("Can't find last")],
    ids=["small-file", "large-file"],
)
def test_a_log_read_that_meets_a_commit_being_written_reads_again(
    store, homes, monkeypatch, half_written
) -> None:
    """FileStorage's iterator opened mid-commit fails (a small file through a name
    ZODB misspells); the feed reads again instead of failing the watch."""
    feed = Feed(store, lambda root: StoreView.for_user(root, "admin"))
    store.run(lambda root: StoreView.for_user(root, "admin").make_container("/n"))
    real_iterator = store.db.storage.iterator
    failures = [half_written]

    def iterator(start, stop):
        if failures:
            raise failures.pop()
        return real_iterator(start, stop)

    monkeypatch.setattr(store.db.storage, "iterator", iterator)
    [change] = feed.poll()
    assert change.path == "/n" and not failures


def test_another_attribute_error_is_not_taken_for_a_commit_being_written(
    store, homes, monkeypatch
) -> None:
    feed = Feed(store, lambda root: StoreView.for_user(root, "admin"))
    store.run(lambda root: StoreView.for_user(root, "admin").make_container("/n"))

    def broken(start, stop):
        raise AttributeError("something else", name="other")

    monkeypatch.setattr(store.db.storage, "iterator", broken)
    with pytest.raises(AttributeError):
        feed.poll()


def test_a_feed_of_a_closed_store_says_so(tmp_path) -> None:
    with memory_store(tmp_path) as store:
        store.bootstrap(admin_password="admin-secret")
        feed = Feed(store, lambda root: StoreView.for_user(root, "admin"))
        store.db.close()
        with pytest.raises(StoreClosed, match="the server is stopping"):
            feed.wait(1.0)


def test_removals_from_a_container_of_many_buckets(store, homes, alice) -> None:
    """Children spread over many B-tree buckets: those removed (some buckets emptied,
    one name replaced by a move) are found from the buckets rewritten, no more."""
    names = [f"f{index:03d}" for index in range(200)]

    def fill(root) -> None:
        view = StoreView.for_user(root, "alice")
        view.make_container("/home/alice/many")
        for name in names:
            with ContentUpload(store.temporary_directory()) as upload:
                view.store_data(f"/home/alice/many/{name}", upload)

    store.run(fill)
    start = last_tid(store)
    gone = [*names[50:100], "f150"]

    def remove(root) -> None:
        view = StoreView.for_user(root, "alice")
        for name in gone:
            view.remove(f"/home/alice/many/{name}")
        view.move("/home/alice/many/f160", "/home/alice/many/f170")

    store.run(remove)
    found = summary(events(alice, start, "/home/alice/many"))
    assert sorted(found) == sorted(
        [("removed", f"/home/alice/many/{name}") for name in [*gone, "f170"]]
        + [("moved", "/home/alice/many/f170")]
    )


def test_live_follows_are_bounded(store, homes, alice) -> None:
    """Each live watch holds a worker thread: past MAX_FOLLOWING the next is refused."""
    watchers = []
    for _ in range(MAX_FOLLOWING):
        watcher = ShellDriver(alice.store, alice.registry, "alice")
        watcher.interrupt = Interrupt()
        thread = threading.Thread(target=watcher, args=("watch ~",))
        thread.start()
        watchers.append((watcher, thread))
    try:
        deadline = time.monotonic() + 10
        while FOLLOWING._value and time.monotonic() < deadline:  # all following
            time.sleep(0.02)
        status, _, err = alice("watch ~")
        assert status == 1
        assert (
            err == f"omsh: watch: {MAX_FOLLOWING} watches are following already; try again later\n"
        )
        assert alice("watch --until-now ~")[0] == 0  # a replay is not a follow
    finally:
        for watcher, thread in watchers:
            assert watcher.interrupt is not None
            watcher.interrupt.set()
            thread.join(10)
    assert FOLLOWING._value == MAX_FOLLOWING


@settings(max_examples=25, deadline=None)
@given(CHANGES, st.integers(min_value=0, max_value=12))
def test_a_replay_equals_a_model_of_the_changes(registry, changes, resume) -> None:
    """Each change made alone gives exactly the events a model of the container
    predicts, in order, and a replay resumed after any transaction gives the rest.

    ``--at``'s changes: names a b c are stored, tagged, moved to x y z (replacing
    what is there) and removed."""
    with memory_store(None) as store:  # memory:// keeps its history while open
        store.bootstrap(admin_password="admin-secret")
        admin = ShellDriver(store, registry, "admin")
        admin.ok("mkdir /m")
        since = last_tid(store)
        present: set[str] = set()
        expected: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        for number, (action, name, other) in enumerate(changes):
            path, target = f"/m/{name}", f"/m/{other}"
            if action == "put":
                admin.ok(f"put {path}", f"{number}".encode())
                made = ("content" if name in present else "created", path)
                present.add(name)
                expected.append((last_tid(store), (made,)))
            elif name not in present:
                continue
            elif action == "meta":
                admin.ok(f"set-meta {path} tag={number}")
                expected.append((last_tid(store), (("metadata", path),)))
            elif action == "mv" and name != other:
                admin.ok(f"mv {path} {target}")
                replaced = (("removed", target),) if other in present else ()
                present.discard(name)
                present.add(other)
                expected.append((last_tid(store), (*replaced, ("moved", target))))
            elif action == "rm":
                admin.ok(f"rm {path}")
                present.discard(name)
                expected.append((last_tid(store), (("removed", path),)))
        found = events(admin, since, "/m")
        assert [(d["txn"], (d["event"], d["path"])) for d in found] == [
            (txn, event) for txn, events_of in expected for event in events_of
        ]
        later = expected[min(resume, len(expected) - 1)][0] if expected else since
        assert [(d["txn"], d["event"]) for d in events(admin, later, "/m")] == [
            (d["txn"], d["event"]) for d in found if d["txn"] > later
        ]
