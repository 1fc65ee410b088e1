"""Group commit of concurrent writes: one transaction for many, each write still its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from typing import Any

from omsh.errors import PermissionDenied
from omsh.store import content
from omsh.store.commits import GroupCommit, blocking_group, commit_batch
from omsh.store.content import INLINE_LIMIT
from omsh.store.database import Store
from omsh.store.model import StoreRoot
from omsh.store.staging import stage_chunks
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


# -- put's side: threads, no event loop --------------------------------------------


def test_threads_queued_during_a_commit_go_together_in_the_next(store, homes):
    """Eight concurrent puts: the first commits alone, the seven queued meanwhile in one."""
    group = blocking_group(store)
    assert blocking_group(store) is group
    first_running, others_queued = threading.Event(), threading.Event()

    def first(root: StoreRoot) -> str:
        first_running.set()
        assert others_queued.wait(10)
        return make("first")(root)

    before = transactions(store)
    outcomes: dict[str, object] = {}

    def write(name: str, work: Any) -> None:
        try:
            outcomes[name] = group.run(work)
        except Exception as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=write, args=("first", first))]
    threads[0].start()
    assert first_running.wait(10)
    for n in range(7):
        work = refused if n == 3 else make(f"t{n}")
        threads.append(threading.Thread(target=write, args=(f"t{n}", work)))
        threads[-1].start()
    while len(group._queue) < 7:
        time.sleep(0.001)
    others_queued.set()
    for thread in threads:
        thread.join(10)
    assert outcomes["first"] == "first"
    assert isinstance(outcomes["t3"], PermissionDenied)  # in its own thread only
    assert all(outcomes[f"t{n}"] == f"t{n}" for n in range(7) if n != 3)
    assert names(store) == sorted(["first"] + [f"t{n}" for n in range(7) if n != 3])
    # the first alone; the batch of seven failed (t3), so its six committed one by one
    assert transactions(store) == before + 1 + 6


def test_a_batch_is_on_disk_before_its_transaction_commits(store, homes, monkeypatch, blobs_only):
    """commit_batch waits for the staged files' fsync before any write runs."""
    released = threading.Event()
    real_fsync = os.fsync

    def held_fsync(fd: int) -> None:
        assert released.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(content.os, "fsync", held_fsync)
    upload = stage_chunks([b"payload"], store.temporary_directory())
    seen: list[bool] = []

    def store_it(root: StoreRoot) -> None:
        seen.append(upload.synced)
        StoreView.for_user(root, "alice").store_data("/home/alice/p", upload)

    threading.Timer(0.05, released.set).start()
    try:
        assert commit_batch(store, [store_it, make("q")]) == [(True, None), (True, "q")]
    finally:
        upload.discard()
    assert seen == [True]


def test_a_batch_of_small_writes_syncs_no_staged_file(store, homes, monkeypatch):
    """Small content goes into the transaction: its commit's fsync is the only one."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # every os.fsync of the process (ZODB holds its own)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(content.os, "fsync", fsync)
    uploads = [stage_chunks([b"small %d" % n], store.temporary_directory()) for n in range(3)]

    def writer(n: int):
        def store_it(root: StoreRoot) -> str:
            StoreView.for_user(root, "alice").store_data(f"/home/alice/s{n}", uploads[n])
            return f"s{n}"

        return store_it

    try:
        assert commit_batch(store, [writer(n) for n in range(3)]) == [
            (True, f"s{n}") for n in range(3)
        ]
    finally:
        for upload in uploads:
            upload.discard()
    assert not any(upload.synced for upload in uploads)
    assert [path for path in synced if "upload-" in path] == []
    read = store.read(lambda root: root.tree.get("home").get("alice").get("s2").inline.data)
    assert read == b"small 2"


# -- end to end: concurrent `put`s through OpenSSH, then kill -9 ----------------------


def test_concurrent_puts_acknowledged_survive_kill_9(tmp_path):
    """Eight `ssh host put` at once (the server admits ten unauthenticated
    connections per address) share transactions; what was acknowledged is there
    after the server is killed with SIGKILL right after the last answer.

    Their 4 KiB are kept in the database (no blob file, no staged ``fsync``):
    the commit's own ``fsync`` is what makes them durable.  One large object
    beside them is a blob file, synced before its commit.
    """
    from tests.e2e import OmshServer

    server = OmshServer(tmp_path / "srv").start()
    try:
        assert server.ssh("mkdir /many").status == 0
        contents = {f"o{n:02d}": os.urandom(4096) for n in range(7)}
        contents["large"] = os.urandom(INLINE_LIMIT + 1)
        argv = server.ssh_argv()  # once: each call rewrites the known_hosts file
        uploads = {
            name: subprocess.Popen(
                [*argv, f"put /many/{name}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name in contents
        }
        for name, upload in uploads.items():
            _, err = upload.communicate(contents[name], timeout=60)
            assert upload.returncode == 0, err  # acknowledged
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server.process = None
        server.start()
        for name, data in contents.items():
            assert server.ssh(f"cat /many/{name}").stdout == data
        blobs = [path.read_bytes() for path in (server.data / "blobs").rglob("*.blob")]
        assert blobs == [contents["large"]]
        assert server.ssh("query --count --in /many \"type = 'object'\"").out.strip() == "8"
        assert "0 problems" in server.ssh("check").out
    finally:
        server.stop()
