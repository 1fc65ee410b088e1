"""The one stager every upload goes through (omsh.store.staging), on its own.

``put`` drives it from a worker thread (:func:`stage_chunks`), CDMI and SFTP
from the event loop; what SFTP clients do to it (writes out of order, read
back, resizes) is also exercised through the SFTP handle in
test_sftp_server.py.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsh.errors import TransferAborted
from omsh.store import content, staging
from omsh.store.content import ContentUpload, StoredContent, read_span
from omsh.store.staging import Staging, StagingFailed, stage_chunks

BATCH = 64


@pytest.fixture(autouse=True)
def small_batches(monkeypatch) -> None:
    """Batches of 64 bytes: a few hundred bytes go through many of them."""
    monkeypatch.setattr(staging, "BATCH_BYTES", BATCH)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown()


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.startswith("upload-"))


def finished_bytes(upload: ContentUpload) -> bytes:
    """The staged bytes, checked against the size and hash the upload reports."""
    data = upload.staged_bytes()
    assert upload.size == len(data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    return data


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


DATA = bytes(range(256)) * 5 + b"tail"


# -- from a worker thread (put) ------------------------------------------------


@pytest.mark.parametrize("piece", [1, 7, BATCH, 1000, len(DATA)])
def test_stage_chunks_stages_and_hashes_any_split(tmp_path, piece) -> None:
    upload = stage_chunks(pieces(DATA, piece), str(tmp_path))
    try:
        assert finished_bytes(upload) == DATA
    finally:
        upload.discard()
    assert leftovers(tmp_path) == []


def test_an_empty_stream_is_an_empty_upload(tmp_path) -> None:
    upload = stage_chunks([], str(tmp_path))
    assert finished_bytes(upload) == b""
    upload.discard()


def test_a_small_upload_starts_no_threads(tmp_path, monkeypatch) -> None:
    """Values already in memory (CDMI) and short inputs are staged in the caller's thread."""
    started: list[object] = []
    monkeypatch.setattr(Staging, "_workers", lambda self: started.append(self))
    upload = stage_chunks([b"x" * (BATCH - 1)], str(tmp_path))
    assert finished_bytes(upload) == b"x" * (BATCH - 1)
    assert started == []
    upload.discard()


def test_a_stream_that_breaks_off_leaves_no_file(tmp_path, monkeypatch) -> None:
    """The client vanishes while a batch is being written: nothing stays behind."""
    release = threading.Event()
    store_bytes = ContentUpload.store_bytes

    def slow(self: ContentUpload, chunk: bytes) -> None:
        release.wait(5)
        store_bytes(self, chunk)

    monkeypatch.setattr(ContentUpload, "store_bytes", slow)

    def source() -> Iterator[bytes]:
        yield b"a" * BATCH  # handed to a worker, which waits
        threading.Timer(0.05, release.set).start()
        raise TransferAborted()

    with pytest.raises(TransferAborted):
        stage_chunks(source(), str(tmp_path))
    assert leftovers(tmp_path) == []


def test_memory_stays_at_about_two_batches(tmp_path, monkeypatch) -> None:
    """A slow disk holds the reader back: a 1 GiB put is never held in memory."""
    stored = [0]
    store_bytes = ContentUpload.store_bytes

    def slow(self: ContentUpload, chunk: bytes) -> None:
        threading.Event().wait(0.002)
        store_bytes(self, chunk)
        stored[0] += len(chunk)

    monkeypatch.setattr(ContentUpload, "store_bytes", slow)
    most = 0

    def source() -> Iterator[bytes]:
        nonlocal most
        for _ in range(40):
            most = max(most, sent[0] - stored[0])
            sent[0] += 16
            yield b"z" * 16

    sent = [0]
    upload = stage_chunks(source(), str(tmp_path))
    assert finished_bytes(upload) == b"z" * 640
    upload.discard()
    assert most <= 2 * BATCH + 16


