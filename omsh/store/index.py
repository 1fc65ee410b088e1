"""Metadata indexes, kept in the same transaction as the tree they describe.

Every system field (DESIGN §4) and every user metadata key has a
:class:`FieldIndex`: a forward ``OOBTree`` from a typed sort key to the set
of document ids holding it, and a reverse ``IOBTree`` from document id to
key.  Values are keyed as ``(rank, value)`` so that each type sorts and
compares only with itself — ints and floats share the number rank, strings,
booleans and timestamps each have their own — which is how a comparison
across types never matches.

:class:`Catalog` assigns document ids (random 31-bit integers, so concurrent
writers don't fight over a counter), maps them back to objects, and is
updated by :class:`~omsh.store.view.StoreView` wherever it changes the tree;
a query therefore never misses a stored object nor returns a deleted one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from BTrees.IIBTree import IITreeSet, multiunion
from BTrees.IOBTree import IOBTree
from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from persistent import Persistent

from omsh.store.model import Container, DataObject, StoreObject

RANK_BOOL = 0
RANK_NUMBER = 1
RANK_STRING = 2
RANK_DATETIME = 3
RANK_NAMES = {
    RANK_BOOL: "bool",
    RANK_NUMBER: "number",
    RANK_STRING: "string",
    RANK_DATETIME: "datetime",
}

SortKey = tuple[int, Any]

#: System fields every object is indexed under (DESIGN §4).
SYSTEM_FIELDS = (
    "name",
    "path",
    "type",
    "mimetype",
    "owner",
    "cdmi_size",
    "cdmi_ctime",
    "cdmi_mtime",
    "cdmi_hash",
    "objectid",
)
_MAX_DOCID = 2**31 - 1
#: User metadata keys live under this prefix, so they never clash with system fields.
USER_FIELD_PREFIX = "m:"


def sort_key(value: object) -> SortKey | None:
    """The typed key of a metadata value; None for what can't be indexed."""
    if isinstance(value, bool):
        return (RANK_BOOL, int(value))
    if isinstance(value, int | float):
        return (RANK_NUMBER, value)
    if isinstance(value, str):
        return (RANK_STRING, value)
    if isinstance(value, datetime):
        return (RANK_DATETIME, value.timestamp())
    return None


def system_values(obj: StoreObject) -> dict[str, SortKey]:
    keys: dict[str, SortKey] = {
        "name": (RANK_STRING, obj.__name__),
        "path": (RANK_STRING, obj.path),
        "type": (RANK_STRING, "container" if isinstance(obj, Container) else "object"),
        "owner": (RANK_STRING, obj.owner),
        "cdmi_ctime": (RANK_DATETIME, obj.ctime),
        "cdmi_mtime": (RANK_DATETIME, obj.mtime),
        "objectid": (RANK_STRING, obj.object_id),
    }
    if isinstance(obj, DataObject):
        keys["cdmi_size"] = (RANK_NUMBER, obj.size)
        keys["mimetype"] = (RANK_STRING, obj.mimetype)
        keys["cdmi_hash"] = (RANK_STRING, obj.sha256)
    else:
        keys["cdmi_size"] = (RANK_NUMBER, len(obj))  # type: ignore[arg-type]
    return keys


def indexed_values(obj: StoreObject) -> dict[str, SortKey]:
    """Every (field, key) *obj* is indexed under."""
    keys: dict[str, SortKey] = {}
    for name, value in obj.metadata.items():
        key = sort_key(value)
        if key is not None:
            keys[USER_FIELD_PREFIX + name] = key
    keys.update(system_values(obj))
    return keys


