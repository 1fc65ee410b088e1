"""Named snapshots: ``snapshot create|list|rm`` and the read-only ``/.snapshots``.

A FileStorage store in a temporary folder, driven through the shell
commands as each user would type them.  The tree of a snapshot is read
through a historical connection; rights are checked then and now, and
every write into it is refused before anything changes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsh.store.snapshots import SNAPSHOTS_PATH, list_snapshots, pack_horizon
from tests.test_at import CHANGES, apply_change, model_store


@pytest.fixture
def daily(store, admin, alice, homes) -> str:
    """alice's /home/alice/f = "one" with colour=red, snapshot "daily"; then f = "two", g added."""
    alice.ok("put /home/alice/f", b"one\n")
    alice.ok("set-meta /home/alice/f colour=red")
    admin.ok("snapshot create daily")
    alice.ok("put /home/alice/f", b"two\n")
    alice.ok("set-meta /home/alice/f colour=blue")
    alice.ok("put /home/alice/g", b"new\n")
    return "/.snapshots/daily/home/alice"


def test_create_list_rm(store, admin, daily) -> None:
    listed = [json.loads(line) for line in admin.ok("snapshot list --json").splitlines()]
    assert [s["name"] for s in listed] == ["daily"]
    assert listed[0]["creator"] == "admin" and listed[0]["path"] == "/.snapshots/daily"
    assert len(listed[0]["txn"]) == 16
    assert "daily" in admin.ok("snapshot list")
    status, _, err = admin("snapshot create daily")
    assert status == 5 and "exists" in err
    assert "removed" in admin.ok("snapshot rm daily")
    assert admin.ok("snapshot list --json") == ""
    status, _, err = admin("snapshot rm daily")
    assert status == 3 and "no such snapshot" in err


def test_bad_names_and_usage(admin) -> None:
    for line, status in (
        ("snapshot create", 2),
        ("snapshot list x", 2),
        ("snapshot create a/b", 1),
        ("snapshot frob", 2),
    ):
        assert admin(line)[0] == status, line


def test_only_admins_take_and_drop(alice, admin, daily) -> None:
    status, _, err = alice("snapshot create mine")
    assert status == 4 and "administrators" in err
    status, _, _ = alice("snapshot rm daily")
    assert status == 4
    assert "daily" in alice.ok("snapshot list")


def test_reads_see_the_tree_as_of_the_snapshot(admin, alice, daily) -> None:
    assert admin.ok(f"cat {daily}/f") == "one\n"
    assert "red" in admin.ok(f"meta {daily}/f")
    assert admin.ok(f"ls {daily}").split() == ["f"]
    assert alice.ok(f"cat {daily}/f") == "one\n"
    assert alice.ok("cat /home/alice/f") == "two\n"
    # cd into the past, relative paths, stat's path, find's paths.
    alice.ok(f"cd {daily}")
    assert alice.ok("cat f") == "one\n"
    assert json.loads(alice.ok("stat --json f"))["path"] == f"{daily}/f"
    assert alice.ok(f"find {daily} --name f").split() == [f"{daily}/f"]
    tree = admin.ok("tree /.snapshots/daily/home")
    assert "alice" in tree and "f" in tree


def test_query_in_a_snapshot_reads_its_catalog(admin, daily) -> None:
    found = admin.ok("query --in /.snapshots/daily \"colour = 'red'\"").split()
    assert found == [f"{daily}/f"]
    assert admin.ok("query --in /.snapshots/daily \"colour = 'blue'\"").strip() == ""
    assert admin.ok("query \"colour = 'blue'\"").split() == ["/home/alice/f"]
    status, _, err = admin("query --in /.snapshots \"colour = 'red'\"")
    assert status == 1 and "one snapshot at a time" in err


def test_snapshots_directory_is_hidden_but_listable(admin, daily) -> None:
    assert ".snapshots" not in admin.ok("ls -a /").split()
    assert admin.ok(f"ls {SNAPSHOTS_PATH}").split() == ["daily/"]
    assert admin.ok("ls /.snapshots/daily").split() == ["home/"]


