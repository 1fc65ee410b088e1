"""Opening stores by folder and by URI, first-start bootstrap, conflict retries."""

from __future__ import annotations

import functools
import os
import threading

import pytest
from ZODB.POSException import ConflictError

from omsh.store.acl import default_root_acl
from omsh.store.content import INLINE_LIMIT, ContentUpload
from omsh.store.database import CONFLICT_ATTEMPTS, ConflictPersists, Store
from omsh.store.model import StoreRoot
from omsh.store.principals import verify_password
from omsh.store.schema import SCHEMA_VERSION
from omsh.store.view import StoreView
from tests.conftest import zeo_store

BIG = bytes(range(256)) * (INLINE_LIMIT // 256 + 1)


def _store_at(path: str, upload: ContentUpload, root: StoreRoot) -> None:
    StoreView.for_user(root, "admin").store_data(path, upload)


def _write_and_read_back(store: Store) -> bytes:
    """Store small content (kept in the database) at /x and large (a blob) at /big.

    Both read back as stored; the small one is returned.
    """
    store.bootstrap(admin_password="pw")
    for path, data in (("/x", b"stored through a blob"), ("/big", BIG)):
        upload = ContentUpload(store.temporary_directory())
        upload.write(data)
        try:
            store.run(functools.partial(_store_at, path, upload))
        finally:
            upload.discard()

    def read(root) -> tuple[bytes, bytes, bool]:
        view = StoreView.for_user(root, "admin")
        small, big = (view.resolve(path).stored_content() for path in ("/x", "/big"))
        with small.open() as one, big.open() as other:
            return one.read(), other.read(), small.inline and not big.inline

    small, big, kinds_right = store.read(read)
    assert big == BIG and kinds_right
    return small


def test_data_folder_storage_survives_reopening(tmp_path):
    store = Store.open(data_dir=str(tmp_path))
    assert _write_and_read_back(store) == b"stored through a blob"
    store.close()
    reopened = Store.open(data_dir=str(tmp_path))
    assert reopened.read(lambda root: root.tree.get("x").size) == 21
    reopened.close()
    assert (tmp_path / "Data.fs").exists()
    assert (tmp_path / "blobs").is_dir()


def test_file_uri_gets_a_blob_directory(tmp_path):
    store = Store.open(uri=f"file://{tmp_path}/Data.fs")
    assert _write_and_read_back(store) == b"stored through a blob"
    store.close()
    assert (tmp_path / "blobs").is_dir()


def test_memory_uri_supports_blobs():
    store = Store.open(uri="memory://")
    try:
        assert _write_and_read_back(store) == b"stored through a blob"
    finally:
        store.close()


def test_zeo_uri(tmp_path):
    with zeo_store(tmp_path) as store:
        assert _write_and_read_back(store) == b"stored through a blob"


def test_bootstrap_creates_admin_once(tmp_path):
    store = Store.open(data_dir=str(tmp_path))
    generated = store.bootstrap()
    assert generated and len(generated) >= 16
    assert store.bootstrap(admin_password="other") is None  # existing store untouched

    def admin_hash(root) -> str:
        return root.principals.users["admin"].password_hash

    assert verify_password(store.read(admin_hash), generated)
    assert store.read(lambda root: root.principals.groups_of("admin")) == frozenset({"admins"})
    store.close()


def test_a_version_1_store_is_upgraded_when_opened(tmp_path):
    """A root from before the audit trail, the catalog and the root's ACL gets all three."""
    store = Store.open(data_dir=str(tmp_path))
    store.bootstrap(admin_password="pw")
    store.run(lambda root: StoreView.for_user(root, "admin").make_container("/kept"))

    def make_old(root) -> None:
        root.schema_version = 1
        root.tree.acl = ()
        del root.audit, root.catalog

    store.run(make_old)
    store.close()
    reopened = Store.open(data_dir=str(tmp_path))
    reopened.bootstrap()

    def upgraded(root) -> tuple[int, tuple, int, list[str]]:
        found = [root.catalog.object(docid).path for docid in root.catalog.all_docids()]
        return root.schema_version, root.tree.acl, len(root.audit), found

    version, acl, audited, indexed = reopened.read(upgraded)
    reopened.close()
    assert version == SCHEMA_VERSION
    assert acl == default_root_acl()
    assert audited == 0
    assert indexed == ["/kept"]


def test_conflicts_are_retried_then_reported(store):
    calls = []

    def flaky(root) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConflictError()
        return "done"

    assert store.run(flaky) == "done"
    assert len(calls) == 3

    def always(root) -> None:
        raise ConflictError()

    with pytest.raises(ConflictPersists) as raised:
        store.run(always)
    assert raised.value.exit_status == 5


def test_concurrent_creates_in_one_container_all_land(store):
    store.run(lambda root: StoreView.for_user(root, "admin").make_container("/busy"))
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for step in range(10):
                store.run(
                    lambda root, i=index, s=step: StoreView.for_user(root, "admin").make_container(
                        f"/busy/{i}-{s}"
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.read(lambda root: len(root.tree.get("busy"))) == 40
    assert CONFLICT_ATTEMPTS >= 3


def test_staged_uploads_left_by_a_stop_are_swept(tmp_path):
    store = Store.open(data_dir=str(tmp_path))
    try:
        leftover = ContentUpload(store.temporary_directory())
        leftover.write(b"half an upload" * INLINE_LIMIT)  # past the limit: a staged file
        leftover.finish()
        unrelated = os.path.join(store.temporary_directory(), "keep-me")
        open(unrelated, "w").close()
        assert store.sweep_staging() == 1
        assert not os.path.exists(leftover.path)
        assert os.path.exists(unrelated)
    finally:
        store.close()