class FieldIndex(Persistent):
    """One field: typed key -> document ids, and back."""

    def __init__(self) -> None:
        self._forward = OOBTree()
        self._reverse = IOBTree()
        self._by_rank = IOBTree()
        self._count = Length()

    def __len__(self) -> int:
        return self._count()

    def insert(self, docid: int, key: SortKey) -> None:
        old = self._reverse.get(docid)
        if old == key:
            return
        if old is not None:
            self.remove(docid)
        docids = self._forward.get(key)
        if docids is None:
            docids = self._forward[key] = IITreeSet()
        docids.insert(docid)
        self._reverse[docid] = key
        rank_docs = self._by_rank.get(key[0])
        if rank_docs is None:
            rank_docs = self._by_rank[key[0]] = IITreeSet()
        rank_docs.insert(docid)
        self._count.change(1)

    def remove(self, docid: int) -> None:
        key = self._reverse.pop(docid, None)
        if key is None:
            return
        docids = self._forward.get(key)
        if docids is not None:
            docids.remove(docid)
            if not docids:
                del self._forward[key]
        rank_docs = self._by_rank.get(key[0])
        if rank_docs is not None and docid in rank_docs:
            rank_docs.remove(docid)
        self._count.change(-1)

    def key_of(self, docid: int) -> SortKey | None:
        return self._reverse.get(docid)

    # -- lookups -------------------------------------------------------

    def equal(self, key: SortKey) -> IITreeSet:
        return self._forward.get(key, IITreeSet())

    def of_rank(self, rank: int) -> IITreeSet:
        return self._by_rank.get(rank, IITreeSet())

    def docids(self) -> IITreeSet:
        return multiunion(list(self._by_rank.values()))

    def range(
        self,
        rank: int,
        low: Any = None,
        high: Any = None,
        *,
        include_low: bool = True,
        include_high: bool = True,
    ) -> IITreeSet:
        """Documents whose key of *rank* lies between *low* and *high* (None: open)."""
        minimum: tuple[Any, ...] = (rank,) if low is None else (rank, low)
        maximum: tuple[Any, ...] = (rank + 1,) if high is None else (rank, high)
        sets = self._forward.values(
            min=minimum,
            max=maximum,
            excludemin=low is not None and not include_low,
            excludemax=high is None or not include_high,
        )
        return multiunion(list(sets))

    def keys_between(self, rank: int, low: Any, high: Any) -> Iterator[tuple[Any, IITreeSet]]:
        """(value, docids) pairs with ``low <= value < high`` in one rank."""
        for key, docids in self._forward.items(min=(rank, low), max=(rank, high), excludemax=True):
            yield key[1], docids

    def keys_of_rank(self, rank: int) -> Iterator[tuple[Any, IITreeSet]]:
        """(value, docids) pairs of one rank in order, for pattern matching."""
        for key, docids in self._forward.items(min=(rank,), max=(rank + 1,), excludemax=True):
            yield key[1], docids


class Catalog(Persistent):
    """All field indexes plus the document-id map."""

    def __init__(self) -> None:
        self.fields: OOBTree = OOBTree()
        self._objects = IOBTree()
        self._fields_of = IOBTree()
        self._count = Length()

    def __len__(self) -> int:
        return self._count()

    def field(self, name: str) -> FieldIndex | None:
        return self.fields.get(name)

    def all_docids(self) -> IITreeSet:
        return IITreeSet(self._objects.keys())

    def object(self, docid: int) -> StoreObject:
        return self._objects[docid]

    def _docid(self, obj: StoreObject) -> int:
        docid = getattr(obj, "_docid", None)
        if docid is not None and self._objects.get(docid) is obj:
            return docid
        while True:
            docid = random.randint(1, _MAX_DOCID)
            if docid not in self._objects:
                break
        obj._docid = docid
        self._objects[docid] = obj
        self._count.change(1)
        return docid

    def index(self, obj: StoreObject) -> None:
        """(Re)index *obj*; the root container is not indexed."""
        if obj.__parent__ is None:
            return
        docid = self._docid(obj)
        values = indexed_values(obj)
        for stale in set(self._fields_of.get(docid, ())) - values.keys():
            self.fields[stale].remove(docid)
        for name, key in values.items():
            index = self.fields.get(name)
            if index is None:
                index = self.fields[name] = FieldIndex()
            index.insert(docid, key)
        names = tuple(sorted(values))
        if self._fields_of.get(docid) != names:
            self._fields_of[docid] = names

    def unindex(self, obj: StoreObject) -> None:
        docid = getattr(obj, "_docid", None)
        if docid is None or self._objects.get(docid) is not obj:
            return
        for name in self._fields_of.get(docid, ()):
            self.fields[name].remove(docid)
        del self._fields_of[docid]
        del self._objects[docid]
        self._count.change(-1)

    def index_all(self, objects: Iterable[StoreObject]) -> int:
        count = 0
        for obj in objects:
            self.index(obj)
            count += 1
        return count


def catalog_problems(catalog: Catalog, tree: StoreObject) -> list[str]:
    """Differences between the catalog and the tree, one line each (``omsh check``)."""
    from omsh.store.model import walk

    problems = []
    seen: set[int] = set()
    for _, obj in walk(tree):
        if obj.__parent__ is None:
            continue
        docid = getattr(obj, "_docid", None)
        if docid is None or catalog._objects.get(docid) is not obj:
            problems.append(f"not indexed: {obj.path}")
            continue
        seen.add(docid)
        expected = indexed_values(obj)
        for name, key in expected.items():
            index = catalog.field(name)
            actual = index.key_of(docid) if index is not None else None
            if actual != key:
                problems.append(f"stale {name}: {obj.path}")
        if set(catalog._fields_of.get(docid, ())) != set(expected):
            problems.append(f"stale field list: {obj.path}")
    for docid in catalog._objects:
        if docid not in seen:
            problems.append(f"indexed but not in the tree: docid {docid}")
    return problems


def rebuild_catalog(root: Any, progress: Any = None) -> int:
    """Replace *root*'s catalog by a fresh one built from the tree.

    *progress*, if given, is called as ``progress(done, total)`` now and then.
    """
    from omsh.store.model import walk

    total = len(root.by_id) - 1
    catalog = Catalog()
    done = 0
    for _, obj in walk(root.tree):
        if obj.__parent__ is None:
            continue
        catalog.index(obj)
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(done, total)
    root.catalog = catalog
    if progress is not None:
        progress(done, total)
    return done