def test_a_failed_batch_fails_the_upload(tmp_path, monkeypatch) -> None:
    def disk_full(self: ContentUpload, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentUpload, "store_bytes", disk_full)
    with pytest.raises(OSError) as caught:
        stage_chunks(pieces(DATA, BATCH), str(tmp_path))
    assert caught.value.errno == errno.ENOSPC
    assert leftovers(tmp_path) == []


# -- on the event loop (CDMI, SFTP) ----------------------------------------------


def test_feeding_a_stream_on_the_loop(tmp_path, executor) -> None:
    async def scenario() -> bytes:
        staged = Staging.create(str(tmp_path), executor)
        for piece in pieces(DATA, 10):
            await staged.feed(piece)
        data = finished_bytes(await staged.finish())
        staged.discard()
        return data

    assert asyncio.run(scenario()) == DATA
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("start", "body", "expected"),
    [
        (0, b"AB", b"AB23456789"),
        (4, b"XY", b"0123XY6789"),
        (8, b"XYZ", b"01234567XYZ"),
        (12, b"Z", b"0123456789\0\0Z"),
        (3, b"Q" * 200, b"012" + b"Q" * 200),
    ],
)
@pytest.mark.parametrize("inline", [False, True], ids=["blob-file", "inline"])
def test_a_ranged_update_keeps_the_old_bytes_around_it(
    tmp_path, executor, start, body, expected, inline
) -> None:
    """CDMI ``Content-Range`` and ``?value:A-B``: old head, the body, old tail.

    The old content is a blob file or bytes kept in the database alike.
    """
    old = tmp_path / "old"
    old.write_bytes(b"0123456789")
    base = StoredContent(10, data=b"0123456789") if inline else StoredContent(10, str(old))

    async def scenario() -> bytes:
        staged = Staging.create(str(tmp_path), executor, base=base)
        try:
            await staged.keep_old(start)
            for piece in pieces(body, 7):
                await staged.feed(piece)
            return finished_bytes(await staged.finish())
        finally:
            staged.discard()

    assert asyncio.run(scenario()) == expected
    assert leftovers(tmp_path) == []


def test_out_of_order_and_random_access_on_the_loop(tmp_path, executor) -> None:
    """Held writes fill in once their gap arrives; a rewrite turns to random access."""

    async def scenario() -> tuple[bytes, bool]:
        staged = Staging.create(str(tmp_path), executor)
        await staged.write(3, b"def")
        await staged.write(0, b"abc")
        assert not staged.random
        await staged.write(1, b"B")
        assert await staged.read(0, 6) == b"aBcdef"
        data = finished_bytes(await staged.finish())
        staged.discard()
        return data, staged.random

    assert asyncio.run(scenario()) == (b"aBcdef", True)


def test_after_a_failure_only_discarding_is_left(tmp_path, executor, monkeypatch) -> None:
    def disk_full(self: ContentUpload, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentUpload, "store_bytes", disk_full)

    async def scenario() -> None:
        staged = Staging.create(str(tmp_path), executor)
        await staged.feed(b"x" * BATCH)  # accepted; written behind
        with pytest.raises(OSError):
            await staged.feed(b"x" * BATCH)
        assert isinstance(staged.failed, OSError)
        for later in (staged.feed(b"y"), staged.read(0, 1), staged.finish()):
            with pytest.raises(StagingFailed):
                await later
        staged.discard()

    asyncio.run(scenario())
    assert leftovers(tmp_path) == []


def test_a_cancelled_request_discards_once_the_worker_is_done(
    tmp_path, executor, monkeypatch, tiny_inline_limit
):
    """A client gone mid-batch: the file is deleted after, not during, the write."""
    started, release = threading.Event(), threading.Event()
    store_bytes = ContentUpload.store_bytes

    def slow(self: ContentUpload, chunk: bytes) -> None:
        store_bytes(self, chunk)  # the staged file exists (past the inline limit)
        started.set()
        release.wait(5)

    monkeypatch.setattr(ContentUpload, "store_bytes", slow)

    async def scenario() -> None:
        staged = Staging.create(str(tmp_path), executor)
        await staged.feed(b"x" * BATCH)
        waiting = asyncio.ensure_future(staged.drain())
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        staged.discard()
        assert leftovers(tmp_path) != []  # still being written
        release.set()

    asyncio.run(scenario())
    executor.shutdown(wait=True)
    assert leftovers(tmp_path) == []


