"""How much the store holds: the figures behind ``du``, ``df`` and SFTP ``statvfs``.

Both come from the catalog, which changes in the same transaction as the
tree (ARCHITECTURE §4), so they are exact as of the transaction that reads
them and no tree walk is needed: the ``type`` index says which documents are
data objects, the ``cdmi_size`` index holds their sizes and the ``path``
index where they are.  Front ends only format what these functions return.

- :func:`store_figures` is the whole store, as a file system's ``df`` is the
  whole file system whoever asks: data objects, containers, bytes of
  content, and the free space where new content would go.
- :func:`usage` is one subtree as the caller sees it (``du``): an object the
  caller could not find by listing from there down is not counted, exactly
  as a query leaves it out (:meth:`StoreView.query`).  For an administrator
  nothing is loaded; for anyone else each object below is loaded once to
  check its rights, the cost of ``ls -R``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

from ZODB.blob import BlobStorage
from ZODB.FileStorage import FileStorage

from omsh.store.index import RANK_STRING, Catalog
from omsh.store.model import DataObject, StoreRoot
from omsh.store.names import parent_and_name, split_path
from omsh.store.query import Compare
from omsh.store.system import size_of
from omsh.store.view import StoreView

_OBJECT = (RANK_STRING, "object")
_CONTAINER = (RANK_STRING, "container")


@dataclass(frozen=True)
class StoreFigures:
    """The whole store's figures (``df``, SFTP ``statvfs``)."""

    #: Data objects and containers (the root included).
    objects: int
    containers: int
    #: Bytes of content: the sum of every data object's size.
    used: int
    #: Bytes free for new content on the file system of :attr:`directory`.
    available: int
    #: Where :attr:`available` was measured: the blob directory, or, when
    #: the blobs are not on this host (ZEO, RelStorage), the directory
    #: where uploads are staged (every upload must fit there first).
    directory: str
    blobs_local: bool
    #: Files that may still be made there (each object's content is one).
    available_files: int


def store_figures(root: StoreRoot) -> StoreFigures:
    """Counts and bytes from the catalog, free space from the file system."""
    objects, containers, used = catalog_totals(root.catalog)
    directory, local = _space_directory(root)
    space = os.statvfs(directory)
    return StoreFigures(
        objects=objects,
        containers=containers + 1,  # the root is not indexed
        used=used,
        available=space.f_bavail * space.f_frsize,
        directory=directory,
        blobs_local=local,
        available_files=space.f_favail,
    )


def catalog_totals(catalog: Catalog) -> tuple[int, int, int]:
    """(data objects, containers below the root, bytes of content), from the indexes.

    The bytes are every document's ``cdmi_size`` less the containers' (a
    container's is its number of children), both summed in C.
    """
    types = catalog.field("type")
    sizes = catalog.field("cdmi_size")
    if types is None or sizes is None:
        return 0, 0, 0
    containers = types.equal(_CONTAINER)
    used = sizes.total() - sizes.total(containers)
    return types.count_equal(_OBJECT), len(containers), used


def _space_directory(root: StoreRoot) -> tuple[str, bool]:
    """The directory whose file system new content fills, and whether it holds the blobs."""
    jar = root._p_jar
    assert jar is not None, "the root was read through a connection"
    storage = jar.db().storage
    if isinstance(storage, FileStorage) and storage.blob_dir:
        return storage.blob_dir, True
    if isinstance(storage, BlobStorage):
        return storage.fshelper.base_dir, True
    return storage.temporaryDirectory(), False


@dataclass(frozen=True)
class Usage:
    """What ``du PATH`` reports: bytes of content below *path* that the caller sees."""

    #: The absolute path asked about.
    path: str
    is_container: bool
    #: Each visible container at most ``depth`` levels below :attr:`path`
    #: (itself at level 0), with the bytes of everything visible below it.
    containers: dict[str, int]
    #: Each visible data object at most ``depth`` levels below, with its size
    #: (the object itself, when :attr:`path` is one).
    objects: dict[str, int]

    @property
    def total(self) -> int:
        """Bytes of content at and below :attr:`path`."""
        return (self.containers if self.is_container else self.objects)[self.path]


def usage(view: StoreView, path: str, cwd: str = "/", *, depth: int | None = None) -> Usage:
    """Bytes of content under *path* as the caller sees it, per container.

    One read of the catalog: the data objects and containers below *path*
    (what a query ``type = 'object'`` in *path* would return, so with the
    same rights), their paths and sizes from the reverse indexes; each
    object's size is added to its container, then containers to theirs, from
    the deepest up.  A container the caller may not list must not be asked
    about (``permission denied``), as ``ls`` refuses it.
    """
    obj = view.stat(view.resolve(path, cwd), path)
    if isinstance(obj, DataObject):
        return Usage(obj.path, False, {}, {obj.path: size_of(obj)})
    view.require_list(obj, path)
    top = obj.path
    objects = view.query(Compare("type", "=", _OBJECT), within=top)
    containers = view.query(Compare("type", "=", _CONTAINER), within=top)
    size_index = view.root.catalog.field("cdmi_size")
    sizes = size_index.stored_values(objects.docids) if size_index is not None else {}
    object_sizes = {objects.path(docid): sizes[docid] or 0 for docid in objects.docids}
    visible = {top, *containers.paths().values()}

    totals: dict[str, int] = defaultdict(int)
    by_level: dict[int, set[str]] = defaultdict(set)
    for object_path, size in object_sizes.items():
        parent = _parent(object_path)
        totals[parent] += size
        by_level[_level(parent)].add(parent)
    top_level = _level(top)
    for level in range(max(by_level, default=top_level), top_level, -1):
        for container_path in by_level[level]:
            parent = _parent(container_path)
            totals[parent] += totals[container_path]
            by_level[level - 1].add(parent)

    def shown(item: str) -> bool:
        return depth is None or _level(item) - top_level <= depth

    return Usage(
        top,
        True,
        {item: totals.get(item, 0) for item in visible if shown(item)},
        {item: size for item, size in object_sizes.items() if shown(item)},
    )


def _level(path: str) -> int:
    """How deep *path* is: ``/`` 0, ``/a`` 1, ``/a/b`` 2."""
    return len(split_path(path))


def _parent(path: str) -> str:
    return parent_and_name(path)[0]
