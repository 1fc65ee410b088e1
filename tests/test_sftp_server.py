"""The SFTP server object against a real store, without a network.

Requests are made by calling :class:`StoreSFTPServer` the way asyncssh's
packet handler does; a stand-in channel says whether the client is still
there.  The end-to-end behaviour with OpenSSH clients is in test_sftp.py.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import pytest
from asyncssh import (
    FX_FAILURE,
    FX_FILE_ALREADY_EXISTS,
    FX_NO_SUCH_FILE,
    FX_OP_UNSUPPORTED,
    FX_PERMISSION_DENIED,
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPAttrs,
    SFTPError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omsh.errors import AlreadyExists, InvalidName, NotFound, OmshError, PermissionDenied
from omsh.ssh import sftp, sftp_files
from omsh.ssh.context import ServerContext
from omsh.ssh.sftp import (
    StoreSFTPServer,
    client_gone,
    long_name,
    sftp_error,
    store_path,
)
from omsh.ssh.sftp_files import ReadFile, WriteFile
from omsh.store import staging
from omsh.store.acl import READ_WORD, AceType, with_entry
from omsh.store.content import ContentUpload, StoredContent
from omsh.store.database import ConflictPersists, Store
from omsh.store.model import DataObject
from omsh.store.staging import Staging
from omsh.store.view import StoreView

NEW_FILE = FXF_WRITE | FXF_CREAT | FXF_TRUNC


class FakeChannel:
    """What StoreSFTPServer asks of an asyncssh server channel."""

    def __init__(self, user: str) -> None:
        self.user = user
        self._recv_state = "open"
        self.exit_status: int | None = None

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.user if name == "username" else default

    def is_closing(self) -> bool:
        return self.exit_status is not None

    def exit(self, status: int) -> None:
        self.exit_status = status

    def hang_up(self) -> None:
        """The client sent EOF, as a killed ``sftp`` does through its ssh."""
        self._recv_state = "eof"


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown()


@pytest.fixture
def session(store, homes, executor):
    """Returns a function making an SFTP session for a user."""
    context = ServerContext(store=store, registry=None, authenticator=None, executor=executor)

    def make(user: str = "alice") -> tuple[StoreSFTPServer, FakeChannel]:
        channel = FakeChannel(user)
        return StoreSFTPServer(channel, context), channel  # type: ignore[arg-type]

    yield make
    context.close()


def share_home_with(store: Store, owner: str, reader: str) -> None:
    """Let *reader* read everything in *owner*'s home: a fresh store is private."""

    def grant(root) -> None:
        view = StoreView.for_user(root, owner)
        home = view.resolve(f"/home/{owner}")
        readable = with_entry(home.acl, AceType.ALLOW, reader, READ_WORD, inherit=True)
        view.replace_acl(home, home.path, readable, action="test")

    store.run(grant)


async def drain(entries) -> None:
    async for _ in entries:
        pass


def test_relative_paths_and_realpath_start_at_the_home(store, session):
    alice, _ = session("alice")
    admin, _ = session("admin")

    async def scenario() -> None:
        assert await alice.realpath(b".") == b"/home/alice"
        assert await alice.realpath(b"docs/../x") == b"/home/alice/x"
        await upload(alice, "notes", b"relative")
        assert await admin.realpath(b".") == b"/"  # no home: the root, as before

    run(scenario())
    assert content(store, "/home/alice/notes") == b"relative"


def test_others_see_nothing_of_a_private_home(store, session):
    alice, _ = session("alice")
    bob, _ = session("bob")

    async def scenario() -> None:
        await upload(alice, "/home/alice/mine", b"alice's")
        for attempt in (
            bob.stat(b"/home/alice/mine"),
            bob.open(b"/home/alice/mine", FXF_READ, SFTPAttrs()),
            bob.stat(b"/home/alice/nothing"),
            drain(bob.scandir(b"/home/alice")),
            drain(bob.scandir(b"/home")),
            drain(bob.scandir(b"/")),
        ):
            with pytest.raises(SFTPError) as caught:
                await attempt
            assert caught.value.code == FX_PERMISSION_DENIED

    run(scenario())