# -- the staged file -------------------------------------------------------------


def test_the_kernel_is_asked_to_write_back_as_a_stream_grows(
    tmp_path, monkeypatch, tiny_inline_limit
) -> None:
    monkeypatch.setattr(content, "WRITEBACK_BYTES", 100)
    hints: list[int] = []
    monkeypatch.setattr(ContentUpload, "start_writeback", lambda self: hints.append(self.size))
    upload = stage_chunks(pieces(DATA, 50), str(tmp_path))
    assert len(hints) == len(DATA) // 100
    upload.discard()


def test_read_span_streams_a_part_and_closes_the_file(tmp_path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(DATA)
    stream = path.open("rb")  # read_span closes it
    assert list(read_span(stream, 250, 20, 8)) == [DATA[250:258], DATA[258:266], DATA[266:270]]
    assert stream.closed
    assert b"".join(read_span(path.open("rb"), len(DATA) - 3, 100, 8)) == DATA[-3:]


def test_the_staged_file_lives_next_to_the_blobs(tmp_path) -> None:
    upload = stage_chunks([b"x" * (content.INLINE_LIMIT + 1)], str(tmp_path))
    assert upload.path is not None and os.path.dirname(upload.path) == str(tmp_path)
    upload.discard()
    assert os.listdir(tmp_path) == []


def test_small_content_never_touches_a_file(tmp_path) -> None:
    """Up to INLINE_LIMIT bytes stay in memory: no staged file is ever created."""
    upload = stage_chunks([b"x" * 1000] * (content.INLINE_LIMIT // 1000), str(tmp_path))
    assert upload.path is None and os.listdir(tmp_path) == []
    assert upload.staged_bytes() == b"x" * (content.INLINE_LIMIT // 1000 * 1000)
    upload.discard()


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(0, 40),
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 0), st.binary(max_size=15)),
            st.tuples(st.just("write_at"), st.integers(0, 50), st.binary(max_size=15)),
            st.tuples(st.just("resize"), st.integers(0, 50), st.just(b"")),
            st.tuples(st.just("read_at"), st.integers(0, 50), st.just(b"")),
        ),
        max_size=15,
    ),
)
def test_spooled_content_acts_as_a_file_across_the_spill(limit, operations) -> None:
    """In memory, spilled to a file, or spilling half way: the content a file would hold."""
    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as patch:
        patch.setattr(content, "INLINE_LIMIT", limit)
        upload = ContentUpload(directory)
        expected = bytearray()
        try:
            for kind, offset, data in operations:
                if kind == "append":
                    upload.write(data)
                    expected.extend(data)
                elif kind == "write_at":
                    upload.write_at(offset, data)
                    if data:  # as pwrite: writing nothing past the end extends nothing
                        expected.extend(bytes(max(0, offset - len(expected))))
                        expected[offset : offset + len(data)] = data
                elif kind == "resize":
                    upload.resize(offset)
                    del expected[offset:]
                    expected.extend(bytes(offset - len(expected)))
                else:
                    assert upload.read_at(offset, 7) == bytes(expected[offset : offset + 7])
            upload.finish(sync=False)
            assert upload.size == len(expected) and upload.staged_bytes() == bytes(expected)
            assert upload.sha256 == hashlib.sha256(expected).hexdigest()
            assert (upload.path is None) == (max_reached(operations) <= limit)
        finally:
            upload.discard()
        assert os.listdir(directory) == []


def max_reached(operations: list[tuple[str, int, bytes]]) -> int:
    """The largest size the content had on the way (what decides a spill)."""
    size = largest = 0
    for kind, offset, data in operations:
        if kind == "append":
            size += len(data)
        elif kind == "write_at" and data:
            size = max(size, offset + len(data))
        elif kind == "resize":
            size = offset
        largest = max(largest, size)
    return largest


