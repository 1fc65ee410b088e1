"""``--at WHEN``: reading the tree as it was, through a historical connection.

A FileStorage store (with a blob directory) in a temporary folder: objects
change over several transactions and each past state is read back by
transaction id, time and age; rights are checked then and now.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ZODB.TimeStamp import TimeStamp

from omsh.errors import UsageError
from omsh.store.asof import parse_when
from omsh.store.database import Store
from tests.conftest import ShellDriver, zeo_store


def tid(store) -> str:
    """The last committed transaction, as ``--at`` takes it."""
    return store.db.lastTransaction().hex()


@pytest.fixture
def past(store, admin, homes):
    """/home/alice/f written three times (v1, v2 renamed to g, then removed); its tids."""
    alice_home = "/home/alice"
    admin.ok(f"put {alice_home}/f", b"one\n")
    admin.ok(f"set-meta {alice_home}/f colour=red")
    first = tid(store)
    admin.ok(f"put {alice_home}/f", b"two\n")
    admin.ok(f"set-meta {alice_home}/f colour=blue")
    second = tid(store)
    admin.ok(f"mv {alice_home}/f {alice_home}/g")
    renamed = tid(store)
    admin.ok(f"rm {alice_home}/g")
    return first, second, renamed


def test_cat_head_meta_ls_as_of_each_transaction(admin, past) -> None:
    first, second, renamed = past
    assert admin.ok(f"cat --at {first} /home/alice/f") == "one\n"
    assert admin.ok(f"head --at {second} -n 1 /home/alice/f") == "two\n"
    assert "colour" in admin.ok(f"meta --at {first} /home/alice/f")
    assert "red" in admin.ok(f"meta --at {first} /home/alice/f")
    assert "blue" in admin.ok(f"meta --at {second} /home/alice/f")
    assert admin.ok(f"ls --at {renamed} /home/alice").split() == ["g"]
    assert admin.ok(f"cat --at {renamed} /home/alice/g") == "two\n"
    # Paths resolve as the tree was then: f did not exist under that name.
    status, _, err = admin(f"cat --at {renamed} /home/alice/f")
    assert status == 3 and "not found" in err
    # Now it is gone.
    assert admin("cat /home/alice/g")[0] == 3
    assert "g" not in admin.ok("ls /home/alice").split()


def test_stat_tree_find_query_as_of_then(admin, past) -> None:
    first, _, renamed = past
    assert admin.ok(f"stat --at {first} /home/alice/f")
    assert "g" in admin.ok(f"tree --at {renamed} /home/alice")
    assert admin.ok(f"find --at {renamed} /home/alice --name g").strip().endswith("/home/alice/g")
    found = admin.ok(f"query --at {first} \"colour = 'red'\"")
    assert "/home/alice/f" in found
    assert "/home/alice/f" not in admin.ok(f"query --at {renamed} \"colour = 'red'\"")
    assert admin.ok("query \"colour = 'blue'\"").strip() == ""


def test_query_json_reports_the_transaction_read(admin, past) -> None:
    first = past[0]
    lines = admin.ok(f"query --json --at {first} \"colour = 'red'\"").splitlines()
    assert any(json.loads(line).get("transaction") == first for line in lines)


def test_time_and_age(store, admin, homes) -> None:
    admin.ok("put /home/alice/t", b"old\n")
    then = datetime.fromtimestamp(TimeStamp(store.db.lastTransaction()).timeTime(), UTC)
    time.sleep(1.2)
    admin.ok("put /home/alice/t", b"new\n")
    instant = (then + timedelta(milliseconds=500)).isoformat()
    assert admin.ok(f"cat --at {instant} /home/alice/t") == "old\n"
    assert admin.ok("cat --at 0s /home/alice/t") == "new\n"


def test_bad_when(admin, store) -> None:
    status, _, err = admin("cat --at yesterday /")
    assert status == 2 and "yesterday" in err and err.count("\n") == 1
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, _, err = admin(f"ls --at {future} /")
    assert status == 2 and "future" in err
    status, _, err = admin("ls --at ffffffffffffffff /")
    assert status == 2 and "future" in err
    status, _, err = admin("ls --at 1990-01-01 /")
    assert status == 3 and "nothing is kept from then" in err
    status, _, err = admin("ls --at 0000000000000001 /")
    assert status == 3


def test_writes_are_refused(admin, past) -> None:
    first = past[0]
    status, _, err = admin(f"acl grant --at {first} /home/alice bob r")
    assert status == 4 and "read-only" in err


def test_revoked_reader_cannot_read_the_old_copy(store, admin, alice, bob, homes) -> None:
    alice.ok("put ~/diary", b"secret\n")
    alice.ok("acl grant ~/diary bob r")
    alice.ok("acl grant ~ bob r")
    shared = tid(store)
    assert bob.ok(f"cat --at {shared} /home/alice/diary") == "secret\n"
    alice.ok("acl revoke ~/diary bob")
    status, _, err = bob(f"cat --at {shared} /home/alice/diary")
    assert status == 4 and "permission denied" in err
    assert admin.ok(f"cat --at {shared} /home/alice/diary") == "secret\n"


def test_private_since_stays_private_and_private_then_stays_hidden(
    store, admin, alice, bob, homes
) -> None:
    alice.ok("put ~/early", b"e\n")
    private = tid(store)
    alice.ok("acl grant ~ bob r --inherit")
    # Bob may read it now, but could not then: the past stays private.
    assert bob.ok("cat /home/alice/early") == "e\n"
    assert bob(f"cat --at {private} /home/alice/early")[0] == 4
    shared = tid(store)
    alice.ok("acl revoke ~ bob")
    assert bob(f"cat --at {shared} /home/alice/early")[0] == 4


def test_removed_object_is_judged_by_its_nearest_ancestor(store, alice, bob, homes) -> None:
    alice.ok("acl grant ~ bob r --inherit")
    alice.ok("put ~/gone", b"g\n")
    present = tid(store)
    alice.ok("rm ~/gone")
    assert bob.ok(f"cat --at {present} /home/alice/gone") == "g\n"
    alice.ok("acl revoke ~ bob")
    assert bob(f"cat --at {present} /home/alice/gone")[0] == 4


def test_parse_when() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert parse_when("2d", now).moment == now - 2 * 86400
    assert parse_when("30s", now).moment == now - 30
    assert parse_when("1w", now).moment == now - 7 * 86400
    midnight = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_when("2026-01-01T00:00:00", now).moment == midnight
    assert parse_when("2026-01-01T01:00:00+01:00", now).moment == midnight
    assert parse_when("0123456789abcdef").tid == bytes.fromhex("0123456789abcdef")
    with pytest.raises(UsageError):
        parse_when("", now)
    # Anything else may be a snapshot's name: refused only if none has it.
    for bad in ("2x", "-1d", "tomorrow", "0123"):
        when = parse_when(bad, now)
        assert when.unparsed and bad in when.unparsed
        with pytest.raises(UsageError):
            when.before(now, b"\xff" * 8)


def test_json_marks_what_it_read_as_of(admin, past) -> None:
    first = past[0]
    for line in (f"ls --json --at {first} /home/alice", f"stat --json --at {first} /home/alice/f"):
        documents = [json.loads(text) for text in admin.ok(line).splitlines()]
        assert documents and all(document["at"] == first for document in documents)
    # Only for that command.
    assert all("at" not in json.loads(text) for text in admin.ok("ls --json /").splitlines())


@contextlib.contextmanager
def memory_store(tmp_path) -> Iterator[Store]:
    store = Store.open(uri="memory://")
    try:
        yield store
    finally:
        store.close()


@pytest.mark.parametrize("opened", [memory_store, zeo_store], ids=["memory", "zeo"])
def test_other_storages_read_the_past_content_included(tmp_path, registry, opened) -> None:
    """memory:// keeps history while it runs; ZEO (blob cache not shared) as FileStorage."""
    with opened(tmp_path) as store:
        store.bootstrap(admin_password="admin-secret")
        admin = ShellDriver(store, registry, "admin")
        admin.ok("put /f", b"one\n")
        first = tid(store)
        admin.ok("put /f", b"two\n")
        assert admin.ok(f"cat --at {first} /f") == "one\n"
        assert admin.ok("cat /f") == "two\n"