def run(coroutine):
    return asyncio.run(coroutine)


def content(store: Store, path: str) -> bytes | None:
    """The committed bytes at *path*, or None if there is no object."""

    def look(root) -> bytes | None:
        obj = StoreView.for_user(root, "admin").lookup(path)
        return obj.stored_content().read(0, obj.size) if isinstance(obj, DataObject) else None

    return store.read(look)


async def upload(server: StoreSFTPServer, path: str, *chunks: bytes, flags: int = NEW_FILE) -> None:
    handle = await server.open(path.encode(), flags, SFTPAttrs())
    offset = 0
    for chunk in chunks:
        await server.write(handle, offset, chunk)
        offset += len(chunk)
    await server.close(handle)


def mtime(store: Store, path: str) -> float:
    return store.read(lambda root: StoreView.for_user(root, "admin").resolve(path).mtime)


def staged(store: Store) -> list[Path]:
    return list(Path(store.temporary_directory()).glob("upload-*"))


def assert_nothing_stored(store: Store, path: str) -> None:
    """No object at *path*, and no staged upload left behind."""
    assert content(store, path) is None
    assert not staged(store)


# -- pure helpers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "/"),
        (b".", "/"),
        (b"photos/a b.txt", "/photos/a b.txt"),
        (b"/a/../../b/./c/", "/b/c"),
        ("/été/日本".encode(), "/été/日本"),
    ],
)
def test_store_path_is_absolute_and_normalized(raw, expected):
    assert store_path(raw) == expected


@pytest.mark.parametrize("raw", [b"/bad\xff", b"/nul\x00byte", b"/" + b"x" * 256])
def test_store_path_refuses_unstorable_names_printably(raw):
    with pytest.raises(InvalidName) as caught:
        store_path(raw)
    str(caught.value).encode("utf-8")  # the message can go on the wire


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (NotFound("/a"), FX_NO_SUCH_FILE, "/a: not found"),
        (PermissionDenied("/a"), FX_PERMISSION_DENIED, "/a: permission denied"),
        (AlreadyExists("/a"), FX_FILE_ALREADY_EXISTS, "/a: already exists"),
        (ConflictPersists(), FX_FAILURE, "concurrent update conflict; try again"),
        (OmshError("odd", subject="/a"), FX_FAILURE, "/a: odd"),
    ],
)
def test_store_errors_become_sftp_statuses(error, code, reason):
    mapped = sftp_error(error)
    assert isinstance(mapped, SFTPError)
    assert (mapped.code, mapped.reason) == (code, reason)


def test_unexpected_errors_are_logged_not_shown(caplog):
    with caplog.at_level(logging.ERROR, logger="omsh.ssh.sftp"):
        mapped = sftp_error(KeyError("secret internals"))
    assert isinstance(mapped, SFTPError)
    assert mapped.code == FX_FAILURE
    assert "secret" not in mapped.reason
    assert "secret internals" in caplog.text


def test_os_errors_pass_through_for_asyncssh_to_map():
    error = OSError(28, "No space left on device")
    assert sftp_error(error) is error


def test_long_name_looks_like_ls():
    attrs = SFTPAttrs(type=2, size=42, permissions=stat.S_IFDIR | 0o755, mtime=0, atime=0)
    line = long_name("été".encode(), attrs, "alice", now=3600.0)
    assert line.startswith(b"drwxr-xr-x    2 alice    -              42 ")
    assert line.endswith(" été".encode())


def test_client_gone_reads_the_channel_state():
    channel = FakeChannel("alice")
    assert not client_gone(channel)  # type: ignore[arg-type]
    channel.hang_up()
    assert client_gone(channel)  # type: ignore[arg-type]
    closing = FakeChannel("alice")
    closing.exit(0)
    assert client_gone(closing)  # type: ignore[arg-type]


def test_asyncssh_channels_still_keep_the_receive_state():
    """client_gone relies on this private attribute; an upgrade must not lose it."""
    import inspect

    from asyncssh.channel import SSHChannel

    assert "self._recv_state" in inspect.getsource(SSHChannel)


