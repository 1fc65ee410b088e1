"""SFTP and SCP over the store: asyncssh's ``SFTPServer`` mapped onto StoreView.

``sftp`` and ``scp`` see the tree as a file system: containers are
directories, data objects regular files.  asyncssh serves legacy ``scp -t``
and ``scp -f`` through the same server object (``allow_scp``), and OpenSSH's
``scp`` speaks SFTP anyway, so this one module serves both.

* Every request is a short ZODB transaction run in the server's worker pool,
  never on the event loop, through a :class:`StoreView` built for the logged-in
  user, so the one access check decides here as in the shell.
* A download reads the committed blob file through a read-only descriptor,
  one request-sized piece at a time: an object is never held in memory.
* An upload streams into a :class:`ContentUpload` in the storage's temporary
  directory and becomes an object only when the client closes the file
  (:meth:`StoreView.store_data`).  A client that goes away first, or a write
  that failed, leaves no object, partial or whole.
* Paths are UTF-8; relative ones start at ``/``.  Names follow the store's
  rules (:mod:`omsh.store.names`).  Mode, owner and time changes are accepted
  and ignored (the store computes its system metadata itself), so
  ``scp -p`` works; a size change is refused.
* Store errors become SFTP status codes (:func:`sftp_error`) with the
  one-line message; anything unexpected is logged with its traceback and the
  client only learns that it was an internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from itertools import islice
from typing import Any, ParamSpec, TypeVar

import asyncssh
from asyncssh import (
    FILEXFER_TYPE_DIRECTORY,
    FILEXFER_TYPE_REGULAR,
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPAttrs,
    SFTPDirNotEmpty,
    SFTPError,
    SFTPFailure,
    SFTPFileAlreadyExists,
    SFTPFileIsADirectory,
    SFTPInvalidFilename,
    SFTPName,
    SFTPNoSuchFile,
    SFTPNotADirectory,
    SFTPOpUnsupported,
    SFTPPermissionDenied,
)

from omsh.errors import (
    AlreadyExists,
    InvalidName,
    IsAContainer,
    NotAContainer,
    NotEmpty,
    NotFound,
    OmshError,
    PermissionDenied,
)
from omsh.ssh.session import ServerContext
from omsh.store.access import Perm
from omsh.store.content import CHUNK_SIZE, ContentUpload
from omsh.store.database import ConflictPersists
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.names import normalize_path
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Names fetched per transaction when listing a container.
LISTING_PAGE = 512
#: Files one session may hold open at once (each costs a descriptor).
MAX_OPEN_HANDLES = 256
#: Upload bytes gathered on the event loop before a worker writes them.
WRITE_BATCH = 1024 * 1024
_SIX_MONTHS = 182 * 24 * 3600

# Most specific first: ConflictPersists is an AlreadyExists about no name.
_STATUS_FOR: tuple[tuple[type[OmshError], type[SFTPError]], ...] = (
    (ConflictPersists, SFTPFailure),
    (NotFound, SFTPNoSuchFile),
    (PermissionDenied, SFTPPermissionDenied),
    (AlreadyExists, SFTPFileAlreadyExists),
    (NotEmpty, SFTPDirNotEmpty),
    (NotAContainer, SFTPNotADirectory),
    (IsAContainer, SFTPFileIsADirectory),
    (InvalidName, SFTPInvalidFilename),
)


def sftp_error(exc: Exception) -> Exception:
    """What to raise to asyncssh for *exc*, which turns it into an SFTP status.

    SFTP errors pass through, and so do ``OSError`` (asyncssh maps errno to
    a status: a full disk is "no space").  An :class:`OmshError` becomes the
    matching status with its one-line message; asyncssh downgrades codes the
    client's protocol version lacks (v3 knows few) to ``FX_FAILURE``.
    Anything else is a bug: logged with its traceback, reported as an
    internal error without details.
    """
    if isinstance(exc, SFTPError | OSError):
        return exc
    if isinstance(exc, OmshError):
        for omsh_type, sftp_type in _STATUS_FOR:
            if isinstance(exc, omsh_type):
                return sftp_type(str(exc))
        return SFTPFailure(str(exc))
    log.error("SFTP request failed", exc_info=exc)
    return SFTPFailure("internal error (details are in the server log)")


def _reported(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Give every failure of an SFTP request the status :func:`sftp_error` chooses."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except Exception as exc:
            raise sftp_error(exc) from None

    return wrapper


def store_path(raw: bytes) -> str:
    """The absolute, normalized store path an SFTP client means by *raw*.

    Names that are not UTF-8 cannot be stored, so they are refused here with
    a printable message rather than carried further as surrogates.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        printable = raw.decode("utf-8", "backslashreplace")
        raise InvalidName("a path must be UTF-8", subject=printable) from None
    return normalize_path(text, "/")


