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
  Small content kept in the database (at most
  :data:`~omsh.store.content.INLINE_LIMIT` bytes) is answered from its bytes.
* An upload is staged (:mod:`omsh.ssh.sftp_files`) and becomes an object
  only when the client closes the file (:meth:`StoreView.store_data`).  A
  client that goes away first, or a write that failed, leaves no object,
  partial or whole.  Until then this session sees the file as sshd would
  show one being written: ``stat``, ``readdir`` and ``open`` find it, with
  its size so far.  Writes may come in any order and the file may be read
  back or resized, so sshfs, rclone and editors work.
* Paths are UTF-8; relative ones (and ``realpath(".")``, which OpenSSH's
  ``sftp`` shows as ``pwd``) start at the user's home, ``/home/USER``, if it
  exists, else at ``/``.  Names follow the store's rules
  (:mod:`omsh.store.names`).  Times set by the client are kept
  (``cdmi_mtime``: ``sftp put -p``, ``scp -p``, rclone and lftp compare
  them); mode and owner changes are accepted and change nothing, since the
  permission bits shown say what the caller may do.
* Store errors become SFTP status codes (:func:`sftp_error`) with the
  one-line message; anything unexpected is logged with its traceback and the
  client only learns that it was an internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import islice
from typing import Any, ParamSpec, TypeVar, cast

import asyncssh
from asyncssh import (
    FILEXFER_TYPE_DIRECTORY,
    FILEXFER_TYPE_REGULAR,
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
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
    SFTPVFSAttrs,
)

from omsh import errors
from omsh.errors import AlreadyExists, InvalidName, IsAContainer, NotFound, OmshError
from omsh.ssh.context import ServerContext
from omsh.ssh.sftp_files import OpenFile, ReadFile, WriteFile
from omsh.ssh.sftp_wire import tolerate_padded_writes
from omsh.store.admin import start_container
from omsh.store.content import StoredContent
from omsh.store.database import ConflictPersists
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.names import MAX_NAME_BYTES, normalize_path, parent_and_name
from omsh.store.staging import Staging
from omsh.store.usage import StoreFigures, store_figures
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Names fetched per transaction when listing a container.
LISTING_PAGE = 512
#: Files one session may hold open at once (each costs a descriptor).
MAX_OPEN_HANDLES = 256
_SIX_MONTHS = 182 * 24 * 3600

