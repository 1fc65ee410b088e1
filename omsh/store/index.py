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
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeAlias

from BTrees.IIBTree import IISet, IITreeSet, multiunion
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
#: A set of document ids as the BTrees set operations take and return it.
DocSet: TypeAlias = "IISet | IITreeSet"
#: What a forward index holds per key: one document id, or a set once two share it.
DocIds: TypeAlias = "int | IITreeSet"

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
#: Document ids are taken in runs of at most this many consecutive numbers.
DOCID_RUN = 4096
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


_FIELD_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _field_list(values: dict[str, SortKey]) -> tuple[str, ...]:
    """The sorted field names of *values* as one shared tuple per distinct list.

    Most objects have the same fields; sharing the tuple lets a B-tree
    bucket pickle it once for all its entries instead of once per document.
    """
    names = tuple(sorted(values))
    shared = _FIELD_LISTS.get(names)
    if shared is None:
        if len(_FIELD_LISTS) >= 10_000:
            _FIELD_LISTS.clear()
        shared = _FIELD_LISTS[names] = tuple(sys.intern(name) for name in names)
    return shared


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
        held = self._forward.get(key)
        if held is None:
            self._forward[key] = docid
        elif isinstance(held, int):
            self._forward[key] = IITreeSet((held, docid))
        else:
            held.insert(docid)
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
        held = self._forward.get(key)
        if isinstance(held, int):
            if held == docid:
                del self._forward[key]
        elif held is not None and docid in held:
            held.remove(docid)
            if not held:
                del self._forward[key]
            elif held.minKey() == held.maxKey():
                self._forward[key] = held.minKey()
        rank_docs = self._by_rank.get(key[0])
        if rank_docs is not None and docid in rank_docs:
            rank_docs.remove(docid)
        self._count.change(-1)

    def key_of(self, docid: int) -> SortKey | None:
        return self._reverse.get(docid)

    def keys_of(self, docids: Collection[int]) -> dict[int, SortKey | None]:
        """The key of each of *docids* (None where it has none), in one C-level pass.

        Listing thousands of results is dominated by these lookups; a
        Python call per document would cost several times as much.
        """
        return dict(zip(docids, map(self._reverse.get, docids), strict=True))

    def problems(self) -> list[str]:
        """Where the forward, reverse and per-type indexes disagree (``omsh check``).

        Queries read the forward index and results the reverse one, so both
        must list exactly the same (document, value) pairs.
        """
        problems = []
        listed = 0
        for key, held in self._forward.items():
            for docid in (held,) if isinstance(held, int) else held:
                listed += 1
                if self._reverse.get(docid) != key:
                    problems.append(f"document {docid} is listed under a value it does not have")
        by_rank: dict[int, list[int]] = {}
        for docid, key in self._reverse.items():
            by_rank.setdefault(key[0], []).append(docid)
        indexed = sum(len(docids) for docids in by_rank.values())
        if listed != indexed:
            problems.append(f"{indexed} documents have values but {listed} are listed")
        for rank in sorted(set(by_rank) | set(self._by_rank.keys())):
            if list(self.of_rank(rank)) != by_rank.get(rank, []):
                problems.append(f"the documents with {RANK_NAMES.get(rank, rank)} values are wrong")
        if self._count() != indexed:
            problems.append(f"counts {self._count()} documents, holds {indexed}")
        return problems

    # -- lookups -------------------------------------------------------

    def equal(self, key: SortKey) -> DocSet:
        """The documents whose key is *key* (not to be modified)."""
        held = self._forward.get(key)
        if held is None:
            return IISet()
        if isinstance(held, int):
            return IISet((held,))
        return held

    def of_rank(self, rank: int) -> DocSet:
        """The documents whose value has *rank*'s type (not to be modified)."""
        return self._by_rank.get(rank, IISet())

    def docids(self) -> DocSet:
        return multiunion(list(self._by_rank.values()))

    def range(
        self,
        rank: int,
        low: Any = None,
        high: Any = None,
        *,
        include_low: bool = True,
        include_high: bool = True,
    ) -> DocSet:
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

    def keys_between(self, rank: int, low: Any, high: Any) -> Iterator[tuple[Any, DocIds]]:
        """(value, docids) pairs with ``low <= value < high`` in one rank."""
        for key, docids in self._forward.items(min=(rank, low), max=(rank, high), excludemax=True):
            yield key[1], docids

    def keys_of_rank(self, rank: int) -> Iterator[tuple[Any, DocIds]]:
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

    def all_docids(self) -> DocSet:
        return IISet(self._objects.keys())

    def object(self, docid: int) -> StoreObject:
        return self._objects[docid]

    def _docid(self, obj: StoreObject) -> int:
        """*obj*'s document id, claiming one if it has none in this catalog.

        An id the object already carries is kept when no other object holds
        it (after a rebuild, so a rebuild rewrites no object); a copy that
        carries its source's id gets a new one.
        """
        docid = getattr(obj, "_docid", None)
        if docid is not None:
            holder = self._objects.get(docid)
            if holder is obj:
                return docid
            if holder is None:
                self._claim(docid, obj)
                return docid
        docid = self._next_free_docid()
        obj._docid = docid
        self._claim(docid, obj)
        return docid

    def _claim(self, docid: int, obj: StoreObject) -> None:
        self._objects[docid] = obj
        self._count.change(1)

    def _next_free_docid(self) -> int:
        """A free id: the one after the last this connection took, else a random one.

        Consecutive ids keep one writer's inserts in the same few B-tree
        buckets (a batch of 10,000 new objects touches a handful of buckets
        per field, not thousands); jumping to a random place every
        ``DOCID_RUN`` ids or on a collision keeps concurrent writers apart,
        so they rarely conflict on a bucket (the scheme of Zope's catalog).
        """
        docid = getattr(self, "_v_next_docid", 0)
        while not 0 < docid <= _MAX_DOCID or docid % DOCID_RUN == 0 or docid in self._objects:
            docid = random.randint(1, _MAX_DOCID)
        self._v_next_docid = docid + 1
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
        names = _field_list(values)
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