def attributes(view: StoreView, obj: StoreObject) -> SFTPAttrs:
    """File attributes for *obj*: a directory or a regular file.

    The permission bits tell the caller whether *they* may write it; the
    size of a container is its number of children, as ``cdmi_size`` says.
    """
    writable = view.can(obj, Perm.WRITE)
    if isinstance(obj, Container):
        kind, size = FILEXFER_TYPE_DIRECTORY, len(obj)
        mode = stat.S_IFDIR | (0o755 if writable else 0o555)
    else:
        assert isinstance(obj, DataObject)
        kind, size = FILEXFER_TYPE_REGULAR, obj.size
        mode = stat.S_IFREG | (0o644 if writable else 0o444)
    return SFTPAttrs(
        type=kind, size=size, permissions=mode, atime=int(obj.atime), mtime=int(obj.mtime)
    )


def long_name(filename: bytes, attrs: SFTPAttrs, owner: str, now: float | None = None) -> bytes:
    """The ``ls -l`` line SFTPv3 clients print as it is, with the owner's name."""
    now = time.time() if now is None else now
    mtime = attrs.mtime or 0
    layout = "%b %e %H:%M" if now - _SIX_MONTHS < mtime <= now + 3600 else "%b %e  %Y"
    links = 2 if attrs.type == FILEXFER_TYPE_DIRECTORY else 1
    when = time.strftime(layout, time.localtime(mtime))
    mode = stat.filemode(attrs.permissions or 0)
    return f"{mode} {links:>4} {owner:<8} {'-':<8} {attrs.size:>8} {when} ".encode() + filename


def directory_entry(view: StoreView, name: str, obj: StoreObject) -> SFTPName:
    """One ``readdir`` entry: the name, its attributes and its ``ls -l`` line."""
    filename = name.encode("utf-8")
    attrs = attributes(view, obj)
    return SFTPName(filename, long_name(filename, attrs, obj.owner), attrs)


def client_gone(channel: asyncssh.SSHServerChannel) -> bool:
    """Whether the client has stopped sending: EOF received, or channel closing.

    asyncssh calls ``SFTPServer.close`` both for a client's close request
    and, when the session ends, for every file still open; the first must
    commit an upload, the second discard it, and no public API tells them
    apart.  A client that closes a file waits for the answer before it sends
    EOF (OpenSSH ``sftp`` and ``scp``, asyncssh and paramiko all do), while
    one killed mid-transfer has sent EOF or dropped the connection.  The
    receiving state is private to asyncssh, so it is read defensively and a
    test checks that it is still there.
    """
    if channel.is_closing():
        return True
    return getattr(channel, "_recv_state", "open") != "open"


def _refuse_resize(attrs: SFTPAttrs, size: int | None, subject: str) -> None:
    """Stored content is replaced whole, never resized in place."""
    if attrs.size is not None and attrs.size != size:
        raise SFTPOpUnsupported(f"{subject}: the size of a stored object cannot be changed")


class OpenFile:
    """A handle asyncssh keeps for an open file and passes back to us."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def size(self) -> int:
        raise NotImplementedError

    def attributes(self) -> SFTPAttrs:
        raise NotImplementedError

    async def drain(self) -> None:
        """Wait for writing behind to finish (see :class:`WriteFile`)."""

    def release(self) -> None:
        """Free what the handle holds (descriptors, temporary files); idempotent.

        Called in a worker, after :meth:`drain`.
        """

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Just enough of ``seek`` for asyncssh's ``ranges`` extension: no holes."""
        if whence == os.SEEK_DATA:
            if offset >= self.size:
                raise OSError(errno.ENXIO, "no data past the end")
            return offset
        if whence == os.SEEK_HOLE:
            return max(offset, self.size)
        raise OSError(errno.EINVAL, "only SEEK_DATA and SEEK_HOLE are supported")


