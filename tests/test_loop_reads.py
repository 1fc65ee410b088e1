"""The event loop's ZODB connection: only for local storages, current, read-only."""

from __future__ import annotations

import pytest
from transaction.interfaces import NoTransaction
from ZODB.DemoStorage import DemoStorage
from ZODB.POSException import StorageError

from omsh.store.database import Store
from omsh.store.loopreads import LoopReader, is_local
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView


def test_only_local_storages_are_read_on_the_loop(store):
    assert is_local(store.db.storage)  # FileStorage
    memory = Store.open(uri="memory://")
    try:
        assert is_local(memory.db.storage)  # MappingStorage under BlobStorage
    finally:
        memory.close()
    assert not is_local(DemoStorage())  # anything else (ZEO, RelStorage...) is not


def children(root: StoreRoot) -> list[str]:
    return list(root.tree.names())


def test_each_read_sees_every_commit_before_it(store):
    reader = LoopReader(store)
    try:
        before = reader.read(children)
        store.run(lambda root: StoreView.for_user(root, "admin").make_container("/new"))
        assert reader.read(children) == sorted([*before, "new"])
    finally:
        reader.close()


def test_nothing_can_be_changed_through_it(store):
    reader = LoopReader(store)

    def change(root: StoreRoot) -> None:
        root.tree.owner = "mallory"

    try:
        with pytest.raises((NoTransaction, StorageError)):
            reader.read(change)
        assert reader.read(lambda root: root.tree.owner) == "admin"
        assert store.read(lambda root: root.tree.owner) == "admin"
    finally:
        reader.close()
