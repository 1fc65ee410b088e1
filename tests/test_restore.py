"""``restore PATH --at WHEN`` and ``undo TXN``: the past written back as a new change.

A FileStorage store in a temporary folder (the ``store`` fixture), and the
in-memory storage and ZEO where said: objects change over several
transactions, then are restored (or a transaction undone) through the
shell; the tree, the catalog (``query``, ``check``), the audit trail and
the blob files are checked afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator

import pytest
import transaction
from ZODB.POSException import UndoError

from omsh.store.database import Store
from omsh.store.model import DataObject
from omsh.store.view import StoreView
from tests.conftest import ShellDriver, zeo_store
from tests.test_at import memory_store


def tid(store: Store) -> str:
    """The last committed transaction, as ``--at`` and ``undo`` take it."""
    return store.db.lastTransaction().hex()


def blob_file(store: Store, path: str) -> str:
    """The committed blob file holding the object at *path* now."""

    def find(root) -> str:
        node = root.tree
        for name in path.strip("/").split("/"):
            node = node.get(name)
        assert isinstance(node, DataObject)
        return node.stored_content().filename

    return store.read(find)


def set_mimetype(store: Store, path: str, mimetype: str) -> None:
    """Change a mimetype as CDMI does (``put --mimetype`` stores the shell's word type)."""

    def change(root) -> None:
        view = StoreView.for_user(root, "admin")
        view.set_mimetype(view.resolve_as(DataObject, path), path, mimetype)

    store.run(change)


@pytest.fixture
def versions(store, admin, homes) -> dict[str, str]:
    """/home/alice/f in two states (content, mimetype, metadata, ACL), and the tids."""
    admin.ok("put /home/alice/f", b"one\n")
    set_mimetype(store, "/home/alice/f", "text/plain")
    admin.ok("set-meta /home/alice/f colour=red size:int=1")
    admin.ok("acl grant /home/alice/f bob r")
    first = tid(store)
    admin.ok("put /home/alice/f", b"second version\n")
    set_mimetype(store, "/home/alice/f", "text/markdown")
    admin.ok("set-meta /home/alice/f colour=blue --delete size")
    admin.ok("acl revoke /home/alice/f bob")
    return {"first": first, "second": tid(store)}


def test_restore_content_mimetype_metadata_and_acl(store, admin, versions) -> None:
    first = versions["first"]
    before = admin.ok("stat --json /home/alice/f")
    out = admin.ok(f"restore --at {first} /home/alice/f")
    assert out == "restored 1 object, removed 0 added since\n"
    assert admin.ok("cat /home/alice/f") == "one\n"
    meta = admin.ok("meta /home/alice/f")
    assert "colour=red" in meta and "size=1" in meta
    assert "bob" in admin.ok("acl /home/alice/f")
    stat = json.loads(admin.ok("stat --json /home/alice/f"))
    assert stat["mimetype"] == "text/plain"
    # The same object, owner kept: a new revision of it, not a new object.
    assert stat["objectid"] == json.loads(before)["objectid"]
    assert stat["cdmi_owner"] == json.loads(before)["cdmi_owner"]
    assert admin.ok("query \"colour = 'red'\"").startswith("/home/alice/f")
    assert admin.ok("query \"colour = 'blue'\"") == ""
    assert admin.ok("check").endswith(" 0 problems\n")
    # One revision restored it all (cat may have added an atime "touched" since).
    changes = [
        json.loads(line)["changes"]
        for line in admin.ok("history --json /home/alice/f").splitlines()
    ]
    assert [
        "content 15 B → 4 B",
        "mimetype text/markdown → text/plain",
        "metadata +size ~colour",
        "acl",
    ] in changes
    # Restoring again changes nothing: no new revision.
    last = tid(store)
    assert admin.ok(f"restore --at {first} /home/alice/f").startswith("restored 0 objects")
    assert tid(store) == last


def test_restore_shares_the_old_blob_file(store, admin, homes) -> None:
    big = os.urandom(3 << 20)
    admin.ok("put /home/alice/big", big)
    old_file = blob_file(store, "/home/alice/big")
    first = tid(store)
    admin.ok("put /home/alice/big", b"small now")
    admin.ok(f"restore --at {first} /home/alice/big")
    new_file = blob_file(store, "/home/alice/big")
    assert new_file != old_file
    assert os.stat(new_file).st_ino == os.stat(old_file).st_ino
    assert os.stat(new_file).st_nlink == 2
    assert admin.ok("sha256sum /home/alice/big").split()[0] == hashlib.sha256(big).hexdigest()


def test_restore_a_removed_object_keeps_its_object_id(store, admin, versions) -> None:
    object_id = json.loads(admin.ok("stat --json /home/alice/f"))["objectid"]
    admin.ok("rm /home/alice/f")
    admin.ok(f"restore --at {versions['second']} /home/alice/f")
    assert admin.ok("cat /home/alice/f") == "second version\n"
    assert json.loads(admin.ok("stat --json /home/alice/f"))["objectid"] == object_id
    assert admin.ok("check").endswith(" 0 problems\n")


def test_a_recreated_object_whose_id_is_taken_gets_a_new_one(store, admin, versions) -> None:
    object_id = json.loads(admin.ok("stat --json /home/alice/f"))["objectid"]
    admin.ok("mv /home/alice/f /home/alice/moved")
    admin.ok(f"restore --at {versions['first']} /home/alice/f")
    restored = json.loads(admin.ok("stat --json /home/alice/f"))["objectid"]
    assert restored != object_id
    assert json.loads(admin.ok("stat --json /home/alice/moved"))["objectid"] == object_id
    assert admin.ok("cat /home/alice/f") == "one\n"
    assert admin.ok("check").endswith(" 0 problems\n")


def test_restore_r_of_a_tree_with_additions_since(store, admin, homes) -> None:
    admin.ok("mkdir -p /t/a/deep")
    admin.ok("put /t/a/deep/x", b"x1")
    admin.ok("put /t/keep", b"k")
    admin.ok("set-meta /t/a tag=old")
    then = tid(store)
    admin.ok("put /t/a/deep/x", b"x2")
    admin.ok("set-meta /t/a tag=new")
    admin.ok("mkdir -p /t/added/below")
    admin.ok("put /t/added/below/y", b"y")
    admin.ok("put /t/a/z", b"z")
    admin.ok("rm -r /t/a/deep")

    dry = admin.ok(f"restore -r --dry-run --at {then} /t")
    last = tid(store)
    assert "would remove /t/added\n" in dry and "would remove /t/added/below/y\n" in dry
    assert "would remove /t/a/z\n" in dry
    assert "would restore /t/a (metadata)\n" in dry
    assert "would recreate /t/a/deep\n" in dry and "would recreate /t/a/deep/x\n" in dry
    assert dry.endswith("would restore 3 objects, remove 4 added since; nothing changed\n")
    assert tid(store) == last and admin.ok("ls /t").split() == ["a/", "added/", "keep"]

    out = admin.ok(f"restore -r --at {then} /t")
    assert out == "restored 3 objects, removed 4 added since\n"
    assert admin.ok("ls -R /t").split() == [
        "/t:",
        "a/",
        "keep",
        "/t/a:",
        "deep/",
        "/t/a/deep:",
        "x",
    ]
    assert admin.ok("cat /t/a/deep/x") == "x1"
    assert admin.ok("query \"tag = 'old'\"").startswith("/t/a\n")
    assert admin.ok("check").endswith(" 0 problems\n")
    # The removed objects stay in history.
    assert admin.ok(f"cat --at {last} /t/added/below/y") == "y"
    events = admin.ok("audit --json -n 1")
    assert json.loads(events.splitlines()[-1])["action"] == "restore"


def test_missing_containers_need_r(store, admin, homes) -> None:
    admin.ok("mkdir -p /p/q")
    admin.ok("put /p/q/f", b"f")
    then = tid(store)
    admin.ok("rm -r /p")
    status, _, err = admin(f"restore --at {then} /p/q/f")
    assert status == 3 and err == "omsh: restore: /p/q/f: no such container (use -r)\n"
    admin.ok(f"restore -r --at {then} /p/q/f")
    assert admin.ok("cat /p/q/f") == "f"
    assert admin.ok("check").endswith(" 0 problems\n")


def test_errors_are_one_line(store, admin, versions) -> None:
    status, _, err = admin(f"restore --at {versions['first']} /home/alice/nothing")
    assert status == 3 and err == "omsh: restore: /home/alice/nothing: not found\n"
    status, _, err = admin("restore --at yesterday-ish /home/alice/f")
    assert status == 2 and err.count("\n") == 1
    status, _, err = admin("restore /home/alice/f")
    assert status == 2 and "--at" in err
    status, _, err = admin("restore --at 0000000000000001 /home/alice/f")
    assert status == 3 and "nothing is kept from then" in err


def test_a_revoked_user_cannot_restore(store, admin, alice, bob, homes) -> None:
    alice.ok("put ~/diary", b"secret then")
    alice.ok("acl grant ~ bob rw --inherit")
    then = tid(store)
    alice.ok("put ~/diary", b"changed")
    alice.ok("acl revoke ~ bob")
    alice.ok("acl grant ~ bob w --inherit")  # bob may write now, not read
    last = tid(store)
    status, _, err = bob(f"restore --at {then} /home/alice/diary")
    assert status == 4 and err.count("\n") == 1
    assert tid(store) == last
    assert alice.ok("cat ~/diary") == "changed"


def test_restoring_an_acl_needs_write_acl(store, alice, bob, homes) -> None:
    alice.ok("put ~/doc", b"v1")
    alice.ok("acl grant ~ bob rw --inherit")
    alice.ok("acl grant ~/doc bob rwa")
    then = tid(store)
    alice.ok("acl revoke ~/doc bob")
    alice.ok("put ~/doc", b"v2")
    status, _, err = bob(f"restore --at {then} /home/alice/doc")
    assert status == 4 and "permission denied" in err
    assert alice.ok("cat ~/doc") == "v2"
    # Content alone, with write: allowed.
    alice.ok("acl grant ~/doc bob rwa")
    bob.ok(f"restore --at {then} /home/alice/doc")
    assert alice.ok("cat ~/doc") == "v1"
    assert json.loads(alice.ok("stat --json ~/doc"))["cdmi_owner"] == "alice"


@pytest.fixture(params=[memory_store, zeo_store], ids=["memory", "zeo"])
def elsewhere(request, tmp_path, registry) -> Iterator[tuple[Store, ShellDriver]]:
    """A store on memory:// (history while it runs) or ZEO, and its admin's shell."""
    with request.param(tmp_path) as store:
        store.bootstrap(admin_password="x")
        yield store, ShellDriver(store, registry, "admin")


def test_other_storages_restore_and_undo(elsewhere) -> None:
    store, admin = elsewhere
    admin.ok("put /z", b"one")
    then = tid(store)
    admin.ok("put /z", b"two")
    admin.ok(f"restore --at {then} /z")
    assert admin.ok("cat /z") == "one"
    admin.ok("set-meta /z a=1")
    admin.ok(f"undo {tid(store)}")
    assert "a=1" not in admin.ok("meta /z")


# -- undo ----------------------------------------------------------------------


def zodb_undo(store: Store, txn: str) -> None:
    """ZODB's own transactional undo of *txn* (raises ``UndoError`` when it cannot)."""
    # FileStorage's undo id is the tid in base64, not the tid.
    ids = [
        info["id"]
        for info in store.db.undoInfo(0, 1000)
        if base64.decodebytes(info["id"]).hex() == txn
    ]
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    try:
        store.db.undo(ids[0], manager.get())
        manager.commit()
    except BaseException:
        manager.abort()
        raise


def test_zodb_undo_fails_where_omsh_undo_works(store, admin, homes) -> None:
    """Why undo is not ZODB's: after later puts into the same container it cannot."""
    admin.ok("mkdir /u")
    admin.ok("put /u/target", b"t")
    put = tid(store)
    for number in range(10):
        admin.ok(f"put /u/later{number}", b"x")
    with pytest.raises(UndoError):
        zodb_undo(store, put)
    assert admin.ok(f"undo {put}") == f"undid {put}: restored 0 objects, removed 1\n"
    assert "target" not in admin.ok("ls /u").split()
    assert len(admin.ok("ls /u").split()) == 10
    assert admin.ok("check").endswith(" 0 problems\n")


def test_undo_a_set_meta_after_unrelated_writes(store, admin, homes) -> None:
    admin.ok("put /home/alice/f", b"f")
    admin.ok("set-meta /home/alice/f colour=red")
    set_meta = tid(store)
    admin.ok("put /home/bob/g", b"g")
    admin.ok("set-meta /home/bob/g shape=round")
    admin.ok("put /home/alice/f", b"new content")  # content, not metadata: not in the way
    with pytest.raises(UndoError):
        zodb_undo(store, set_meta)
    dry = admin.ok(f"undo --dry-run {set_meta}")
    assert dry.splitlines()[0] == "would restore /home/alice/f (metadata)"
    assert "colour" in admin.ok("meta /home/alice/f")
    admin.ok(f"undo {set_meta}")
    assert "colour" not in admin.ok("meta /home/alice/f")
    assert admin.ok("cat /home/alice/f") == "new content"
    assert admin.ok("query \"colour = 'red'\"") == ""
    assert json.loads(admin.ok("audit --json -n 1").splitlines()[-1])["action"] == "undo"


def test_undo_rm_r_recreates_the_subtree(store, admin, homes) -> None:
    admin.ok("mkdir -p /r/s")
    admin.ok("put /r/s/a", b"a")
    admin.ok("set-meta /r/s/a k=1")
    admin.ok("rm -r /r/s")
    removal = tid(store)
    admin.ok("put /r/other", b"o")
    out = admin.ok(f"undo {removal}")
    assert out == f"undid {removal}: restored 2 objects, removed 0\n"
    assert admin.ok("cat /r/s/a") == "a" and "k=1" in admin.ok("meta /r/s/a")
    assert admin.ok("check").endswith(" 0 problems\n")


def test_undo_refuses_what_changed_again_and_changes_nothing(store, admin, homes) -> None:
    admin.ok("put /c1", b"1")
    admin.ok("put /c2", b"2")
    both = tid(store)
    admin.ok("put /c2", b"again")
    status, _, err = admin(f"undo {both}")
    assert status == 1
    assert (
        err
        == f"omsh: undo: cannot undo {both}: /c2 changed again since (content); use restore --at\n"
    )
    assert admin.ok("cat /c1") == "1"
    admin.ok("mkdir /d")
    mkdir = tid(store)
    admin.ok("put /d/inside", b"i")
    status, _, err = admin(f"undo {mkdir}")
    assert status == 1 and "/d changed again since (children)" in err
    assert admin.ok("ls /").split().count("d/") == 1


def test_undo_refusals(store, admin, alice, homes) -> None:
    admin.ok("put /x", b"x")
    put = tid(store)
    status, _, err = alice(f"undo {put}")
    assert status == 4 and "administrators only" in err
    status, _, err = admin("undo 12345")
    assert status == 2 and err.count("\n") == 1
    status, _, err = admin("undo 00000000000000ff")
    assert status == 3 and "no such transaction" in err
    admin.ok("mv /x /y")
    move = tid(store)
    status, _, err = admin(f"undo {move}")
    assert status == 1 and "it moved /x to /y (use mv)" in err
    admin.ok("group add staff")
    status, _, err = admin(f"undo {tid(store)}")
    assert status == 1 and "changed no object in the tree" in err
    # The bootstrap transaction has nothing before it.
    bootstrap = min(info["tid"] for info in store.db.storage.history(b"\0" * 8, 1000))
    status, _, err = admin(f"undo {bootstrap.hex()}")
    assert status == 1 and "no longer kept" in err


def test_undo_older_than_the_pack_horizon(store, admin, homes) -> None:
    admin.ok("put /old", b"1")
    old = tid(store)
    admin.ok("put /old", b"2")
    store.db.pack()
    status, _, err = admin(f"undo {old}")
    assert status == 1
    assert (
        err
        == f"omsh: undo: cannot undo {old}: the state before it is no longer kept (packed away)\n"
    )


def test_help_says_what_undo_is(admin) -> None:
    text = admin.ok("undo --help")
    assert "not ZODB's transactional undo" in text and "Administrators only" in text
    text = admin.ok("restore --help")
    assert "owner is never changed" in text and "--dry-run" in text


def test_restore_r_is_all_or_nothing(store, alice, bob, homes) -> None:
    """Removing what was added since needs delete: refused, nothing is restored."""
    alice.ok("mkdir ~/proj")
    alice.ok("put ~/proj/keep", b"v1")
    alice.ok("acl grant ~/proj bob rw --inherit")
    then = tid(store)
    alice.ok("put ~/proj/keep", b"v2")
    alice.ok("put ~/proj/new", b"n")
    last = tid(store)
    status, _, err = bob(f"restore -r --at {then} /home/alice/proj")
    assert (status, err) == (4, "omsh: restore: /home/alice/proj/new: permission denied\n")
    status, _, err = bob(f"restore -r --dry-run --at {then} /home/alice/proj")
    assert status == 4
    assert tid(store) == last
    assert alice.ok("cat ~/proj/keep") == "v2" and alice.ok("cat ~/proj/new") == "n"
    # Without -r, only the object itself: allowed.
    bob.ok(f"restore --at {then} /home/alice/proj/keep")
    assert alice.ok("cat ~/proj/keep") == "v1"