# -- write handles --------------------------------------------------------


@pytest.fixture(params=["blob-file", "inline"])
def base(tmp_path, request: pytest.FixtureRequest) -> StoredContent:
    """Old content b'0123456789': a committed blob file, or kept in the database."""
    if request.param == "inline":
        return StoredContent(10, data=b"0123456789")
    path = tmp_path / "old"
    path.write_bytes(b"0123456789")
    return StoredContent(10, filename=str(path))


def write_file(
    tmp_path: Path, executor: Executor, base: StoredContent | None = None, *, append: bool = False
) -> WriteFile:
    staging = Staging(
        ContentUpload(str(tmp_path)),
        executor,
        base=base.open() if base is not None else None,
        base_size=base.size if base is not None else 0,
    )
    return WriteFile("/x", staging, append=append)


def written(handle: WriteFile) -> bytes:
    """Complete *handle* and return its staged bytes, checking the hash it reports."""

    async def complete() -> None:
        await handle.complete()

    run(complete())
    handle.upload.finish()
    data = handle.upload.staged_bytes()
    assert handle.upload.size == len(data)
    assert handle.upload.sha256 == hashlib.sha256(data).hexdigest()
    return data


def writes(handle: WriteFile, *pieces: tuple[int, bytes]) -> None:
    async def send() -> None:
        for offset, data in pieces:
            await handle.write(offset, data)

    run(send())


def test_overwriting_in_place_keeps_the_old_tail(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (0, b"ab"))
    assert written(handle) == b"ab23456789"


def test_resuming_keeps_the_old_head(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (10, b"XY"))
    assert handle.size == 12
    assert written(handle) == b"0123456789XY"


def test_appending_ignores_the_offset(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base, append=True)
    writes(handle, (0, b"XY"))
    assert written(handle) == b"0123456789XY"


def test_truncating_cuts_the_old_tail(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (0, b"ab"))
    run(handle.resize(4))
    assert not handle.random  # scp's truncate after writing in place stays in order
    assert written(handle) == b"ab23"


def test_writes_ahead_of_order_wait_for_the_gap(tmp_path, executor):
    """rclone (pkg/sftp) sends up to 64 writes at once; they arrive in any order."""
    handle = write_file(tmp_path, executor)
    writes(handle, (6, b"ghi"), (3, b"def"), (0, b"abc"))
    assert not handle.random
    assert handle.size == 9
    assert written(handle) == b"abcdefghi"


def test_a_gap_past_the_end_reads_as_zeros(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (12, b"Z"))
    assert written(handle) == b"0123456789\0\0Z"


def test_too_much_ahead_of_order_turns_to_random_access(tmp_path, executor, monkeypatch):
    monkeypatch.setattr(staging, "REORDER_LIMIT", 4)
    handle = write_file(tmp_path, executor)
    writes(handle, (4, b"ef"), (6, b"ghij"), (0, b"abcd"))
    assert handle.random
    assert written(handle) == b"abcdefghij"


def test_rewriting_reading_and_growing_turn_to_random_access(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (0, b"ab"), (1, b"X"))
    assert handle.random
    assert run(handle.read(0, 4)) == b"aX23"
    run(handle.resize(12))
    assert handle.size == 12
    assert written(handle) == b"aX23456789\0\0"