#: A long walk lets ZODB trim its object cache this often (objects).
_GC_EVERY = 10_000
#: A rebuild writes what it has built to a savepoint this often, so memory
#: stays bounded however big the store is; it is still one transaction.
_SAVEPOINT_EVERY = 100_000


def _indexed_objects(tree: StoreObject) -> Iterator[StoreObject]:
    """Every object below the root, letting the cache shrink as the walk goes."""
    from omsh.store.model import walk

    jar = tree._p_jar
    for count, (_, obj) in enumerate(walk(tree), 1):
        if obj.__parent__ is not None:
            yield obj
        if jar is not None and count % _GC_EVERY == 0:
            jar.cacheGC()


def catalog_problems(catalog: Catalog, tree: StoreObject) -> list[str]:
    """Differences between the catalog and the tree, one line each (``omsh check``).

    Every object must be indexed under exactly the values it has now, every
    field's forward index (what queries read) must agree with its reverse
    index, and nothing may be indexed that is no longer in the tree.
    """
    problems = []
    seen: set[int] = set()
    for obj in _indexed_objects(tree):
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
    for name, index in catalog.fields.items():
        problems += [f"field {name}: {problem}" for problem in index.problems()]
    return problems


def rebuild_catalog(root: Any, progress: Callable[[int, int], None] | None = None) -> int:
    """Replace *root*'s catalog by a fresh one built from the tree; returns objects indexed.

    One transaction (the caller's), written to savepoints as it grows.
    Objects keep their document ids, so no object is rewritten.  *progress*,
    if given, is called as ``progress(done, expected)`` now and then, where
    *expected* is the old catalog's count (a guess: that catalog may be wrong).
    """
    expected = len(root.catalog)
    catalog = root.catalog = Catalog()
    done = 0
    for obj in _indexed_objects(root.tree):
        catalog.index(obj)
        done += 1
        if done % _SAVEPOINT_EVERY == 0:
            transaction_of(root).savepoint(optimistic=True)
        if progress is not None and done % 1000 == 0:
            progress(done, expected)
    if progress is not None:
        progress(done, done)
    return done


def transaction_of(obj: Persistent) -> Any:
    """The transaction *obj*'s connection is in (the store runs explicit managers)."""
    return obj._p_jar.transaction_manager.get()
