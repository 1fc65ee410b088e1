"""Bulk loading (``omsh import``): many objects in few, big transactions.

The front ends store one object per request; loading a million files that
way costs a million transactions.  :func:`load` instead stores
:data:`BATCH_OBJECTS` objects per transaction (fewer when they are big: see
:func:`_chunks`), through the same
:meth:`StoreView.store_data` as ``put`` (same checks, same catalog, so
``query --count`` and ``omsh check`` agree afterwards), as a given user.

Input is a list of :class:`Item` (a store path, a content file, metadata),
read and checked whole before anything is stored, so bad input stores
nothing and is reported with its place (``FILE:LINE`` or the file's path):

* :func:`items_from_tree`: a folder tree; each folder becomes a container,
  each regular file a data object.
* :func:`items_from_jsonl`: JSON lines ``{"path": ..., "content": FILE,
  "metadata": {...}}``.  A metadata value keeps its JSON type (numbers,
  booleans); a string is typed as ``set-meta`` types text; a key written
  ``KEY:TYPE`` forces the type, as ``meta`` shows it, and so does a value
  written ``{"type": T, "value": V}``, as ``meta export`` writes it
  (:mod:`omsh.store.metadata`).

Content is copied (read, hashed and written once) into staged files beside
the blobs, the next batch in a thread while the one before commits; their
``fsync`` calls run in parallel while the batch is staged, and the batch
waits for them once, just before its transaction commits
(:func:`omsh.store.staging.sync_staged`).  Small content is kept in the
database (:data:`~omsh.store.content.INLINE_LIMIT`): no ``fsync`` of its
own, no blob file; the commit's ``fsync`` covers it.  Each batch is all or
nothing; an interrupted import is resumed by running it again: an object
that exists is replaced by the same content (its metadata merged), so a
rerun ends with the same tree.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from omsh.errors import OmshError
from omsh.store.content import CHUNK_SIZE, INLINE_LIMIT, ContentUpload
from omsh.store.database import Store
from omsh.store.metadata import (
    TYPE_NAMES,
    InvalidMetadata,
    MetadataValue,
    parse_value,
    split_key,
    validate_key,
    validate_value,
)
from omsh.store.model import StoreRoot
from omsh.store.names import join_path, normalize_path, parent_and_name
from omsh.store.staging import start_sync, sync_staged
from omsh.store.view import StoreView

#: Objects stored per transaction at most (``--batch``).
BATCH_OBJECTS = 10_000
#: Objects with content over INLINE_LIMIT (blob files) per transaction at
#: most: ZODB keeps a transaction's new blobs in a list it searches for each
#: one, so a transaction's cost grows with the square of their number.
BATCH_BLOBS = 1_000
#: Small content per transaction at most, in bytes: it is held in memory
#: until the transaction commits (:class:`~omsh.store.content.ContentUpload`).
BATCH_INLINE_BYTES = 64 * 1024 * 1024


class BadInput(OmshError):
    """Input that cannot be imported, with where it is (``FILE:LINE`` or a path)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Item:
    """One object to store: its absolute path, the file holding its content, metadata."""

    path: str
    content: str | None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """What an import will store: containers first (parents before children), then objects."""

    containers: list[str]
    items: list[Item]


@dataclass(frozen=True, slots=True)
class Loaded:
    """What :func:`load` did."""

    objects: int
    containers: int
    transactions: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds > 0 else 0.0


# -- reading the input --------------------------------------------------------


def items_from_tree(directory: str, into: str) -> Plan:
    """Every folder under *directory* as a container, every regular file as an object.

    Symbolic links to files are followed (their target is copied); links to
    folders are not walked.  Anything else (a socket, a FIFO) is refused, as
    is a name the store cannot hold.
    """
    if not os.path.isdir(directory):
        raise BadInput(directory, "not a folder")
    top = _store_path(into, directory)
    containers = [top]
    items: list[Item] = []

    def failed(error: OSError) -> None:
        raise BadInput(error.filename or directory, error.strerror or str(error))

    for folder, subfolders, files in os.walk(directory, onerror=failed):
        subfolders.sort()
        relative = os.path.relpath(folder, directory)
        here = top if relative == "." else _store_path(join_path(top, relative), folder)
        if here != top:
            containers.append(here)
        for name in sorted(files):
            source = os.path.join(folder, name)
            if not os.path.isfile(source):
                raise BadInput(source, "not a regular file")
            items.append(Item(_store_path(join_path(here, name), source), source))
    return Plan(containers, items)