def test_release_is_idempotent_and_removes_the_staging_file(tmp_path, executor, base):
    handle = write_file(tmp_path, executor, base)
    writes(handle, (0, b"ab"))
    handle.release()
    handle.release()
    assert not list(tmp_path.glob("upload-*"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.binary(max_size=40),
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(0, 60), st.binary(min_size=1, max_size=12)),
            st.tuples(st.just("resize"), st.integers(0, 60), st.just(b"")),
            st.tuples(st.just("read"), st.integers(0, 60), st.just(b"")),
        ),
        max_size=12,
    ),
    truncate=st.booleans(),
    inline=st.booleans(),
)
def test_any_sequence_of_requests_ends_as_a_file_would(
    tmp_path, executor, monkeypatch, old, operations, truncate, inline
):
    """Whatever order, overlap, reads and resizes: the content a POSIX file would hold.

    The old content is a blob file or kept in the database (*inline*) alike.
    """
    monkeypatch.setattr(staging, "BATCH_BYTES", 8)
    monkeypatch.setattr(staging, "REORDER_LIMIT", 20)
    source = tmp_path / f"old-{len(list(tmp_path.iterdir()))}"
    source.write_bytes(old)
    stored = StoredContent(len(old), data=old) if inline else StoredContent(len(old), str(source))
    expected = bytearray(b"" if truncate else old)
    handle = write_file(tmp_path, executor, None if truncate else stored)

    async def apply() -> None:
        for kind, offset, data in operations:
            if kind == "write":
                await handle.write(offset, data)
                if offset > len(expected):
                    expected.extend(bytes(offset - len(expected)))
                expected[offset : offset + len(data)] = data
            elif kind == "resize":
                await handle.resize(offset)
                del expected[offset:]
                expected.extend(bytes(offset - len(expected)))
            else:
                assert await handle.read(offset, 8) == bytes(expected[offset : offset + 8])
            assert handle.size == len(expected)

    try:
        run(apply())
        assert written(handle) == bytes(expected)
    finally:
        handle.release()  # closes the old content's stream it was given


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(0, 5000),
    requests=st.lists(st.tuples(st.integers(0, 6000), st.integers(1, 700)), max_size=30),
    inline=st.booleans(),
)
def test_reads_through_the_read_ahead_are_what_pread_gives(
    tmp_path, executor, monkeypatch, size, requests, inline
):
    """A blob file through the read-ahead, or content kept in the database (*inline*)."""
    monkeypatch.setattr(sftp_files, "READ_AHEAD", 1024)
    data = os.urandom(size)
    path = tmp_path / f"blob-{size}-{len(requests)}"
    path.write_bytes(data)
    if inline:
        handle = ReadFile("/x", -1, SFTPAttrs(size=size), data=data)
    else:
        handle = ReadFile("/x", os.open(path, os.O_RDONLY), SFTPAttrs(size=size))
    # Sequential runs as clients send them, then whatever hypothesis adds.
    pattern = [(offset, 512) for offset in range(0, size + 512, 512)] + requests

    async def read_all() -> None:
        for offset, length in pattern:
            assert await handle.read(offset, length, executor) == data[offset : offset + length]
        await handle.drain()

    try:
        run(read_all())
    finally:
        handle.release()


# -- sessions -------------------------------------------------------------


@pytest.mark.parametrize("batch", [staging.BATCH_BYTES, 1000])
def test_upload_is_stored_on_close_and_read_back(store, session, monkeypatch, batch):
    monkeypatch.setattr(staging, "BATCH_BYTES", batch)  # small: many batches written behind
    server, _ = session()
    payload = bytes(range(256)) * 1000

    async def scenario() -> tuple[bytes, SFTPAttrs]:
        await upload(server, "/home/alice/data.bin", payload[:1000], payload[1000:])
        handle = await server.open(b"/home/alice/data.bin", FXF_READ, SFTPAttrs())
        assert isinstance(handle, ReadFile)
        pieces, offset = [], 0
        while piece := await server.read(handle, offset, 4096):
            pieces.append(piece)
            offset += len(piece)
        attrs = await server.fstat(handle)
        await server.close(handle)
        return b"".join(pieces), attrs

    data, attrs = run(scenario())
    assert data == payload
    assert attrs.size == len(payload)
    assert stat.S_ISREG(attrs.permissions)
    assert content(store, "/home/alice/data.bin") == payload
    assert not staged(store)