# Most specific first: ConflictPersists is an AlreadyExists about no name.
_STATUS_FOR: tuple[tuple[type[OmshError], Callable[[str], SFTPError]], ...] = (
    (ConflictPersists, SFTPFailure),
    (errors.NotFound, SFTPNoSuchFile),
    (errors.PermissionDenied, SFTPPermissionDenied),
    (errors.AlreadyExists, SFTPFileAlreadyExists),
    (errors.NotEmpty, SFTPDirNotEmpty),
    (errors.NotAContainer, SFTPNotADirectory),
    (errors.IsAContainer, SFTPFileIsADirectory),
    (errors.InvalidName, SFTPInvalidFilename),
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


def store_path(raw: bytes, start: str = "/") -> str:
    """The absolute, normalized store path an SFTP client means by *raw*.

    A relative *raw* starts at *start* (the session's home, or ``/``).

    Names that are not UTF-8 cannot be stored, so they are refused here with
    a printable message rather than carried further as surrogates.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        printable = raw.decode("utf-8", "backslashreplace")
        raise InvalidName("a path must be UTF-8", subject=printable) from None
    return normalize_path(text, start)


def attributes(view: StoreView, obj: StoreObject) -> SFTPAttrs:
    """File attributes for *obj*: a directory or a regular file.

    The permission bits tell the caller whether *they* may write it; the
    size of a container is its number of children, as ``cdmi_size`` says.
    """
    writable = view.can_write(obj)
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


def named(name: str, attrs: SFTPAttrs, owner: str) -> SFTPName:
    """One ``readdir`` entry: the name, its attributes and its ``ls -l`` line."""
    filename = name.encode("utf-8")
    return SFTPName(filename, long_name(filename, attrs, owner), attrs)


def directory_entry(view: StoreView, name: str, obj: StoreObject) -> SFTPName:
    """The ``readdir`` entry of a stored object."""
    return named(name, attributes(view, obj), obj.owner)


#: The block size ``statvfs`` reports: sizes in it are rounded up to 4 KiB.
VFS_BLOCK = 4096
#: ``statvfs`` flag: no set-user-ID files (OpenSSH's ``SSH2_FXE_STATVFS_ST_NOSUID``).
VFS_NOSUID = 0x2


def vfs_attributes(figures: StoreFigures) -> SFTPVFSAttrs:
    """The store's figures as ``statvfs@openssh.com`` answers them, consistent with ``df``.

    Used is the bytes of content (rounded up to a block), free is the space
    left where content goes, total their sum; files are the store's objects
    and containers, plus the files that may still be made.  Nothing is
    reserved for root, so free and available are the same.
    """
    used = -(-figures.used // VFS_BLOCK)
    free = figures.available // VFS_BLOCK
    entries = figures.objects + figures.containers
    return SFTPVFSAttrs(
        bsize=VFS_BLOCK,
        frsize=VFS_BLOCK,
        blocks=used + free,
        bfree=free,
        bavail=free,
        files=entries + figures.available_files,
        ffree=figures.available_files,
        favail=figures.available_files,
        fsid=0,
        flags=VFS_NOSUID,
        namemax=MAX_NAME_BYTES,
    )


def client_gone(channel: asyncssh.SSHServerChannel[bytes]) -> bool:
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


class StoreSFTPServer(asyncssh.SFTPServer):
    """One SFTP or SCP session of one user over the store."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], context: ServerContext) -> None:
        super().__init__(chan)
        self._context = context
        self._user: str = chan.get_extra_info("username")
        self._open: set[OpenFile] = set()
        #: Uploads open in this session by path: ``stat``, ``readdir`` and
        #: ``open`` see them as sshd shows a file being written (sshfs stats
        #: a file right after creating it).
        self._writing: dict[str, WriteFile] = {}
        #: Where relative paths start: looked up at the first one (see :meth:`_path`).
        self._start: str | None = None

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
        """*work* on a view for our user: a read in a worker, a write group-committed.

        Writes of all sessions (and CDMI requests) that arrive together share
        one transaction and one ``fsync``: rclone, for one, copies four files
        at a time and sets each one's time after closing it.
        """
        if not write:
            return await self._offload(self._transact, work)
        user = self._user
        return await self._context.group.run(lambda root: work(StoreView.for_user(root, user)))

    async def _release(self, handle: OpenFile) -> None:
        """Free *handle*; never raises, as asyncssh may be cleaning up."""
        self._open.discard(handle)
        if isinstance(handle, WriteFile) and self._writing.get(handle.path) is handle:
            del self._writing[handle.path]
        with contextlib.suppress(Exception):
            await handle.drain()  # a failure was, or no longer needs to be, reported
        try:
            await self._offload(handle.release)
        except Exception:
            log.exception("releasing %s failed", handle.path)

    # -- paths and attributes --------------------------------------------

    async def _path(self, raw: bytes) -> str:
        """The store path *raw* names: relative ones start at the user's home, or ``/``."""
        if raw.startswith(b"/"):
            return store_path(raw)
        if self._start is None:
            self._start = await self._view(start_container)
        return store_path(raw, self._start)

    @_reported
    async def realpath(self, path: bytes) -> bytes:
        return (await self._path(path)).encode("utf-8")

    @_reported
    async def stat(self, path: bytes) -> SFTPAttrs:
        target = await self._path(path)
        if target in self._writing:
            return self._writing[target].attributes()

        def look(view: StoreView) -> SFTPAttrs:
            return attributes(view, view.stat(view.resolve(target), target))

        # Cheap and frequent (rclone stats every file twice).
        user = self._user
        return await self._context.read_quickly(lambda root: look(StoreView.for_user(root, user)))

    lstat = stat  # there are no symbolic links

    @_reported
    async def fstat(self, file_obj: object) -> SFTPAttrs:
        return _handle(file_obj).attributes()

    @_reported
    async def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        """Keep times, change the size; mode and owner are answered, not kept.

        Permission bits say what the caller may do (see :func:`attributes`),
        so a ``chmod`` is accepted and changes nothing, as on a file system
        mounted without permissions.
        """
        target = await self._path(path)
        if target in self._writing:
            await self._set_handle_attrs(self._writing[target], attrs)
        else:
            await self._set_path_attrs(target, attrs)

    lsetstat = setstat

    @_reported
    async def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        """Like :meth:`setstat`; on an upload the times are kept when it is stored."""
        handle = _handle(file_obj)
        if isinstance(handle, WriteFile):
            await self._set_handle_attrs(handle, attrs)
        elif attrs.size is not None and attrs.size != handle.size:
            raise SFTPPermissionDenied(f"{handle.path}: open for reading only")
        else:
            await self._set_path_attrs(handle.path, SFTPAttrs(atime=attrs.atime, mtime=attrs.mtime))

    async def _set_path_attrs(self, target: str, attrs: SFTPAttrs) -> None:
        if attrs.size is not None:
            await self._resize(target, attrs.size)
        mtime, atime = attrs.mtime, attrs.atime
        changes = mtime is not None or atime is not None

        def keep_times(view: StoreView) -> None:
            obj = view.stat(view.resolve(target), target)
            if changes:
                view.set_times(obj, target, mtime=mtime, atime=atime)

        await self._view(keep_times, write=changes)

    async def _set_handle_attrs(self, handle: WriteFile, attrs: SFTPAttrs) -> None:
        if attrs.size is not None:
            await handle.resize(attrs.size)
        handle.set_times(attrs.mtime, attrs.atime)

    async def _resize(self, target: str, size: int) -> None:
        """``truncate PATH``: the content cut or extended, stored as a new version."""
        handle = await self._offload(self._open_for_writing, target, FXF_WRITE)
        try:
            await handle.resize(size)
            await self._store(handle)
        finally:
            await self._release(handle)

    @_reported
    async def statvfs(self, path: bytes) -> SFTPVFSAttrs:
        """The store's figures, as ``df`` prints them (``df`` in ``sftp``, on an sshfs mount)."""
        target = await self._path(path)

        def figures(view: StoreView) -> StoreFigures:
            view.resolve(target)
            return store_figures(view.root)

        return vfs_attributes(await self._view(figures))

    @_reported
    async def fstatvfs(self, file_obj: object) -> SFTPVFSAttrs:
        return vfs_attributes(await self._view(lambda view: store_figures(view.root)))

    # -- listing ---------------------------------------------------------

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        """``.``, ``..`` and the visible children, a page per transaction.

        Files this session is still writing show with their size so far;
        new ones come after the stored children.
        """
        try:
            target = await self._path(path)
            for entry in await self._view(functools.partial(_listing_head, target)):
                yield entry
            pending: dict[str, WriteFile] = {}
            for writing, handle in self._writing.items():
                parent, name = parent_and_name(writing)
                if parent == target:
                    pending[name] = handle
            after: str | None = None
            while True:
                page = await self._view(functools.partial(_listing_page, target, after))
                for entry in page:
                    name = cast(bytes, entry.filename).decode("utf-8")
                    staged = pending.pop(name, None)
                    yield entry if staged is None else named(name, staged.attributes(), self._user)
                if len(page) < LISTING_PAGE:
                    break
                after = cast(bytes, page[-1].filename).decode("utf-8")
            for name, handle in sorted(pending.items()):
                yield named(name, handle.attributes(), self._user)
        except Exception as exc:
            raise sftp_error(exc) from None

    # -- content ---------------------------------------------------------

    @_reported
    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> OpenFile:
        """A read handle on the committed content, or a write handle on an upload.

        Opened for reading and writing (sshfs, ``mkstemp``), it is an upload
        that can also be read back.
        """
        target = await self._path(path)
        if len(self._open) >= MAX_OPEN_HANDLES:
            raise SFTPFailure(f"{target}: too many open files")
        if pflags & FXF_WRITE:
            handle: OpenFile = await self._offload(self._open_for_writing, target, pflags)
            assert isinstance(handle, WriteFile)
            handle.set_times(attrs.mtime, attrs.atime)
            self._writing[target] = handle
        elif target in self._writing:
            handle = await self._open_staged(self._writing[target])
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
        def look(view: StoreView) -> tuple[StoredContent, SFTPAttrs, str, bool]:
            obj, content = view.open_content(view.resolve(target), target)
            attrs = attributes(view, obj)
            # Changed in this read transaction only to learn whether it is due.
            return content, attrs, obj.object_id, view.note_access(obj)

        content, attrs, object_id, atime_due = self._transact(look)
        try:
            fd = os.open(content.filename, os.O_RDONLY) if content.filename is not None else -1
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
        return ReadFile(target, fd, attrs, data=content.data if fd < 0 else None)

    async def _open_staged(self, writer: WriteFile) -> ReadFile:
        """Read a file this session is still writing, as sshd would: what is there so far."""
        await writer.read(0, 0)  # the staged file now holds the whole content
        path = await self._offload(writer.upload.staged_path)  # small ones are in memory
        fd = await self._offload(os.open, path, os.O_RDONLY)
        return ReadFile(writer.path, fd, writer.attributes(), live=True)

    def _open_for_writing(self, target: str, pflags: int) -> WriteFile:
        def check(view: StoreView) -> StoredContent | None:
            """The committed content whose bytes the upload keeps, if any."""
            existing = view.lookup(target)
            if existing is None and not pflags & FXF_CREAT:
                raise NotFound(target)
            if existing is not None and pflags & FXF_EXCL:
                raise AlreadyExists(target)
            view.check_can_store(target)
            if isinstance(existing, DataObject) and existing.size and not pflags & FXF_TRUNC:
                return existing.stored_content()
            return None

        base = self._transact(check)
        staging = Staging.create(
            self._context.store.temporary_directory(), self._context.executor, base=base
        )
        return WriteFile(target, staging, append=bool(pflags & FXF_APPEND))

    @_reported
    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        handle = _handle(file_obj)
        if isinstance(handle, WriteFile):
            return await handle.read(offset, size)
        assert isinstance(handle, ReadFile)
        return await handle.read(offset, size, self._context.executor)

    @_reported
    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        handle = _handle(file_obj)
        if not isinstance(handle, WriteFile):
            raise SFTPPermissionDenied(f"{handle.path}: not open for writing")
        await handle.write(offset, data)
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
            if handle.abandoned:
                return
            if handle.failed is None:
                with contextlib.suppress(Exception):
                    await handle.drain()  # a failure is kept in handle.failed
            if handle.failed is not None:
                log.info("upload of %s failed: %s", handle.path, handle.failed)
                raise SFTPFailure(f"{handle.path}: a write failed; nothing was stored")
            await self._store(handle)
        finally:
            await self._release(handle)

    async def _store(self, handle: WriteFile) -> None:
        """Complete *handle*'s content and store it, with the times the client set."""
        with self._context.group.coming():
            await handle.complete()  # the fsync too, before the commit

        def store(view: StoreView) -> None:
            obj = view.store_data(handle.path, handle.upload)
            times = handle.mtime is not None or handle.atime is not None
            if times and view.can_set_times(obj):
                view.set_times(obj, handle.path, mtime=handle.mtime, atime=handle.atime)

        await self._view(store, write=True)

    @_reported
    async def fsync(self, file_obj: object) -> None:
        """Accepted: an upload becomes durable, all at once, when it is closed."""
        await _handle(file_obj).drain()

    # -- shaping the tree ------------------------------------------------

    @_reported
    async def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        target = await self._path(path)

        def make(view: StoreView) -> None:
            view.make_container(target)

        await self._view(make, write=True)

    @_reported
    async def rmdir(self, path: bytes) -> None:
        """Remove an empty container."""
        await self._remove(await self._path(path), Container)

    @_reported
    async def remove(self, path: bytes) -> None:
        """Remove a data object (never a container).

        A file this session is still writing and has never stored is only
        forgotten: closing it then stores nothing, as an unlinked file's
        writes go nowhere.
        """
        target = await self._path(path)
        writer = self._writing.get(target)
        if writer is not None and await self._view(lambda view: view.lookup(target) is None):
            await self._view(lambda view: view.check_can_store(target))
            writer.abandoned = True
            del self._writing[target]
            return
        await self._remove(target, DataObject)

    async def _remove(self, target: str, kind: type[StoreObject]) -> None:
        def remove(view: StoreView) -> None:
            view.resolve_as(kind, target)
            view.remove(target)

        await self._view(remove, write=True)

    @_reported
    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """SFTP's own rename: the new path must not exist."""
        await self._rename(await self._path(oldpath), await self._path(newpath), replace=False)

    @_reported
    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """``posix-rename@openssh.com``: replace a data object or an empty container."""
        await self._rename(await self._path(oldpath), await self._path(newpath), replace=True)

    async def _rename(self, source: str, target: str, *, replace: bool) -> None:
        writer = self._writing.get(source)
        if writer is not None and await self._view(lambda view: view.lookup(source) is None):
            await self._retarget(writer, target, replace=replace)
            return

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

    async def _retarget(self, writer: WriteFile, target: str, *, replace: bool) -> None:
        """Rename a file still being written: it will be stored under *target*."""

        def check(view: StoreView) -> None:
            if not replace and view.lookup(target) is not None:
                raise AlreadyExists(target)
            view.check_can_store(target)

        await self._view(check)
        del self._writing[writer.path]
        writer.path = target
        self._writing[target] = writer

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
    container = view.enter(target)
    parent = container.__parent__ or container
    return [directory_entry(view, ".", container), directory_entry(view, "..", parent)]


def _listing_page(target: str, after: str | None, view: StoreView) -> list[SFTPName]:
    """The next visible children of *target* whose names sort after *after*."""
    container = view.resolve_as(Container, target)
    children = view.children(container, target, after=after)
    return [directory_entry(view, name, child) for name, child in islice(children, LISTING_PAGE)]


def sftp_factory(
    context: ServerContext,
) -> Callable[[asyncssh.SSHServerChannel[bytes]], StoreSFTPServer]:
    """The ``sftp_factory`` for :func:`~omsh.ssh.server.start_ssh_server`.

    Also makes asyncssh accept the padded write requests rclone sends
    (:mod:`omsh.ssh.sftp_wire`).
    """
    tolerate_padded_writes()
    return functools.partial(StoreSFTPServer, context=context)