class ReadFile(OpenFile):
    """A committed blob open read-only; attributes as they were at open."""

    def __init__(self, path: str, fd: int, attrs: SFTPAttrs) -> None:
        super().__init__(path)
        self.fd = fd
        self._attrs = attrs

    @property
    def size(self) -> int:
        return self._attrs.size or 0

    def attributes(self) -> SFTPAttrs:
        return self._attrs

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class WriteFile(OpenFile):
    """An upload on its way to becoming the object at *path*.

    Writes must come in order, as every common client sends them.  Opened
    without truncation on an existing object (``reput``, or a client that
    overwrites in place), the old bytes the client does not overwrite are
    kept: a write that starts past the end of the upload is preceded by the
    old content up to that point, and completing appends the old tail.

    Writes are accepted on the event loop and written behind: a batch of
    about :data:`WRITE_BATCH` bytes goes to a worker, to be written and
    hashed, while the next one gathers.  The session thus keeps reading from
    the network (asyncssh keeps granting window to a channel whose reader
    stalls, so a slow reader makes it buffer far more than the window), and
    disk, hash and network work in parallel.  A failed batch is reported by a
    later write or by the close, and nothing is stored.
    """

    def __init__(
        self, path: str, upload: ContentUpload, base_fd: int, base_size: int, *, append: bool
    ) -> None:
        super().__init__(path)
        self.upload = upload
        self.base_fd = base_fd
        self.base_size = base_size
        self.append = append
        self.opened = int(time.time())
        #: Where the client's writes have got to (event loop).
        self.accepted = 0
        #: The first write error; the upload can then only be discarded.
        self.failed: Exception | None = None
        # Data to write, or an offset up to which the old content is kept.
        self._batch: list[bytes | int] = []
        self._batched = 0
        self._flushing: asyncio.Future[None] | None = None

    @property
    def size(self) -> int:
        return max(self.accepted, self.base_size)

    def attributes(self) -> SFTPAttrs:
        return SFTPAttrs(
            type=FILEXFER_TYPE_REGULAR,
            size=self.size,
            permissions=stat.S_IFREG | 0o644,
            atime=self.opened,
            mtime=self.opened,
        )

    def accept(self, offset: int, data: bytes) -> bool:
        """Queue *data* for *offset*; True when a batch is due (event loop)."""
        if self.append:
            offset = self.size
        if offset != self.accepted:
            if offset < self.accepted or offset > self.base_size:
                raise SFTPOpUnsupported(f"{self.path}: only sequential writes are supported")
            self._batch.append(offset)
        self._batch.append(data)
        self._batched += len(data)
        self.accepted = offset + len(data)
        return self._batched >= WRITE_BATCH

    async def flush(self, executor: Executor) -> None:
        """Hand the queued batch to a worker once the previous one is written."""
        await self.drain()
        batch, self._batch, self._batched = self._batch, [], 0
        if batch:
            loop = asyncio.get_running_loop()
            self._flushing = loop.run_in_executor(executor, self._write, batch)

    async def drain(self) -> None:
        """Wait for the batch being written; its failure is kept and raised."""
        flushing, self._flushing = self._flushing, None
        if flushing is None:
            return
        try:
            await flushing
        except Exception as exc:
            self.failed = sftp_error(exc)
            raise self.failed from None

    def truncate(self, size: int) -> None:
        """End the content at *size*, as OpenSSH ``scp`` does after writing in place.

        Only old bytes not yet overwritten can be cut; growing is refused.
        """
        if not self.accepted <= size <= self.size:
            raise SFTPOpUnsupported(f"{self.path}: cannot change the size to {size} here")
        self.base_size = size

    def complete(self) -> None:
        """Write the rest, keeping the old tail not overwritten (worker, after drain)."""
        batch, self._batch, self._batched = self._batch, [], 0
        self._write([*batch, self.base_size])

    def _write(self, batch: list[bytes | int]) -> None:
        for item in batch:
            if isinstance(item, int):
                self._keep_base(item)
            else:
                self.upload.write(item)

    def _keep_base(self, end: int) -> None:
        """Copy the old content from where the upload stands up to *end*."""
        while self.upload.size < end:
            wanted = min(CHUNK_SIZE, end - self.upload.size)
            chunk = os.pread(self.base_fd, wanted, self.upload.size)
            if not chunk:
                raise OmshError("stored content is shorter than recorded", subject=self.path)
            self.upload.write(chunk)

    def release(self) -> None:
        if self.base_fd >= 0:
            os.close(self.base_fd)
            self.base_fd = -1
        self.upload.discard()