def test_a_file_being_written_is_seen_by_its_session_only(store, session):
    """sshfs stats a file right after creating it; sshd shows it with its size so far."""
    server, _ = session()
    other, _ = session()

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/slow.bin", NEW_FILE, SFTPAttrs(mtime=1_000_000))
        await server.write(handle, 0, b"partial")
        assert content(store, "/home/alice/slow.bin") is None
        for look in (server.stat, server.lstat):
            attrs = await look(b"/home/alice/slow.bin")
            assert (attrs.size, attrs.mtime) == (7, 1_000_000)
            assert stat.S_ISREG(attrs.permissions)
        listed = {
            entry.filename: entry.attrs.size async for entry in server.scandir(b"/home/alice")
        }
        assert listed[b"slow.bin"] == 7
        reader = await server.open(b"/home/alice/slow.bin", FXF_READ, SFTPAttrs())
        assert await server.read(reader, 0, 100) == b"partial"
        await server.close(reader)
        with pytest.raises(SFTPError) as caught:
            await other.stat(b"/home/alice/slow.bin")
        assert caught.value.code == FX_NO_SUCH_FILE
        await server.close(handle)

    run(scenario())
    assert content(store, "/home/alice/slow.bin") == b"partial"
    assert mtime(store, "/home/alice/slow.bin") == 1_000_000


def test_times_set_by_the_client_are_kept(store, session):
    """``sftp put -p``, ``scp -p``, rclone and lftp set the mtime; sync tools compare it."""
    server, _ = session()

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/p.txt", NEW_FILE, SFTPAttrs())
        await server.write(handle, 0, b"x")
        await server.fsetstat(handle, SFTPAttrs(atime=1_200_000_000, mtime=1_300_000_000))
        await server.close(handle)
        assert (await server.stat(b"/home/alice/p.txt")).mtime == 1_300_000_000
        await server.setstat(b"/home/alice/p.txt", SFTPAttrs(atime=5, mtime=1_400_000_000))
        await server.setstat(b"/home/alice/p.txt", SFTPAttrs(permissions=0o600))  # answered

    run(scenario())
    assert mtime(store, "/home/alice/p.txt") == 1_400_000_000


def test_truncating_a_path_stores_a_new_version(store, session):
    server, _ = session()

    async def scenario() -> None:
        await upload(server, "/home/alice/t.txt", b"hello world")
        await server.setstat(b"/home/alice/t.txt", SFTPAttrs(size=5))
        assert (await server.stat(b"/home/alice/t.txt")).size == 5

    run(scenario())
    assert content(store, "/home/alice/t.txt") == b"hello"
    assert not staged(store)


def test_a_file_renamed_or_removed_while_open(store, session):
    """Editors and sshfs rename or unlink a file before closing it."""
    server, _ = session()

    async def scenario() -> None:
        renamed = await server.open(b"/home/alice/tmp1", NEW_FILE, SFTPAttrs())
        await server.write(renamed, 0, b"kept")
        await server.posix_rename(b"/home/alice/tmp1", b"/home/alice/final")
        assert (await server.stat(b"/home/alice/final")).size == 4
        await server.close(renamed)
        removed = await server.open(b"/home/alice/tmp2", NEW_FILE, SFTPAttrs())
        await server.write(removed, 0, b"gone")
        await server.remove(b"/home/alice/tmp2")
        await server.close(removed)

    run(scenario())
    assert content(store, "/home/alice/final") == b"kept"
    assert_nothing_stored(store, "/home/alice/tmp1")
    assert_nothing_stored(store, "/home/alice/tmp2")


def test_client_that_hangs_up_leaves_no_object(store, session):
    server, channel = session()

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/cut.bin", NEW_FILE, SFTPAttrs())
        await server.write(handle, 0, b"x" * 100_000)
        channel.hang_up()
        await server.close(handle)  # asyncssh cleaning up: must not raise
        await server.exit()

    run(scenario())
    assert_nothing_stored(store, "/home/alice/cut.bin")
    assert channel.exit_status == 0


def test_exit_discards_uploads_never_closed(store, session):
    server, _ = session()

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/left.bin", NEW_FILE, SFTPAttrs())
        await server.write(handle, 0, b"abc")
        await server.exit()

    run(scenario())
    assert_nothing_stored(store, "/home/alice/left.bin")


