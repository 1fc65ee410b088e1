"""Streaming object content in and out of the database and ZODB blobs.

An upload is held in memory up to :data:`INLINE_LIMIT` bytes and past it
streamed into a temporary file in the storage's own blob temporary
directory (same filesystem, so attaching it to a blob is a rename, not a
copy) while its SHA-256 is computed.  Only when the client's stream
ended normally is the file attached to a :class:`~ZODB.blob.Blob` inside a
transaction; an aborted upload just deletes the temporary file, so no partial
object can ever become visible.

Most uploads arrive in order and are hashed on the way in; every
:data:`WRITEBACK_BYTES` written so the kernel is asked to start writing them
to disk, so that the ``fsync`` before the commit has little left to do.  A
file-system client (sshfs, an editor over SFTP) may also write at any
offset, read back what it wrote or change the length:
:meth:`ContentUpload.write_at` and its siblings serve that, and the hash is
then computed once, from the staged file, when the upload finishes.
Front ends do not drive a :class:`ContentUpload` themselves: they stage
through :class:`omsh.store.staging.Staging`.

Content of at most :data:`INLINE_LIMIT` bytes is not a blob: it is kept in
the database in a record of its own (:class:`InlineContent`), so the
storage's commit ``fsync`` makes it durable and no staged-file ``fsync`` or
blob file (ZODB's mkstemp, a directory per oid, link, two renames) is paid
for it.  Larger content stays a blob.  Either way readers get a
:class:`StoredContent` and never need a file path.

Reading goes the other way: :func:`read_span` streams committed content.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from persistent import Persistent
from ZODB.blob import Blob

from omsh.errors import OmshError

CHUNK_SIZE = 256 * 1024
#: Staged files are named with these prefixes (see Store.sweep_staging).
UPLOAD_PREFIX = "upload-"
COPY_PREFIX = "copy-"
#: Bytes written in order between two requests to the kernel to start writing back.
WRITEBACK_BYTES = 16 * 1024 * 1024
_ZEROS = bytes(CHUNK_SIZE)
#: Content of at most this many bytes is kept in the database, not in a blob
#: file.  64 KiB: below it a blob file's own work (mkstemp, mkdir, link, two
#: renames, an ``fsync``) costs more than writing the bytes into ``Data.fs``,
#: and a read of one is a record load; above it history and pack copy more
#: bytes than a file rename saves (MinIO inlines up to 128 KiB in xl.meta).
INLINE_LIMIT = 64 * 1024


class InlineContent(Persistent):
    """Small content kept in the database (see :data:`INLINE_LIMIT`).

    A record of its own, never changed once stored (a new value is a new
    record), so a metadata edit of its data object does not copy the bytes
    into history again, and copies in one database can share it.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data


class HoldsContent(Protocol):
    """What :meth:`ContentUpload.attach_to` gives content to (a data object)."""

    def keep_inline(self, data: bytes) -> None:
        """Hold *data* in the database from now on."""

    def blob_for_writing(self) -> Blob:
        """The blob that is to take a file as the content from now on."""


@dataclass(frozen=True)
class StoredContent:
    """Committed content as a reader finds it after its transaction ended.

    A committed blob file (never changed in place) or the bytes themselves
    (kept in the database); either opens as a stream, so no reader needs a
    file path.
    """

    size: int
    filename: str | None = None
    data: bytes = b""

    @property
    def inline(self) -> bool:
        return self.filename is None

    def open(self) -> BinaryIO:
        """A binary stream of the content (a blob file's ``OSError`` passes through)."""
        if self.filename is None:
            return io.BytesIO(self.data)
        return open(self.filename, "rb")

    def read(self, start: int, length: int) -> bytes:
        """Up to *length* bytes from *start* (fewer at the end)."""
        if self.filename is None:
            return self.data[start : start + length]
        with open(self.filename, "rb") as stream:
            stream.seek(start)
            return stream.read(length)

    def hash(self, passed: Callable[[int], None] | None = None) -> tuple[int, str]:
        """Size and SHA-256 of the content as it is now, read in chunks.

        *passed*, if given, sees the size of each chunk (a progress bar; it
        may raise to stop, a Ctrl-C).
        """
        digest = hashlib.sha256()
        size = 0
        with self.open() as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
                if passed is not None:
                    passed(len(chunk))
        return size, digest.hexdigest()