#: Changes to /m: store content under a name, set its metadata, rename it, remove it.
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["put", "meta", "mv", "rm"]),
        st.sampled_from("abc"),
        st.sampled_from("xyz"),
    ),
    min_size=1,
    max_size=12,
)


@contextlib.contextmanager
def model_store(registry: Any) -> Iterator[tuple[Store, ShellDriver]]:
    """A FileStorage store of its own (hypothesis runs many examples), with /m, as admin."""
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(data_dir=directory)
        try:
            store.bootstrap(admin_password="admin-secret")
            admin = ShellDriver(store, registry, "admin")
            admin.ok("mkdir /m")
            yield store, admin
        finally:
            store.close()


def apply_change(
    admin: ShellDriver, model: dict[str, tuple[str, str]], number: int, change: tuple[str, str, str]
) -> bool:
    """Make *change* (number *number*) to /m and to *model* (name -> (content, tag)).

    False when it changes nothing (an action on a name that is not there).
    """
    action, name, other = change
    if action == "put":
        admin.ok(f"put /m/{name}", f"{name}{number}\n".encode())
        model[name] = (f"{name}{number}\n", model.get(name, ("", ""))[1])
    elif name not in model:
        return False
    elif action == "meta":
        admin.ok(f"set-meta /m/{name} tag={other}{number}")
        model[name] = (model[name][0], f"{other}{number}")
    elif action == "mv" and name != other:
        admin.ok(f"mv /m/{name} /m/{other}")
        model[other] = model.pop(name)
    elif action == "rm":
        admin.ok(f"rm /m/{name}")
        del model[name]
    return True