def test_failed_write_means_nothing_is_stored(store, session, monkeypatch):
    server, _ = session()

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentUpload, "write_at", disk_full)

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/holes.bin", NEW_FILE, SFTPAttrs())
        await server.write(handle, 0, b"abc")
        with pytest.raises(OSError):  # asyncssh answers it as "no space"
            await server.write(handle, 1, b"def")  # a rewrite: random access, which fails
        with pytest.raises(SFTPError):
            await server.write(handle, 3, b"def")  # stays failed
        with pytest.raises(SFTPError) as caught:
            await server.close(handle)
        assert "nothing was stored" in caught.value.reason

    run(scenario())
    assert_nothing_stored(store, "/home/alice/holes.bin")


def test_a_failed_batch_fails_the_upload(store, session, monkeypatch):
    monkeypatch.setattr(staging, "BATCH_BYTES", 1000)

    def disk_full(self, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentUpload, "store_bytes", disk_full)
    server, _ = session()

    async def scenario() -> None:
        handle = await server.open(b"/home/alice/full.bin", NEW_FILE, SFTPAttrs())
        await server.write(handle, 0, b"x" * 1000)  # accepted; written behind
        with pytest.raises(OSError) as caught:  # asyncssh maps it to "no space"
            await server.write(handle, 1000, b"x" * 1000)
        assert caught.value.errno == errno.ENOSPC
        with pytest.raises(SFTPError) as closed:
            await server.close(handle)
        assert "nothing was stored" in closed.value.reason

    run(scenario())
    assert_nothing_stored(store, "/home/alice/full.bin")


def test_open_flags(store, session):
    server, _ = session()

    async def scenario() -> None:
        await upload(server, "/home/alice/f", b"old content")
        with pytest.raises(SFTPError) as caught:
            await server.open(b"/home/alice/f", NEW_FILE | FXF_EXCL, SFTPAttrs())
        assert caught.value.code == FX_FILE_ALREADY_EXISTS
        with pytest.raises(SFTPError) as caught:
            await server.open(b"/home/alice/none", FXF_WRITE, SFTPAttrs())
        assert caught.value.code == FX_NO_SUCH_FILE
        both = await server.open(b"/home/alice/f", FXF_READ | FXF_WRITE, SFTPAttrs())
        assert await server.read(both, 0, 3) == b"old"  # mkstemp and sshfs open both ways
        await server.write(both, 0, b"OLD")
        assert await server.read(both, 0, 100) == b"OLD content"
        await server.close(both)
        await upload(server, "/home/alice/f", b"NEW", flags=FXF_WRITE)
        assert content(store, "/home/alice/f") == b"NEW content"
        await upload(server, "/home/alice/f", b"!", flags=FXF_WRITE | FXF_APPEND)

    run(scenario())
    assert content(store, "/home/alice/f") == b"NEW content!"


def test_permissions_come_from_the_store(store, session):
    alice, _ = session("alice")
    bob, _ = session("bob")
    share_home_with(store, "alice", "bob")

    async def scenario() -> None:
        await upload(alice, "/home/alice/mine", b"alice's")
        for attempt in (
            bob.open(b"/home/alice/theirs", NEW_FILE, SFTPAttrs()),
            bob.open(b"/home/alice/mine", NEW_FILE, SFTPAttrs()),
            bob.mkdir(b"/home/alice/sub", SFTPAttrs()),
            bob.remove(b"/home/alice/mine"),
            bob.posix_rename(b"/home/alice/mine", b"/home/bob/mine"),
        ):
            with pytest.raises(SFTPError) as caught:
                await attempt
            assert caught.value.code == FX_PERMISSION_DENIED
        # Read-only for others: they may read, and see that they cannot write.
        handle = await bob.open(b"/home/alice/mine", FXF_READ, SFTPAttrs())
        assert await bob.read(handle, 0, 100) == b"alice's"
        await bob.close(handle)
        assert (await bob.stat(b"/home/alice/mine")).permissions & 0o777 == 0o444
        assert (await alice.stat(b"/home/alice/mine")).permissions & 0o777 == 0o644

    run(scenario())
    assert content(store, "/home/alice/mine") == b"alice's"