class MissingContent(OmshError):
    """The database names a blob whose file is gone (a damaged blob directory)."""

    def __init__(self, subject: str | None = None) -> None:
        super().__init__(
            "content is missing from the blob store; run 'omsh check'", subject=subject
        )


class ContentUpload:
    """Bytes on their way into the store, hashed as they arrive.

    Up to :data:`INLINE_LIMIT` bytes are held in memory (content that will
    be kept in the database never touches a file); past it they spill to a
    staged file in *directory*, as :class:`tempfile.SpooledTemporaryFile`
    does, and every operation, random access included, works on either.
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory
        #: The staged file, once the content spilled out of memory.
        self.path: str | None = None
        self._file: BinaryIO | None = None
        #: The content while it is small enough to be kept inline.
        self._memory: bytearray | None = bytearray()
        self._hash: hashlib._Hash | None = hashlib.sha256()
        self.size = 0
        #: Bytes stored since the last request to start writing back.
        self._unflushed = 0
        #: The staged bytes are on disk (``fsync``): only then may they be attached.
        self.synced = False

    def _spill(self) -> BinaryIO:
        """The staged file, created (with what memory held) if not yet there."""
        if self._file is not None:
            return self._file
        assert self._memory is not None, "upload already finished"
        fd, self.path = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=self._directory)
        self._file = os.fdopen(fd, "wb")
        self._file.write(self._memory)
        self._memory = None
        return self._file

    def _fits(self, end: int) -> bool:
        """Whether content reaching *end* may stay in memory."""
        return self._memory is not None and end <= INLINE_LIMIT

    def write(self, chunk: bytes) -> None:
        """Append *chunk* (at the end, also after random access)."""
        if self._hash is None:
            self.write_at(self.size, chunk)
            return
        self.store_bytes(chunk)
        self.count_bytes(chunk)

    # The two halves of write(), for callers that run them in two threads at
    # once (hashing and copying into the page cache each release the GIL and
    # take about as long): each half must see the chunks in the same order.

    def store_bytes(self, chunk: bytes) -> None:
        """Write *chunk* to the staged content (not hashed or counted: see write)."""
        memory = self._memory
        if memory is not None and len(memory) + len(chunk) <= INLINE_LIMIT:
            memory.extend(chunk)
            return
        self._spill().write(chunk)
        self._unflushed += len(chunk)
        # Not after random access: finish() reads the file back to hash it.
        if self._unflushed >= WRITEBACK_BYTES and self._hash is not None:
            self._unflushed = 0
            self.start_writeback()

    def count_bytes(self, chunk: bytes) -> None:
        """Hash and count *chunk* (not written: see write)."""
        if self._hash is not None:
            self._hash.update(chunk)
        self.size += len(chunk)

    # Random access: each call leaves the running hash behind; it is then
    # computed from the staged content by finish().

    def _fileno(self) -> int:
        stream = self._spill()
        stream.flush()
        return stream.fileno()

    def write_at(self, offset: int, data: bytes) -> None:
        """Write *data* at *offset*; a gap before it reads as zeros.

        Nothing, as a ``pwrite`` of nothing, changes nothing: not even the
        size when *offset* is past the end (an SFTP WRITE may carry no data).
        """
        if not data:
            return
        self._hash = None
        end = offset + len(data)
        if self._fits(end):
            memory = self._memory
            assert memory is not None
            if offset > len(memory):
                memory.extend(bytes(offset - len(memory)))
            memory[offset:end] = data
            self.size = max(self.size, end)
            return
        fd = self._fileno()
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        self.size = max(self.size, offset)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* staged bytes from *offset* (fewer at the end)."""
        length = max(0, min(length, self.size - offset))
        if self._memory is not None:
            return bytes(self._memory[offset : offset + length])
        return os.pread(self._fileno(), length, offset)

    def resize(self, size: int) -> None:
        """Cut the staged content at *size*, or extend it with zeros."""
        self._hash = None
        if self._fits(size):
            memory = self._memory
            assert memory is not None
            del memory[size:]
            memory.extend(bytes(size - len(memory)))
        else:
            os.ftruncate(self._fileno(), size)
        self.size = size

    def staged_path(self) -> str:
        """The staged file holding the content so far, spilled from memory if need be.

        For a reader that needs a file (an SFTP session reading back what
        it is still writing).
        """
        self._fileno()  # spilled and flushed
        assert self.path is not None
        return self.path

    def append_from(self, source: BinaryIO | None, end: int, source_size: int) -> None:
        """Extend the upload to *end* with *source*'s bytes at the same offsets.

        Past *source_size* (or with no *source*) it reads as zeros, as a file
        does past its end.  What a client leaves untouched of an object it
        rewrites in part (an SFTP file opened without truncation, a CDMI
        ranged update) comes from here; *source* is the old content opened
        with :meth:`StoredContent.open` (a blob file or the inline bytes).
        """
        stop = min(end, source_size) if source is not None else 0
        if source is not None and self.size < stop:
            source.seek(self.size)
            while self.size < stop:
                chunk = source.read(min(CHUNK_SIZE, stop - self.size))
                if not chunk:
                    raise OmshError("stored content is shorter than recorded")
                self.write(chunk)
        while self.size < end:
            self.write(_ZEROS[: min(CHUNK_SIZE, end - self.size)])

    def start_writeback(self) -> None:
        """Ask the kernel to start writing what was written so far to disk.

        Only a hint (``posix_fadvise`` ``DONTNEED``: write back, then drop the
        pages from the cache): the ``fsync`` of :meth:`finish` then has little
        left to wait for.  :meth:`store_bytes` calls it every
        :data:`WRITEBACK_BYTES`.
        """
        if self._file is not None and hasattr(os, "posix_fadvise"):
            self._file.flush()
            os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)

    def finish(self, *, sync: bool = True) -> None:
        """Close the staged file (hashing it if written out of order), flushed to disk.

        Without *sync* the ``fsync`` is left for later: a group commit syncs
        every staged file of a batch at once (:func:`omsh.store.staging.sync_staged`),
        and :meth:`attach_to` syncs whatever is still not on disk.  Content
        still in memory has no file to sync.
        """
        if self._file is not None:
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
                self.synced = True
            self._file.close()
            self._file = None
        if self._hash is None:
            self._hash = hashlib.sha256()
            if self._memory is not None:
                self._hash.update(self._memory)
            else:
                assert self.path is not None
                with open(self.path, "rb") as stream:
                    while chunk := stream.read(CHUNK_SIZE):
                        self._hash.update(chunk)

    @property
    def sha256(self) -> str:
        assert self._hash is not None, "written out of order: hashed by finish()"
        return self._hash.hexdigest()

    def sync(self) -> None:
        """``fsync`` the finished staged file, unless it already is on disk (or in memory)."""
        if self.synced or self.path is None:
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.synced = True

    def staged_bytes(self) -> bytes:
        """The whole finished content (for content kept inline: it is small)."""
        if self._memory is not None:
            return bytes(self._memory)
        assert self.path is not None
        with open(self.path, "rb") as stream:
            return stream.read()

    def attach_to(self, holder: HoldsContent) -> None:
        """Give the content to *holder*: inline if small, else to its blob (a rename).

        Inline content (from memory, or read back from a staged file still
        in the page cache) is made durable by the storage's own commit
        ``fsync``, so it is never synced here.  A blob's bytes are on disk
        first (acknowledged = durable); ZODB deletes a consumed file when
        the transaction aborts, so a ConflictError retry needs a second link
        to the same bytes, and our copy is kept.
        """
        self.finish()
        if self.inlined:
            holder.keep_inline(self.staged_bytes())
            return
        if self.path is None:  # still in memory: INLINE_LIMIT was lowered since
            self.staged_path()
            self.finish()
        self.sync()
        assert self.path is not None
        link = self.path + ".attempt"
        if os.path.exists(link):
            os.unlink(link)
        os.link(self.path, link)
        holder.blob_for_writing().consumeFile(link)

    @property
    def inlined(self) -> bool:
        """Whether the content will be kept in the database (no staged ``fsync`` needed)."""
        return self.size <= INLINE_LIMIT

    def discard(self) -> None:
        """Let the content go: the staged file (and its retry link) deleted, memory freed."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = None
        if self.path is not None:
            for path in (self.path, self.path + ".attempt"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def __enter__(self) -> ContentUpload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def read_span(
    stream: BinaryIO, offset: int, length: int, chunk: int
) -> Generator[bytes, None, None]:
    """*length* bytes from *offset* of *stream* in pieces of *chunk*; closes it.

    Fewer if the stream ends first; a reader that stops early closes the
    generator, and with it the stream.  How every front end streams
    committed content (``cat``, ``sha256sum``, a CDMI JSON value).
    """
    with stream:
        stream.seek(offset)
        remaining = length
        while remaining > 0:
            data = stream.read(min(chunk, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data