@settings(max_examples=25, deadline=None)
@given(CHANGES, st.data())
def test_reads_at_random_past_transactions_equal_a_model(registry, changes, data) -> None:
    """After each change the model (name -> (content, tag)) is recorded with its tid;
    ``ls``, ``cat`` and ``meta`` as of a random one of them give that model back."""
    with model_store(registry) as (store, admin):
        model: dict[str, tuple[str, str]] = {}
        states = [(tid(store), dict(model))]
        for number, change in enumerate(changes):
            apply_change(admin, model, number, change)
            states.append((tid(store), dict(model)))
        when, expected = data.draw(st.sampled_from(states))
        assert admin.ok(f"ls --at {when} /m").split() == sorted(expected)
        for name, (content, tag) in expected.items():
            assert admin.ok(f"cat --at {when} /m/{name}") == content
            shown = json.loads(admin.ok(f"meta --json --at {when} /m/{name}"))
            assert shown["metadata"].get("tag", "") == tag


def test_transaction_ids_as_history_prints_them(admin, homes) -> None:
    for content in (b"one\n", b"two\n", b"three\n"):
        admin.ok("put /home/alice/h", content)
    changes = [json.loads(line) for line in admin.ok("history --json /home/alice/h").splitlines()]
    txns = [change["txn"] for change in changes if "txn" in change]
    assert len(txns) == 3  # newest first
    for txn, content in zip(txns, ("three\n", "two\n", "one\n"), strict=True):
        assert admin.ok(f"cat --at {txn} /home/alice/h") == content


def test_wildcards_expand_as_the_tree_was_then(admin, past) -> None:
    first, _, renamed = past
    assert admin.ok(f"cat --at {first} /home/alice/*") == "one\n"
    assert admin.ok(f"ls --at {renamed} /home/alice/?").split() == ["/home/alice/g"]
    assert admin("cat /home/alice/*")[0] != 0  # nothing matches now