def test_tree_operations(store, session):
    server, _ = session()

    async def scenario() -> None:
        await server.mkdir(b"/home/alice/d", SFTPAttrs())
        await upload(server, "/home/alice/d/a", b"a")
        await upload(server, "/home/alice/b", b"b")
        with pytest.raises(SFTPError):
            await server.rmdir(b"/home/alice/d")  # not empty
        with pytest.raises(SFTPError):
            await server.remove(b"/home/alice/d")  # a container
        with pytest.raises(SFTPError) as caught:
            await server.rename(b"/home/alice/b", b"/home/alice/d/a")
        assert caught.value.code == FX_FILE_ALREADY_EXISTS
        await server.posix_rename(b"/home/alice/b", b"/home/alice/d/a")
        await server.posix_rename(b"/home/alice/d/a", b"/home/alice/d/a")
        await server.rename(b"/home/alice/d/a", b"/home/alice/c")
        await server.rmdir(b"/home/alice/d")
        await server.setstat(b"/home/alice/c", SFTPAttrs(permissions=0o600, mtime=0, atime=0))
        await server.setstat(b"/home/alice/c", SFTPAttrs(size=3))  # truncate(1) grows too
        names = [entry.filename async for entry in server.scandir(b"/home/alice")]
        assert names == [b".", b"..", b"c"]

    run(scenario())
    assert content(store, "/home/alice/c") == b"b\0\0"


def test_posix_rename_replaces_only_empty_containers_with_containers(store, session):
    server, _ = session()

    async def scenario() -> None:
        for path in (b"/home/alice/src", b"/home/alice/empty", b"/home/alice/full"):
            await server.mkdir(path, SFTPAttrs())
        await upload(server, "/home/alice/full/x", b"x")
        await upload(server, "/home/alice/file", b"f")
        with pytest.raises(SFTPError):
            await server.posix_rename(b"/home/alice/src", b"/home/alice/full")
        with pytest.raises(SFTPError):
            await server.posix_rename(b"/home/alice/file", b"/home/alice/empty")
        await server.posix_rename(b"/home/alice/src", b"/home/alice/empty")
        with pytest.raises(SFTPError) as caught:
            await server.stat(b"/home/alice/src")
        assert caught.value.code == FX_NO_SUCH_FILE

    run(scenario())


def test_listing_is_paged(store, session, monkeypatch):
    monkeypatch.setattr(sftp, "LISTING_PAGE", 2)
    server, _ = session()
    names = [f"n{index}".encode() for index in range(5)]

    async def scenario() -> list[bytes]:
        for name in names:
            await server.mkdir(b"/home/alice/" + name, SFTPAttrs())
        return [entry.filename async for entry in server.scandir(b"/home/alice")]

    assert run(scenario()) == [b".", b"..", *names]


def test_listing_a_missing_or_plain_path_fails(store, session):
    server, _ = session()

    async def scenario(path: bytes) -> None:
        async for _ in server.scandir(path):
            pass

    run(upload(server, "/home/alice/plain", b""))
    for path in (b"/home/alice/none", b"/home/alice/plain"):
        with pytest.raises(SFTPError):
            run(scenario(path))


def test_links_are_refused(session):
    server, _ = session()
    for attempt in (
        server.readlink(b"/home"),
        server.symlink(b"/home", b"/home/alice/l"),
        server.link(b"/home", b"/home/alice/l"),
    ):
        with pytest.raises(SFTPError) as caught:
            run(attempt)
        assert caught.value.code == FX_OP_UNSUPPORTED


def test_open_files_are_capped(store, session, monkeypatch):
    monkeypatch.setattr(sftp, "MAX_OPEN_HANDLES", 2)
    server, _ = session()

    async def scenario() -> None:
        await upload(server, "/home/alice/f", b"f")
        handles = [await server.open(b"/home/alice/f", FXF_READ, SFTPAttrs()) for _ in range(2)]
        with pytest.raises(SFTPError):
            await server.open(b"/home/alice/f", FXF_READ, SFTPAttrs())
        await server.close(handles.pop())
        await server.close(await server.open(b"/home/alice/f", FXF_READ, SFTPAttrs()))
        await server.exit()

    run(scenario())