# -- syncing: one round of concurrent fsync calls per group commit ------------------


@pytest.fixture
def tiny_inline_limit(monkeypatch) -> int:
    """Content of more than 4 bytes is a blob: a few bytes exercise the blob path."""
    monkeypatch.setattr(content, "INLINE_LIMIT", 4)
    return 4


def test_finishing_leaves_the_fsync_to_the_pool_and_sync_staged_waits_for_it(
    tmp_path, monkeypatch, tiny_inline_limit
) -> None:
    synced: list[int] = []
    release = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        release.wait(5)
        real_fsync(fd)
        synced.append(fd)

    staging.sync_staged()  # the pool is the process's: earlier tests' syncs are not ours
    monkeypatch.setattr(content.os, "fsync", slow_fsync)
    uploads = [stage_chunks([b"x" * 10], str(tmp_path)) for _ in range(3)]
    assert not synced and not any(upload.synced for upload in uploads)  # nobody waited
    release.set()
    assert staging.sync_staged() <= 3
    assert all(upload.synced for upload in uploads) and len(synced) == 3
    assert staging.sync_staged() == 0  # nothing left to wait for
    for upload in uploads:
        upload.discard()


def test_attaching_syncs_an_upload_nobody_synced(tmp_path, monkeypatch, tiny_inline_limit) -> None:
    """acknowledged = durable whatever path an upload takes into a transaction."""
    calls: list[int] = []
    monkeypatch.setattr(content.os, "fsync", calls.append)
    upload = ContentUpload(str(tmp_path))
    upload.write(b"abcdef")
    upload.finish(sync=False)
    assert not upload.synced and not calls

    class Blob:
        def consumeFile(self, path: str) -> None:
            assert upload.synced, "bytes must be on disk before the blob takes them"
            os.unlink(path)

    holder = Holder(Blob())
    upload.attach_to(holder)  # type: ignore[arg-type]
    assert upload.synced and len(calls) == 1 and holder.inline is None
    upload.attach_to(holder)  # type: ignore[arg-type]  # a conflict retry: not again
    assert len(calls) == 1
    upload.discard()


class Holder:
    """Stands in for a data object taking content (see ``HoldsContent``)."""

    def __init__(self, blob: object = None) -> None:
        self.blob = blob
        self.inline: bytes | None = None

    def keep_inline(self, data: bytes) -> None:
        self.inline = data

    def blob_for_writing(self) -> object:
        assert self.blob is not None, "small content must never reach a blob"
        return self.blob


@pytest.mark.parametrize("size", [0, 1, 3, 4])
def test_small_content_is_kept_inline_and_never_synced(
    tmp_path, monkeypatch, tiny_inline_limit, size
) -> None:
    """Up to the limit: no staged fsync, no pool work; the commit's fsync covers it."""
    calls: list[int] = []
    staging.sync_staged()  # earlier tests' syncs are not ours
    monkeypatch.setattr(content.os, "fsync", calls.append)
    upload = stage_chunks([b"z" * size], str(tmp_path))
    assert upload.inlined and staging.sync_staged() == 0
    holder = Holder()
    upload.attach_to(holder)  # type: ignore[arg-type]
    assert holder.inline == b"z" * size and not calls and not upload.synced
    upload.discard()


def test_one_byte_past_the_limit_is_a_synced_blob(tmp_path, tiny_inline_limit) -> None:
    staging.sync_staged()
    upload = stage_chunks([b"z" * (tiny_inline_limit + 1)], str(tmp_path))
    assert not upload.inlined and staging.sync_staged() == 1 and upload.synced
    upload.discard()


def test_a_discarded_upload_is_skipped(tmp_path) -> None:
    upload = stage_chunks([b"gone"], str(tmp_path))
    upload.discard()
    staging.sync_staged()  # no FileNotFoundError
    assert os.listdir(tmp_path) == []
