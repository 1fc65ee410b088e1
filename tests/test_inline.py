"""Small content kept in the database (issue 14): :data:`INLINE_LIMIT` and both kinds.

Content of at most ``INLINE_LIMIT`` bytes is an ``InlineContent`` record
(no blob file, no staged ``fsync``), larger content a blob file; objects
stored before (small blobs) keep working.  Every reader (``cat``,
``head``, ``sha256sum``, ``check``, ``cp``, ``restore``, ``--at``, pack)
serves both.  Over real clients in ``tests/test_inline_e2e.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.store import content
from omsh.store.content import INLINE_LIMIT, ContentUpload
from omsh.store.database import Store
from omsh.store.model import DataObject, StoreRoot
from omsh.store.view import StoreView
from tests.conftest import ShellDriver

SIZES = [0, 1, INLINE_LIMIT - 1, INLINE_LIMIT, INLINE_LIMIT + 1]


def blob_files(store: Store) -> list[Path]:
    """The committed blob files of *store* (a data folder)."""
    return sorted(Path(store.temporary_directory()).parent.rglob("*.blob"))


def stored(store: Store, path: str) -> DataObject:
    """The data object at *path*, read in a transaction that has ended (for its kind)."""
    return store.read(lambda root: StoreView.for_user(root, "admin").resolve(path))


def kind(store: Store, path: str) -> str:
    """``inline``, ``blob`` or ``empty``: where the content of *path* is kept."""

    def look(root: StoreRoot) -> str:
        obj = StoreView.for_user(root, "admin").resolve(path)
        assert isinstance(obj, DataObject)
        if obj.blob is not None:
            return "blob"
        return "inline" if obj.inline is not None else "empty"

    return store.read(look)


def payload(size: int) -> bytes:
    return bytes((index * 7 + 3) % 256 for index in range(size))


@pytest.mark.parametrize("size", SIZES)
def test_put_cat_head_and_sha256sum_round_trip_at_the_limit(
    store: Store, admin: ShellDriver, size: int
) -> None:
    data = payload(size)
    admin.ok("put /x", stdin=data)
    expected_kind = "empty" if size == 0 else "inline" if size <= INLINE_LIMIT else "blob"
    assert kind(store, "/x") == expected_kind
    assert len(blob_files(store)) == (1 if size > INLINE_LIMIT else 0)
    admin.ok("cat /x")
    assert bytes(admin.out.data) == data
    admin.ok("head -c 10 /x")
    assert bytes(admin.out.data) == data[:10]
    assert admin.ok("sha256sum /x").split()[0] == hashlib.sha256(data).hexdigest()
    assert admin.ok("md5sum /x").split()[0] == hashlib.md5(data).hexdigest()
    assert admin.ok("verify /x") == "OK /x\n"
    assert json.loads(admin.ok("stat --json /x"))["cdmi_size"] == size


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.integers(INLINE_LIMIT - 2, INLINE_LIMIT + 2).map(payload),
    ),
    chunk=st.integers(1, 70_000),
)
def test_any_content_reads_back_as_stored_whatever_its_kind(
    store: Store, data: bytes, chunk: int
) -> None:
    """Stored through a staged upload in any chunking, read back whole and in part."""
    upload = ContentUpload(store.temporary_directory())
    try:
        for start in range(0, len(data), chunk):
            upload.write(data[start : start + chunk])
        store.run(lambda root: StoreView.for_user(root, "admin").store_data("/h", upload))
    finally:
        upload.discard()

    def read(root: StoreRoot) -> tuple[bytes, bytes, str, bool]:
        obj = StoreView.for_user(root, "admin").resolve("/h")
        found = obj.stored_content()
        with found.open() as stream:
            whole = stream.read()
        return whole, found.read(3, 5), obj.sha256, found.inline

    whole, part, sha256, inline = store.read(read)
    assert (whole, part, sha256) == (data, data[3:8], hashlib.sha256(data).hexdigest())
    assert inline == (len(data) <= INLINE_LIMIT)


def test_a_metadata_edit_does_not_rewrite_the_bytes(store: Store, admin: ShellDriver) -> None:
    """The bytes are a record of their own: only the object's record changes."""
    admin.ok("put /m", stdin=b"some small content")
    before = stored(store, "/m").inline
    assert before is not None
    serial = before._p_serial
    admin.ok("set-meta /m colour=blue")
    after = stored(store, "/m").inline
    assert after is not None and after._p_oid == before._p_oid and after._p_serial == serial