class StoreSFTPServer(asyncssh.SFTPServer):
    """One SFTP or SCP session of one user over the store."""

    def __init__(self, chan: asyncssh.SSHServerChannel, context: ServerContext) -> None:
        super().__init__(chan)
        self._context = context
        self._user: str = chan.get_extra_info("username")
        self._open: set[OpenFile] = set()

    # -- plumbing --------------------------------------------------------

    async def _offload(self, func: Callable[..., T], *args: Any) -> T:
        """Run blocking *func* in the worker pool; the event loop stays free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._context.executor, functools.partial(func, *args))

    def _transact(self, work: Callable[[StoreView], T], *, write: bool = False) -> T:
        """*work* on a fresh view for our user in one transaction (worker thread).

        *work* must return plain data, never a persistent object.
        """
        user = self._user
        return self._context.store.run(
            lambda root: work(StoreView.for_user(root, user)), write=write
        )

    async def _view(self, work: Callable[[StoreView], T], *, write: bool = False) -> T:
        return await self._offload(functools.partial(self._transact, work, write=write))

    async def _release(self, handle: OpenFile) -> None:
        """Free *handle*; never raises, as asyncssh may be cleaning up."""
        self._open.discard(handle)
        with contextlib.suppress(Exception):
            await handle.drain()  # a failure was, or no longer needs to be, reported
        try:
            await self._offload(handle.release)
        except Exception:
            log.exception("releasing %s failed", handle.path)

    # -- paths and attributes --------------------------------------------

    @_reported
    async def realpath(self, path: bytes) -> bytes:
        return store_path(path).encode("utf-8")

    @_reported
    async def stat(self, path: bytes) -> SFTPAttrs:
        target = store_path(path)

        def look(view: StoreView) -> SFTPAttrs:
            obj = view.resolve(target)
            view.require(obj, Perm.READ_METADATA, target)
            return attributes(view, obj)

        return await self._view(look)

    lstat = stat  # there are no symbolic links

    @_reported
    async def fstat(self, file_obj: object) -> SFTPAttrs:
        return _handle(file_obj).attributes()

    @_reported
    async def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        """Accept and ignore mode, owner and times; refuse a size change."""
        target = store_path(path)

        def look(view: StoreView) -> int | None:
            obj = view.resolve(target)
            view.require(obj, Perm.READ_METADATA, target)
            return obj.size if isinstance(obj, DataObject) else None

        _refuse_resize(attrs, await self._view(look), target)

    lsetstat = setstat

    @_reported
    async def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        """Like :meth:`setstat`, but an upload may be cut short (``scp`` does)."""
        handle = _handle(file_obj)
        if isinstance(handle, WriteFile) and attrs.size is not None:
            handle.truncate(attrs.size)
        _refuse_resize(attrs, handle.size, handle.path)

    @_reported
    async def statvfs(self, path: bytes) -> os.statvfs_result:
        """The file system that holds the blobs (``df`` in ``sftp``)."""
        target = store_path(path)
        await self._view(lambda view: bool(view.resolve(target)))
        return await self._offload(os.statvfs, self._context.store.temporary_directory())

    @_reported
    async def fstatvfs(self, file_obj: object) -> os.statvfs_result:
        return await self._offload(os.statvfs, self._context.store.temporary_directory())

    # -- listing ---------------------------------------------------------

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        """``.``, ``..`` and the visible children, a page per transaction."""
        try:
            target = store_path(path)
            for entry in await self._view(functools.partial(_listing_head, target)):
                yield entry
            after: str | None = None
            while True:
                page = await self._view(functools.partial(_listing_page, target, after))
                for entry in page:
                    yield entry
                if len(page) < LISTING_PAGE:
                    return
                after = page[-1].filename.decode("utf-8")
        except Exception as exc:
            raise sftp_error(exc) from None

    # -- content ---------------------------------------------------------

    @_reported
    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> OpenFile:
        """A read handle on the committed content, or a write handle on an upload."""
        target = store_path(path)
        if len(self._open) >= MAX_OPEN_HANDLES:
            raise SFTPFailure(f"{target}: too many open files")
        if pflags & FXF_WRITE and pflags & FXF_READ:
            raise SFTPOpUnsupported(f"{target}: open for reading or for writing, not both")
        if pflags & FXF_WRITE:
            handle: OpenFile = await self._offload(self._open_for_writing, target, pflags)
        else:
            handle = await self._offload(self._open_for_reading, target)
        self._open.add(handle)
        return handle

    @_reported
    async def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: SFTPAttrs
    ) -> OpenFile:
        raise SFTPOpUnsupported("SFTP versions 5 and 6 are not offered")

    def _open_for_reading(self, target: str) -> ReadFile:
        def look(view: StoreView) -> tuple[str, SFTPAttrs, str, bool]:
            obj, filename = view.open_content(view.resolve(target), target)
            attrs = attributes(view, obj)
            # Changed in this read transaction only to learn whether it is due.
            return filename, attrs, obj.object_id, view.note_access(obj)

        filename, attrs, object_id, atime_due = self._transact(look)
        try:
            fd = os.open(filename, os.O_RDONLY)
        except OSError as exc:
            log.error("blob of %s cannot be opened: %s", target, exc)
            raise OmshError(
                f"content cannot be read ({exc.strerror}); run 'omsh check'", subject=target
            ) from None
        if atime_due:
            # Best effort: a read must not fail because its atime could not move.
            with contextlib.suppress(OmshError):
                self._transact(
                    lambda view: view.note_access(view.by_object_id(object_id)), write=True
                )
        return ReadFile(target, fd, attrs)

    def _open_for_writing(self, target: str, pflags: int) -> WriteFile:
        def check(view: StoreView) -> tuple[str | None, int]:
            existing = view.lookup(target)
            if existing is None and not pflags & FXF_CREAT:
                raise NotFound(target)
            if existing is not None and pflags & FXF_EXCL:
                raise AlreadyExists(target)
            view.check_can_store(target)
            if isinstance(existing, DataObject) and existing.size and not pflags & FXF_TRUNC:
                return existing.committed_path(), existing.size
            return None, 0

        base, base_size = self._transact(check)
        base_fd = os.open(base, os.O_RDONLY) if base else -1
        upload = ContentUpload(self._context.store.temporary_directory())
        return WriteFile(target, upload, base_fd, base_size, append=bool(pflags & FXF_APPEND))

    @_reported
    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        handle = _handle(file_obj)
        if not isinstance(handle, ReadFile):
            raise SFTPFailure(f"{handle.path}: not open for reading")
        return await self._offload(handle.read, offset, size)

    @_reported
    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        handle = _handle(file_obj)
        if not isinstance(handle, WriteFile):
            raise SFTPFailure(f"{handle.path}: not open for writing")
        if handle.failed is not None:
            raise handle.failed
        try:
            if handle.accept(offset, data):
                await handle.flush(self._context.executor)
        except Exception as exc:
            handle.failed = sftp_error(exc)
            raise handle.failed from None
        return len(data)

    async def close(self, file_obj: object) -> None:
        """Close a handle; closing an upload the client finished stores it.

        asyncssh also calls this for files left open when a session ends;
        their uploads are discarded and nothing is raised.
        """
        handle = _handle(file_obj)
        if isinstance(handle, WriteFile) and not client_gone(self.channel):
            await self._commit(handle)
            return
        if isinstance(handle, WriteFile):
            log.info("upload of %s by %s abandoned: nothing stored", handle.path, self._user)
        await self._release(handle)

    @_reported
    async def _commit(self, handle: WriteFile) -> None:
        try:
            with contextlib.suppress(Exception):
                await handle.drain()  # a failure is kept in handle.failed
            if handle.failed is not None:
                log.info("upload of %s failed: %s", handle.path, handle.failed)
                raise SFTPFailure(f"{handle.path}: a write failed; nothing was stored")
            await self._offload(self._store_upload, handle)
        finally:
            await self._release(handle)

    def _store_upload(self, handle: WriteFile) -> None:
        handle.complete()

        def store(view: StoreView) -> None:
            view.store_data(handle.path, handle.upload)

        self._transact(store, write=True)

    @_reported
    async def fsync(self, file_obj: object) -> None:
        """Accepted: an upload becomes durable, all at once, when it is closed."""
        await _handle(file_obj).drain()

    # -- shaping the tree ------------------------------------------------

    @_reported
    async def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        target = store_path(path)

        def make(view: StoreView) -> None:
            view.make_container(target)

        await self._view(make, write=True)

    @_reported
    async def rmdir(self, path: bytes) -> None:
        """Remove an empty container."""
        await self._remove(store_path(path), Container)

    @_reported
    async def remove(self, path: bytes) -> None:
        """Remove a data object (never a container)."""
        await self._remove(store_path(path), DataObject)

    async def _remove(self, target: str, kind: type[StoreObject]) -> None:
        def remove(view: StoreView) -> None:
            view.resolve_as(kind, target)
            view.remove(target)

        await self._view(remove, write=True)

    @_reported
    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """SFTP's own rename: the new path must not exist."""
        await self._rename(store_path(oldpath), store_path(newpath), replace=False)

    @_reported
    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """``posix-rename@openssh.com``: replace a data object or an empty container."""
        await self._rename(store_path(oldpath), store_path(newpath), replace=True)

    async def _rename(self, source: str, target: str, *, replace: bool) -> None:
        def move(view: StoreView) -> None:
            moving = view.resolve(source)
            existing = view.lookup(target)
            if existing is moving and replace:
                return
            if existing is not None and not replace:
                raise AlreadyExists(target)
            if isinstance(existing, Container):
                # rename(2) onto a directory: only a directory, only if empty.
                if not isinstance(moving, Container):
                    raise IsAContainer(target)
                view.remove(target)
            view.move(source, target)

        await self._view(move, write=True)

    @_reported
    async def readlink(self, path: bytes) -> bytes:
        raise SFTPOpUnsupported("the store has no symbolic links")

    @_reported
    async def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPOpUnsupported("the store has no symbolic links")

    @_reported
    async def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPOpUnsupported("the store has no hard links (use cp in the shell)")

    async def exit(self) -> None:
        """The session ended: discard uploads, close files left open, report 0.

        asyncssh closes an SFTP channel without an exit status, which
        OpenSSH's ``ssh`` reports as 255 and ``scp`` then as a failure; the
        status is sent here (a no-op after legacy SCP, which sends its own).
        """
        for handle in list(self._open):
            await self._release(handle)
        with contextlib.suppress(OSError, asyncssh.Error):
            self.channel.exit(0)


def _handle(file_obj: object) -> OpenFile:
    if not isinstance(file_obj, OpenFile):
        raise SFTPFailure("invalid handle")
    return file_obj


def _listing_head(target: str, view: StoreView) -> list[SFTPName]:
    """``.`` and ``..`` of the container at *target*, checked for listing."""
    container = view.resolve_as(Container, target)
    view.require(container, Perm.READ, target)
    parent = container.__parent__ or container
    return [directory_entry(view, ".", container), directory_entry(view, "..", parent)]


def _listing_page(target: str, after: str | None, view: StoreView) -> list[SFTPName]:
    """The next visible children of *target* whose names sort after *after*."""
    container = view.resolve_as(Container, target)
    children = view.children(container, target, after=after)
    return [directory_entry(view, name, child) for name, child in islice(children, LISTING_PAGE)]


def sftp_factory(context: ServerContext) -> Callable[[asyncssh.SSHServerChannel], StoreSFTPServer]:
    """The ``sftp_factory`` for :func:`~omsh.ssh.server.start_ssh_server`."""
    return functools.partial(StoreSFTPServer, context=context)
