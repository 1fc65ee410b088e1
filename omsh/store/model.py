"""The persistent object model: containers, data objects and the store root.

Everything here is plain ZODB persistence; nothing checks permissions.  The
rules (who may do what, name validity, index upkeep) live in
:mod:`omsh.store.view`, which is the only code that should change these
objects; how an older root is brought up to date lives in
:mod:`omsh.store.schema`.  ZODB records these classes by their module path
(``omsh.store.model.Container``…), so they must stay importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from persistent import Persistent
from ZODB.blob import Blob
from ZODB.POSException import ConflictError, POSKeyError
from zope.interface import Attribute, Interface, implementer

from omsh.errors import PermissionDenied
from omsh.store.content import InlineContent, MissingContent, StoredContent
from omsh.store.ids import DEFAULT_ENTERPRISE_NUMBER
from omsh.store.metadata import MetadataValue
from omsh.store.names import join_path
from omsh.store.trees import ObjectTree

if TYPE_CHECKING:  # type-only: index imports this module, so never at run time
    from omsh.store.audit import AuditLog
    from omsh.store.index import Catalog
    from omsh.store.principals import Principals


class IStoreObject(Interface):
    """Anything addressable in the tree."""

    __name__ = Attribute("Name within the parent container ('' for the root)")
    __parent__ = Attribute("The containing Container, or None for the root")
    object_id = Attribute("CDMI object ID, 40 upper-case hex characters")
    owner = Attribute("Name of the owning user (cdmi_owner)")


class IContainer(IStoreObject):
    """An object whose children are named objects."""


class IDataObject(IStoreObject):
    """An object whose value is a stream of bytes held in a blob."""


#: The key of the :class:`StoreRoot` in a ZODB connection's root mapping.
ROOT_KEY = "omsh"
#: The attribute of a historical ZODB connection naming the path its tree is
#: mounted at (``/.snapshots/NAME``), set by :mod:`omsh.store.snapshots`.
MOUNT_ATTRIBUTE = "omsh_mount"


@implementer(IStoreObject)
class StoreObject(Persistent):
    """State shared by containers and data objects."""

    __name__: str
    __parent__: Container | None
    #: The catalog's document id (:mod:`omsh.store.index`), set once indexed.
    _docid: int
    kind = "object"

    def __init__(self, name: str, owner: str, object_id: str) -> None:
        self.__name__ = name
        self.__parent__ = None
        self.object_id = object_id
        self.owner = owner
        now = time.time()
        self.ctime = now
        self.mtime = now
        self.atime = now
        self._metadata: dict[str, MetadataValue] = {}
        self.acl: tuple[Any, ...] = ()

    @property
    def metadata(self) -> dict[str, MetadataValue]:
        """A copy of the user metadata; change it with :meth:`replace_metadata`."""
        return dict(self._metadata)

    def replace_metadata(self, metadata: dict[str, MetadataValue]) -> None:
        self._metadata = dict(metadata)

    def touch(self, now: float | None = None) -> None:
        self.mtime = time.time() if now is None else now

    @property
    def path(self) -> str:
        """The absolute path, including where a snapshot's tree is mounted."""
        names = []
        node: StoreObject | None = self
        while node is not None and node.__parent__ is not None:
            names.append(node.__name__)
            node = node.__parent__
        inner = "/" + "/".join(reversed(names))
        mount: str | None = getattr(self._p_jar, MOUNT_ATTRIBUTE, None)
        if mount:
            return mount if inner == "/" else mount + inner
        return inner


