"""Group commit of concurrent writes: one transaction for many, each write still its own."""

from __future__ import annotations

import asyncio
from typing import Any

from omsh.errors import PermissionDenied
from omsh.store.commits import GroupCommit
from omsh.store.database import Store
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView


def transactions(store: Store) -> int:
    return sum(1 for _ in store.db.storage.iterator())


def make(name: str):
    def work(root: StoreRoot) -> str:
        StoreView.for_user(root, "alice").make_container(f"/home/alice/{name}")
        return name

    return work


def refused(root: StoreRoot) -> None:
    StoreView.for_user(root, "bob").make_container("/home/alice/not-bobs")


def run_together(store: Store, *works: Any) -> list[Any]:
    """Queue *works* at once (so they form one batch) and collect the outcomes."""

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        group = GroupCommit(store, lambda work: loop.run_in_executor(None, work))
        return await asyncio.gather(*(group.run(work) for work in works), return_exceptions=True)

    return asyncio.run(main())


def names(store: Store) -> list[str]:
    return store.read(lambda root: list(root.tree.get("home").get("alice").names()))


def test_writes_queued_together_commit_in_one_transaction(store, homes):
    before = transactions(store)
    assert run_together(store, make("a"), make("b"), make("c")) == ["a", "b", "c"]
    assert transactions(store) == before + 1
    assert names(store) == ["a", "b", "c"]


def test_a_refused_write_does_not_take_the_others_with_it(store, homes):
    before = transactions(store)
    outcomes = run_together(store, make("a"), refused, make("b"))
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], PermissionDenied)
    assert names(store) == ["a", "b"]
    assert transactions(store) == before + 2  # the batch failed; each committed alone


def test_writes_in_a_batch_see_each_other_in_order(store, homes):
    outcomes = run_together(store, make("x"), make("x"))
    assert outcomes[0] == "x"
    assert "already exists" in str(outcomes[1])
    assert names(store) == ["x"]