def test_writes_into_a_snapshot_are_refused_and_change_nothing(store, admin, daily) -> None:
    before = store.db.lastTransaction()
    for line in (
        f"put {daily}/f",
        f"put {daily}/new",
        f"set-meta {daily}/f colour=green",
        f"rm {daily}/f",
        "rm -r /.snapshots/daily",
        f"mkdir {daily}/d",
        f"mv /home/alice/g {daily}/g",
        f"mv {daily}/f /home/alice/h",
        f"acl grant {daily}/f bob r",
        "mkdir /.snapshots/x",
        "put /.snapshots/x",
        f"chown bob {daily}/f",
        "rm -r /.snapshots",
    ):
        status, _, err = admin(line, b"data")
        assert status in (4, 5), (line, status, err)
    assert store.db.lastTransaction() == before
    assert admin.ok(f"cat {daily}/f") == "one\n"


def test_copy_out_of_a_snapshot_restores(admin, daily) -> None:
    admin.ok(f"cp {daily}/f /home/alice/f.old")
    assert admin.ok("cat /home/alice/f.old") == "one\n"
    assert "red" in admin.ok("meta /home/alice/f.old")


def test_rights_are_checked_then_and_now(admin, bob, daily) -> None:
    # bob could never read alice's home: not in the snapshot either.
    status, _, _ = bob(f"cat {daily}/f")
    assert status in (3, 4)
    # Granted now but not then: still refused (then AND now).
    admin.ok("acl grant /home/alice bob rm --inherit")
    assert bob.ok("cat /home/alice/f") == "two\n"
    status, _, _ = bob(f"cat {daily}/f")
    assert status in (3, 4)
    # Granted then and revoked since: refused too.
    admin.ok("snapshot create granted")
    admin.ok("acl revoke /home/alice bob")
    status, _, _ = bob("cat /.snapshots/granted/home/alice/f")
    assert status in (3, 4)


def test_pack_horizon_keeps_the_oldest_snapshot(store, admin, daily) -> None:
    snapshots = store.read(list_snapshots)
    assert store.read(lambda root: pack_horizon(root, 4e9)) == snapshots[0].time
    admin.ok("snapshot rm daily")
    assert store.read(lambda root: pack_horizon(root, 4e9)) == 4e9


def _open_historical(store) -> int:
    """Historical connections handed out and not yet closed."""
    pools = store.db.historical_pool.pools.values()
    return sum(len(pool.all) - len(pool.available) for pool in pools)


def test_snapshot_connections_close_with_their_transaction(store, admin, alice, daily) -> None:
    for _ in range(20):
        alice.ok(f"cat {daily}/f")
        alice(f"put {daily}/f", b"refused")
    admin.ok(f"cp {daily}/f /home/alice/copy")  # a write transaction that read the past
    admin.ok("ls /.snapshots")
    assert _open_historical(store) == 0


def test_a_snapshot_name_is_a_when(alice, admin, daily) -> None:
    assert alice.ok("cat --at daily /home/alice/f") == "one\n"
    assert "red" in alice.ok("meta --at daily /home/alice/f")
    alice.ok("restore /home/alice/f --at daily")
    assert alice.ok("cat /home/alice/f") == "one\n"
    status, _, err = alice("cat --at nosuch /home/alice/f")
    assert status == 2 and "snapshot's name" in err and err.count("\n") == 1


def _tree(driver, top: str) -> dict[str, tuple[str, str]]:
    """name -> (content, tag) of every object in *top*, read as *driver*."""
    found = {}
    for name in driver.ok(f"ls {top}").split():
        tag = json.loads(driver.ok(f"meta --json {top}/{name}"))["metadata"].get("tag", "")
        found[name] = (driver.ok(f"cat {top}/{name}"), tag)
    return found


@settings(max_examples=20, deadline=None)
@given(CHANGES, st.data())
def test_snapshots_and_restore_equal_a_model(registry, changes, data) -> None:
    """A snapshot after each change of /m; any one of them reads back that
    state, and ``restore -r /m --at`` it makes /m that state again."""
    with model_store(registry) as (_store, admin):
        model: dict[str, tuple[str, str]] = {}
        states = []
        for number, change in enumerate(changes):
            if not apply_change(admin, model, number, change):
                continue
            admin.ok(f"snapshot create s{number}")
            states.append((f"s{number}", dict(model)))
        if not states:
            return
        snapshot, expected = data.draw(st.sampled_from(states))
        assert _tree(admin, f"/.snapshots/{snapshot}/m") == expected
        admin.ok(f"restore -r /m --at {snapshot}")
        assert _tree(admin, "/m") == expected
        assert admin("check")[0] == 0