def items_from_jsonl(path: str, lines: Iterable[str] | None = None) -> Plan:
    """The objects named by JSON lines in *path* (or *lines*, read from it already).

    Each line is an object with ``path`` (absolute, or relative to ``/``),
    optionally ``content`` (a file; relative to the JSON file's folder) and
    ``metadata``.  Blank lines are skipped.  The parents of every path are
    made as containers.
    """
    base = os.path.dirname(os.path.abspath(path))
    if lines is None:
        try:
            with open(path, encoding="utf-8") as stream:
                return items_from_jsonl(path, stream)
        except OSError as exc:
            raise BadInput(path, exc.strerror or str(exc)) from None
        except UnicodeDecodeError:
            raise BadInput(path, "not UTF-8 text") from None
    items: list[Item] = []
    parents: dict[str, None] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        item = _item_from_line(line, where, base)
        parents[parent_and_name(item.path)[0]] = None
        items.append(item)
    containers = sorted(parents, key=lambda parent: parent.count("/"))
    return Plan([parent for parent in containers if parent != "/"], items)


def _item_from_line(line: str, where: str, base: str) -> Item:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadInput(where, f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise BadInput(where, 'expected an object like {"path": ..., "content": ...}')
    unknown = set(record) - {"path", "content", "metadata"}
    if unknown:
        raise BadInput(where, f"unknown field {sorted(unknown)[0]!r}")
    target = record.get("path")
    if not isinstance(target, str) or not target.strip("/"):
        raise BadInput(where, '"path" must be the name of an object')
    content = record.get("content")
    if content is not None:
        if not isinstance(content, str):
            raise BadInput(where, '"content" must be a file name')
        content = os.path.join(base, content)
        if not os.path.isfile(content):
            raise BadInput(where, f"{content}: no such file")
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        raise BadInput(where, '"metadata" must be an object')
    absolute = _store_path(target, where)
    if absolute == "/":
        raise BadInput(where, '"path" must be the name of an object')
    return Item(absolute, content, _typed(metadata, where))


def _typed(metadata: Mapping[str, Any], where: str) -> dict[str, MetadataValue]:
    """Metadata from JSON: JSON types kept, text typed as ``set-meta`` types it."""
    typed: dict[str, MetadataValue] = {}
    try:
        for spec, given in metadata.items():
            key, kind = split_key(spec)
            value = given
            if isinstance(given, dict) and set(given) == {"type", "value"}:  # as meta export
                kind, value = given["type"], given["value"]
                if kind not in TYPE_NAMES:
                    raise InvalidMetadata(f"{key}: type must be one of {', '.join(TYPE_NAMES)}")
            if isinstance(value, str):
                typed[validate_key(key)] = parse_value(value, kind)
            elif isinstance(value, bool | int | float) and kind is None:
                typed[validate_key(key)] = validate_value(value)
            elif isinstance(value, bool | int | float):
                typed[validate_key(key)] = parse_value(json.dumps(value), kind)
            else:
                raise InvalidMetadata(f"{key}: a value must be a string, number or boolean")
    except InvalidMetadata as exc:
        raise BadInput(where, str(exc)) from None
    return typed


def _store_path(path: str, where: str) -> str:
    try:
        return normalize_path(path)
    except OmshError as exc:
        raise BadInput(where, str(exc)) from None


# -- storing ------------------------------------------------------------------


def load(
    store: Store,
    user: str,
    plan: Plan,
    *,
    batch: int = BATCH_OBJECTS,
    progress: Callable[[int, int], None] | None = None,
) -> Loaded:
    """Store *plan* as *user*, *batch* objects per transaction.

    Containers are made first (one transaction, existing ones kept); then
    each batch is staged, synced once and committed.  *progress* sees the
    objects stored so far and the total after every batch.
    """
    started = time.perf_counter()
    directory = store.temporary_directory()

    def make_containers(root: StoreRoot) -> None:
        view = StoreView.for_user(root, user)
        for path in plan.containers:
            view.make_container(path, parents=True)

    store.run(make_containers)
    done = transactions = 0
    total = len(plan.items)
    chunks = list(_chunks(plan.items, batch))
    with ThreadPoolExecutor(1, thread_name_prefix="omsh-import") as stager:
        # The next batch is staged (copied, hashed) while this one commits.
        staged = stager.submit(_stage_all, chunks[0], directory) if chunks else None
        for number, chunk in enumerate(chunks):
            assert staged is not None
            uploads = staged.result()
            following = chunks[number + 1] if number + 1 < len(chunks) else None
            staged = stager.submit(_stage_all, following, directory) if following else None
            try:
                _commit_batch(store, user, chunk, uploads)
            except BaseException:
                if staged is not None:
                    staged.add_done_callback(_discard_all)
                raise
            done += len(chunk)
            transactions += 1
            if progress is not None:
                progress(done, total)
    return Loaded(done, len(plan.containers), transactions, time.perf_counter() - started)


def _stage_all(chunk: list[Item], directory: str) -> list[ContentUpload]:
    """Staged copies of *chunk*'s contents, their ``fsync`` started; none left on failure."""
    uploads: list[ContentUpload] = []
    try:
        uploads.extend(_stage(item, directory) for item in chunk)
    except BaseException:
        for upload in uploads:
            upload.discard()
        raise
    return uploads


def _discard_all(staged: Future[list[ContentUpload]]) -> None:
    """Delete a batch staged for nothing (the one before it failed)."""
    if not staged.cancelled() and staged.exception() is None:
        for upload in staged.result():
            upload.discard()


def _commit_batch(store: Store, user: str, chunk: list[Item], uploads: list[ContentUpload]) -> None:
    """Wait for the batch's ``fsync`` calls, store it in one transaction, let the files go."""
    try:
        sync_staged()

        def store_all(root: StoreRoot) -> None:
            view = StoreView.for_user(root, user)
            for item, upload in zip(chunk, uploads, strict=True):
                view.store_data(item.path, upload, metadata=item.metadata or None)

        store.run(store_all)
    finally:
        for upload in uploads:
            upload.discard()


def _chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    """*items* in transactions of at most *size* objects, :data:`BATCH_BLOBS` blob
    files and :data:`BATCH_INLINE_BYTES` of small content."""
    chunk: list[Item] = []
    blobs = inline_bytes = 0
    for item in items:
        content_size = _size_of(item)
        is_blob = content_size > INLINE_LIMIT
        if chunk and (
            len(chunk) >= size
            or (is_blob and blobs >= BATCH_BLOBS)
            or (not is_blob and inline_bytes + content_size > BATCH_INLINE_BYTES)
        ):
            yield chunk
            chunk, blobs, inline_bytes = [], 0, 0
        chunk.append(item)
        if is_blob:
            blobs += 1
        else:
            inline_bytes += content_size
    if chunk:
        yield chunk


def _size_of(item: Item) -> int:
    """The size of *item*'s content file now (0 if none; staging reports a missing one)."""
    if item.content is None:
        return 0
    try:
        return os.stat(item.content).st_size
    except OSError:
        return 0


def _stage(item: Item, directory: str) -> ContentUpload:
    """Copy *item*'s content into a staged file (hashed on the way), its ``fsync`` started."""
    upload = ContentUpload(directory)
    try:
        if item.content is not None:
            with open(item.content, "rb") as source:
                while chunk := source.read(CHUNK_SIZE):
                    upload.write(chunk)
        upload.finish(sync=False)
    except OSError as exc:
        upload.discard()
        raise BadInput(item.content or item.path, exc.strerror or str(exc)) from None
    except BaseException:
        upload.discard()
        raise
    start_sync(upload)
    return upload
