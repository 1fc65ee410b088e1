"""Live views: ``view add|list|rm|run`` and the read-only ``/.views/NAME``.

Entries are the objects a saved query matches now, as the reader's own
``query`` would return them, named by their path below the view's scope.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsh.store.views import entry_name, entry_relative


@pytest.fixture
def photos(store, admin, alice, homes) -> None:
    """alice's photos: two red (one nested), one blue; bob's red one."""
    alice.ok("mkdir -p /home/alice/p/2024")
    alice.ok("put /home/alice/p/a.jpg", b"a")
    alice.ok("put '/home/alice/p/2024/b 100%.jpg'", b"bb")
    alice.ok("put /home/alice/p/c.jpg", b"ccc")
    alice.ok("set-meta /home/alice/p/a.jpg colour=red")
    alice.ok("set-meta '/home/alice/p/2024/b 100%.jpg' colour=red")
    alice.ok("set-meta /home/alice/p/c.jpg colour=blue")


def test_add_list_run_rm(alice, photos) -> None:
    out = alice.ok("view add red \"colour = 'red'\" --in /home/alice/p --select colour,size")
    assert "/.views/red" in out
    listed = [json.loads(line) for line in alice.ok("view list --json").splitlines()]
    assert listed[0]["name"] == "red" and listed[0]["in"] == "/home/alice/p"
    assert listed[0]["select"] == ["colour", "size"] and listed[0]["shared"] is False
    ran = alice.ok("view run red")
    assert "/home/alice/p/a.jpg" in ran and "c.jpg" not in ran and "colour" in ran
    assert alice("view add red 'size > 0'")[0] == 5
    alice.ok("view rm red")
    assert alice("view rm red")[0] == 3
    assert alice.ok("view list --json") == ""


def test_bad_input(alice, admin, photos) -> None:
    for line, status in (
        ("view add", 2),
        ("view add x", 2),
        ("view add x 'colour ='", 2),
        ("view add x 'size > 0' --select 'a,,'", 0),
        ("view add y 'size > 0' --in /home/alice/nowhere", 3),
        ("view add a/b 'size > 0'", 1),
        ("view list x", 2),
        ("view run", 2),
        ("view run nope", 3),
        ("view list --shared", 2),
        ("view add z 'size > 0' --shared", 4),
    ):
        assert alice(line)[0] == status, line


def test_entries_are_the_matches_now(alice, photos) -> None:
    alice.ok("view add red \"colour = 'red'\" --in /home/alice/p")
    assert alice.ok("ls /.views/red").splitlines() == ["2024%2Fb 100%25.jpg", "a.jpg"]
    assert alice.ok("cat '/.views/red/2024%2Fb 100%25.jpg'") == "bb"
    # Live: a change at the object's own path shows at once.
    alice.ok("set-meta /home/alice/p/c.jpg colour=red")
    alice.ok("set-meta /home/alice/p/a.jpg colour=green")
    assert alice.ok("ls /.views/red").splitlines() == ["2024%2Fb 100%25.jpg", "c.jpg"]
    status, _, err = alice("cat /.views/red/a.jpg")  # no longer a match
    assert status == 3 and "not found" in err
    assert alice("cat /.views/red/..%2F..%2Falice%2Fp%2Fa.jpg")[0] == 3  # not below the scope
    assert json.loads(alice.ok("stat --json /.views/red/c.jpg"))["path"] == "/home/alice/p/c.jpg"
    assert alice.ok("ls /.views").split() == ["red/"]


def test_entries_are_read_only(store, alice, photos) -> None:
    alice.ok("view add red \"colour = 'red'\" --in /home/alice/p")
    before = store.db.lastTransaction()
    for line in (
        "put /.views/red/a.jpg",
        "put /.views/red/new",
        "set-meta /.views/red/a.jpg colour=blue",
        "rm /.views/red/a.jpg",
        "rm -r /.views/red",
        "mv /.views/red/a.jpg /home/alice/moved",
        "mkdir /.views/red/d",
        "mkdir /.views/x",
    ):
        status, _, err = alice(line, b"x")
        assert status == 4 and "views are read-only" in err, (line, status, err)
    assert store.db.lastTransaction() == before
    alice.ok("cp /.views/red/a.jpg /home/alice/copy.jpg")  # copying out is a read
    assert alice.ok("cat /home/alice/copy.jpg") == "a"


def test_views_are_their_owners_and_filtered_by_rights(admin, alice, bob, photos) -> None:
    alice.ok("view add red \"colour = 'red'\"")
    assert bob.ok("ls /.views") == ""
    assert bob("ls /.views/red")[0] == 3
    # A shared view: everyone has it, each sees only what they may read.
    admin.ok("view add everything 'size >= 0' --shared")
    assert "/home/alice/p/a.jpg" not in bob.ok("view run everything")
    assert not any("a.jpg" in n for n in bob.ok("ls /.views/everything").splitlines())
    assert any("a.jpg" in n for n in admin.ok("ls /.views/everything").splitlines())
    # Exactly what the reader's own query returns.
    for user in (alice, bob, admin):
        listed = [n.rstrip("/") for n in user.ok("ls /.views/everything").splitlines()]
        queried = user.ok("query 'size >= 0'").splitlines()
        assert listed == sorted(entry_name(p.lstrip("/")) for p in queried)
    assert bob("view rm everything --shared")[0] == 4
    assert bob("view rm everything")[0] == 3
    admin.ok("view rm everything --shared")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1).filter(lambda t: "/" not in t), min_size=1, max_size=4))
def test_entry_names_round_trip_and_never_hold_a_slash(parts) -> None:
    relative = "/".join(parts)
    name = entry_name(relative)
    assert "/" not in name
    assert entry_relative(name) == relative