def test_a_copy_shares_the_record_and_a_rewrite_of_either_leaves_the_other(
    store: Store, admin: ShellDriver
) -> None:
    admin.ok("put /a", stdin=b"shared bytes")
    admin.ok("cp /a /b")
    first, second = stored(store, "/a").inline, stored(store, "/b").inline
    assert first is not None and second is not None and first._p_oid == second._p_oid
    admin.ok("put /a", stdin=b"changed")
    assert admin.ok("cat /b") == "shared bytes" and admin.ok("cat /a") == "changed"
    assert blob_files(store) == []


def test_an_old_small_blob_stays_readable_and_becomes_inline_when_rewritten(
    store: Store, admin: ShellDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store from before inline content: its small objects are blobs."""
    monkeypatch.setattr(content, "INLINE_LIMIT", -1)
    admin.ok("put /old", stdin=b"from an old store")
    monkeypatch.undo()
    assert kind(store, "/old") == "blob"
    assert admin.ok("cat /old") == "from an old store"
    admin.ok("cp /old /copy")  # a copy of a blob shares the file
    assert kind(store, "/copy") == "blob" and admin.ok("cat /copy") == "from an old store"
    assert admin.ok("check").endswith("0 problems\n")
    admin.ok("put /old", stdin=b"new")
    assert kind(store, "/old") == "inline" and admin.ok("cat /old") == "new"
    admin.ok("put /copy", stdin=payload(INLINE_LIMIT + 1))
    assert kind(store, "/copy") == "blob"
    admin.ok("put /copy", stdin=b"small again")
    assert kind(store, "/copy") == "inline" and admin.ok("cat /copy") == "small again"


def test_history_at_and_restore_of_inline_content(store: Store, admin: ShellDriver) -> None:
    admin.ok("put /r", stdin=b"version one")
    then = store.db.lastTransaction().hex()
    admin.ok("put /r", stdin=b"version two")
    assert admin.ok(f"cat --at {then} /r") == "version one"
    assert admin.ok(f"restore --at {then} /r").startswith("restored 1 object")
    assert admin.ok("cat /r") == "version one" and kind(store, "/r") == "inline"
    admin.ok("rm /r")
    assert admin.ok(f"restore --at {then} /r").startswith("restored 1 object")
    assert admin.ok("cat /r") == "version one"
    assert admin.ok("sha256sum /r").split()[0] == hashlib.sha256(b"version one").hexdigest()
    assert blob_files(store) == []


def test_pack_keeps_the_current_inline_content(store: Store, admin: ShellDriver) -> None:
    for version in (b"zero", b"one", b"two"):
        admin.ok("put /p", stdin=version)
    admin.ok("cp /p /q")
    lines = admin.ok("pack --keep 0").splitlines()
    assert "blob files removed: 0 (0 B)" in lines
    assert admin.ok("cat /p") == "two" and admin.ok("cat /q") == "two"
    assert admin.ok("check").endswith("0 problems\n")


def test_check_and_verify_see_damaged_inline_content(store: Store, admin: ShellDriver) -> None:
    """Bytes changed behind the store's back (its recorded hash kept) are reported."""
    admin.ok("put /d", stdin=b"original")

    def damage(root: StoreRoot) -> None:
        obj = StoreView.for_user(root, "admin").resolve("/d")
        assert isinstance(obj, DataObject) and obj.inline is not None
        obj.inline.data = b"Original"

    store.run(damage)
    status, out, _ = admin("verify /d")
    assert (status, out) == (1, "FAILED /d\n")
    status, out, _ = admin("check")
    assert status != 0 and "/d" in out