@implementer(IContainer)
class Container(StoreObject):
    """Children in an OOBTree keyed by name, with a conflict-free count."""

    kind = "container"

    def __init__(self, name: str, owner: str, object_id: str) -> None:
        super().__init__(name, owner, object_id)
        self._children: OOBTree = ObjectTree()
        self._count = Length()

    def __len__(self) -> int:
        return cast(int, self._count())

    def __contains__(self, name: str) -> bool:
        return name in self._children

    def get(self, name: str) -> StoreObject | None:
        return cast("StoreObject | None", self._children.get(name))

    def names(self, start: str | None = None) -> Iterator[str]:
        """Child names in sorted order, optionally from *start* on."""
        return iter(self._children.keys(min=start))

    def items(self, after: str | None = None) -> Iterator[tuple[str, StoreObject]]:
        """Name and child pairs in name order, optionally only names after *after*."""
        if after is None:
            return iter(self._children.items())
        return iter(self._children.items(min=after, excludemin=True))

    def attach(self, child: StoreObject, name: str) -> None:
        """Link *child* under *name*; the caller has checked the name is free."""
        child.__name__ = name
        child.__parent__ = self
        self._children[name] = child
        self._count.change(1)

    def detach(self, name: str) -> StoreObject:
        child: StoreObject = self._children.pop(name)
        self._count.change(-1)
        return child

    def _p_resolveConflict(
        self, old: dict[str, Any], committed: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge two concurrent changes of this container's own record (ARCHITECTURE §4).

        Every write into a container touches its mtime, so writers into one
        container change this record at once; the children and their count
        are records of their own that merge themselves (``OOBTree``,
        ``Length``).  Here each attribute only one side changed takes that
        side's value, times take the later of the two, and anything else
        both changed differently (metadata, ACL, owner, name) is a real
        conflict: ``ConflictError``, and the transaction is retried.  ZODB
        calls this on the storage server under ZEO, so the server must be
        able to import this module.
        """
        return resolve_states(old, committed, new, merge_latest=MERGED_TIMES)


class VirtualContainer(Container):
    """A container made up on each read (``/.snapshots``, ``/.views``): never stored.

    It shows the tree root's ID and times (it is a way into that tree) and
    refuses every change with :attr:`refusal`.
    """

    #: Why nothing can be changed here ("snapshots are read-only").
    refusal = "read-only"

    def __init__(self, tree: Container, name: str, path: str) -> None:
        super().__init__(name, tree.owner, tree.object_id)
        self.ctime, self.mtime, self.atime = tree.ctime, tree.mtime, tree.atime
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def attach(self, child: StoreObject, name: str) -> None:
        raise PermissionDenied(join_path(self._path, name), self.refusal)

    def detach(self, name: str) -> StoreObject:
        raise PermissionDenied(join_path(self._path, name), self.refusal)


@implementer(IDataObject)
class DataObject(StoreObject):
    """Bytes in the database or a ZODB blob, with the size and hash computed while storing.

    Content of at most :data:`~omsh.store.content.INLINE_LIMIT` bytes is an
    :class:`~omsh.store.content.InlineContent` record, larger content a
    :class:`~ZODB.blob.Blob`; an empty object has neither.  Objects stored
    before inline content existed keep their blob, small or not: readers go
    through :meth:`stored_content` and :meth:`open_content`, which serve both.
    """

    #: How a CDMI client sent the current value: (encoding, sha256 it was sent
    #: for); set by :func:`omsh.cdmi.values.remember_encoding`.
    value_encoding: tuple[str, str]
    kind = "object"
    #: The content kept in the database; None when it is in :attr:`blob` (the
    #: class default also serves records from before inline content).
    inline: InlineContent | None = None

    def __init__(self, name: str, owner: str, object_id: str, mimetype: str) -> None:
        super().__init__(name, owner, object_id)
        self.mimetype = mimetype
        self.size = 0
        self.sha256 = ""
        self.blob: Blob | None = None

    def keep_inline(self, data: bytes) -> None:
        """Hold *data* in the database from now on (a new record; none when empty)."""
        self.inline = InlineContent(data) if data else None
        self.blob = None

    def share_inline(self, content: InlineContent) -> None:
        """Hold the same database record of bytes as another object (a copy)."""
        self.inline, self.blob = content, None

    def blob_for_writing(self) -> Blob:
        """The blob that takes a file as the content from now on (the old one, if any)."""
        if self.blob is None:
            self.blob = Blob()
        self.inline = None
        return self.blob

    def stored_content(self) -> StoredContent:
        """The content, readable after the transaction ends (see :class:`StoredContent`).

        A blob written in this transaction is read from its uncommitted
        file.  Raises :class:`MissingContent` (one line for the user) rather
        than ZODB's ``POSKeyError`` when the blob file has gone missing.
        """
        if self.blob is None:
            data = self.inline.data if self.inline is not None else b""
            return StoredContent(len(data), data=data)
        # ZODB has no public "is this blob uncommitted" test; committed() raises then.
        if self.blob._p_blob_uncommitted:
            with self.blob.open("r") as stream:
                return StoredContent(self.size, filename=cast(str, stream.name))
        try:
            return StoredContent(self.size, filename=cast(str, self.blob.committed()))
        except POSKeyError:
            raise MissingContent(self.path) from None


#: Attributes two concurrent changes merge by taking the later time.
MERGED_TIMES = frozenset({"mtime", "atime"})


def resolve_states(
    old: dict[str, Any],
    committed: dict[str, Any],
    new: dict[str, Any],
    *,
    merge_latest: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A three-way merge of persistent states, attribute by attribute.

    An attribute one side left as it was takes the other's value; one in
    *merge_latest* that both changed takes the larger; any other that both
    changed to different values raises ``ConflictError``.  Persistent
    references compare by object id (ZODB hands them over unloaded).
    """
    merged: dict[str, Any] = {}
    missing = object()
    for key in old.keys() | committed.keys() | new.keys():
        before = old.get(key, missing)
        theirs = committed.get(key, missing)
        ours = new.get(key, missing)
        if _same(theirs, ours) or _same(before, ours):
            value = theirs
        elif _same(before, theirs):
            value = ours
        elif key in merge_latest and theirs is not missing and ours is not missing:
            value = max(theirs, ours)
        else:
            raise ConflictError(f"both changed {key!r}")
        if value is not missing:
            merged[key] = value
    return merged


def _same(left: object, right: object) -> bool:
    """Equal, for a merge: never raising (unloaded references may refuse to compare)."""
    if left is right:
        return True
    try:
        return bool(left == right)
    except Exception:  # a PersistentReference to a weak or cross-database object
        return False


def walk(obj: StoreObject) -> Iterator[tuple[str, StoreObject]]:
    """*obj* and everything below it, depth first in name order.

    Yields ``(relative_path, object)``; the relative path of *obj* itself is
    ``""``, of a grandchild ``"child/grandchild"``.  A stack of iterators
    rather than recursion, so a tree deeper than Python's recursion limit is
    walked like any other and a wide container is never copied into a list.
    """
    yield "", obj
    if not isinstance(obj, Container):
        return
    stack: list[tuple[str, Iterator[tuple[str, StoreObject]]]] = [("", obj.items())]
    while stack:
        prefix, items = stack[-1]
        for name, child in items:
            relative = f"{prefix}/{name}" if prefix else name
            yield relative, child
            if isinstance(child, Container):
                stack.append((relative, child.items()))
                break
        else:
            stack.pop()


class StoreRoot(Persistent):
    """What lives under ``root['omsh']``: the tree, the ID map and the principals.

    Also ``audit`` (:class:`~omsh.store.audit.AuditLog`), ``catalog``
    (:class:`~omsh.store.index.Catalog`), ``snapshots`` and ``views``, which
    :func:`omsh.store.schema.upgrade` adds: a new root starts at
    ``schema_version`` 1, as the oldest stores did, and is brought up to
    date the same way.
    """

    audit: AuditLog
    catalog: Catalog
    #: Named snapshots by name (:mod:`omsh.store.snapshots`), since schema 6.
    snapshots: OOBTree
    #: Saved views by (owner, name) (:mod:`omsh.store.views`), since schema 7.
    views: OOBTree

    def __init__(self, tree: Container, principals: Principals) -> None:
        self.tree = tree
        self.by_id: OOBTree = ObjectTree()
        self.by_id[tree.object_id] = tree
        self.principals = principals
        self.enterprise_number = DEFAULT_ENTERPRISE_NUMBER
        self.schema_version = 1
