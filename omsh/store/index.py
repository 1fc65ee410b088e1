"""Metadata indexes, kept in the same transaction as the tree they describe.

Every system field (ARCHITECTURE §6.3) and every user metadata key has a
:class:`FieldIndex`: forward from a typed sort key to the documents holding
it, reverse from a document to its value.  Keys are ``(rank, value)`` so
that each type sorts and compares only with itself — ints and floats share
the number rank, strings, booleans and timestamps each have their own —
which is how a comparison across types never matches.

Built for millions of objects: a key held by one document costs no record
of its own (most values of sizes, times, paths and names are unique), the
number of documents in a key range is counted in C, and result paths are
read from the reverse index in one pass.

:class:`Catalog` assigns document ids (31-bit integers taken in runs from a
random start, so a writer's inserts stay together and concurrent writers
stay apart), maps them back to objects, and is updated by
:class:`~omsh.store.view.StoreView` wherever it changes the tree; a query
therefore never misses a stored object nor returns a deleted one.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, TypeVar, cast

from BTrees.IIBTree import IISet, IITreeSet, multiunion
from BTrees.IOBTree import IOBTree
from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from persistent import Persistent

from omsh.store.model import Container, DataObject, StoreObject, walk
from omsh.store.system import object_type, size_of
from omsh.store.trees import IntObjectTree, IntTreeSet, ObjectIntTree, ObjectTree

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

T = TypeVar("T")
SortKey = tuple[int, Any]
#: A set of document ids as the BTrees set operations take and return it.
DocSet: TypeAlias = "IISet | IITreeSet"
#: What a forward index holds per key: one document id, or a set once two share it.
DocIds: TypeAlias = "int | IITreeSet"

#: System fields of a container that the catalog does not keep (see :func:`catalogued_values`).
LIVE_CONTAINER_FIELDS = ("cdmi_size", "cdmi_mtime")
#: System fields every object is indexed under (ARCHITECTURE §6.3).
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
#: A key's value in a field's ``_unique`` once several documents hold it (never a docid).
SHARED = 0
#: Document ids are taken in runs of at most this many consecutive numbers.
DOCID_RUN = 4096
#: User metadata keys live under this prefix, so they never clash with system fields.
USER_FIELD_PREFIX = "m:"
#: Looking for an object below a container that holds a metadata key (for
#: completion) looks at most this many documents per key, and this many in all.
KEY_SCAN_PER_FIELD = 500
KEY_SCAN_TOTAL = 10_000


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
    """The system fields of *obj* as the catalog keys them (see :mod:`omsh.store.system`)."""
    keys: dict[str, SortKey] = {
        "name": (RANK_STRING, obj.__name__),
        "path": (RANK_STRING, obj.path),
        "type": (RANK_STRING, object_type(obj)),
        "owner": (RANK_STRING, obj.owner),
        "cdmi_size": (RANK_NUMBER, size_of(obj)),
        "cdmi_ctime": (RANK_DATETIME, obj.ctime),
        "cdmi_mtime": (RANK_DATETIME, obj.mtime),
        "objectid": (RANK_STRING, obj.object_id),
    }
    if isinstance(obj, DataObject):
        keys["mimetype"] = (RANK_STRING, obj.mimetype)
        keys["cdmi_hash"] = (RANK_STRING, obj.sha256)
    return keys


def indexed_values(obj: StoreObject) -> dict[str, SortKey]:
    """Every (field, key) *obj* has for a query: its metadata and system fields."""
    keys: dict[str, SortKey] = {}
    for name, value in obj.metadata.items():
        key = sort_key(value)
        if key is not None:
            keys[USER_FIELD_PREFIX + name] = key
    keys.update(system_values(obj))
    return keys


def catalogued_values(obj: StoreObject) -> dict[str, SortKey]:
    """What the catalog keeps of *obj*: :func:`indexed_values` less a container's live fields.

    A container's size and mtime change with every child added or removed.
    Kept in the catalog, every writer into one container would rewrite the
    same index entries and conflict with every other (ARCHITECTURE §4); so
    they are read from the container itself, whose child count
    (``BTrees.Length``) and mtime (``Container._p_resolveConflict``) merge
    concurrent changes.  Queries on them look at containers one by one
    (:func:`omsh.store.query.evaluate`).
    """
    keys = indexed_values(obj)
    if isinstance(obj, Container):
        for field in LIVE_CONTAINER_FIELDS:
            del keys[field]
    return keys


def catalogued_value(obj: StoreObject, field: str) -> SortKey | None:
    """The one field *field* of :func:`catalogued_values`, without computing the others."""
    if field.startswith(USER_FIELD_PREFIX):
        value = obj.metadata.get(field.removeprefix(USER_FIELD_PREFIX))
        return None if value is None else sort_key(value)
    if isinstance(obj, Container) and field in LIVE_CONTAINER_FIELDS:
        return None
    if field == "cdmi_mtime":  # the one every edit changes: read directly
        return (RANK_DATETIME, obj.mtime)
    return system_values(obj).get(field)


_FIELD_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _field_list(values: Collection[str]) -> tuple[str, ...]:
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


def _stored(key: SortKey) -> Any:
    """How the reverse index keeps *key*: strings and numbers bare, the rest as the key.

    Booleans and timestamps keep their rank, as Python would read them back
    as numbers; everything else is told apart by its type.  Bare values make
    the reverse index smaller and let result paths be read without unpacking.
    Strings are interned: a bucket then pickles a value that many of its
    documents share (a mimetype, an owner, a category) once.
    """
    rank, value = key
    if rank == RANK_STRING:
        return sys.intern(value) if type(value) is str else value
    if rank == RANK_NUMBER:
        return value
    return key


def _key(stored: Any) -> SortKey:
    """The typed key of a value kept by :func:`_stored`."""
    if type(stored) is tuple:
        return stored
    return (RANK_STRING, stored) if type(stored) is str else (RANK_NUMBER, stored)


@dataclass(frozen=True)
class KeyRange:
    """The keys of one type (*rank*) from *low* to *high*; None leaves a side open."""

    rank: int
    low: Any = None
    high: Any = None
    include_low: bool = True
    include_high: bool = True

    def bounds(self) -> dict[str, Any]:
        """The range as B-tree ``keys()``/``values()``/``items()`` arguments take it."""
        rank, low, high = self.rank, self.low, self.high
        return {
            "min": (rank,) if low is None else (rank, low),
            "max": (rank + 1,) if high is None else (rank, high),
            "excludemin": low is not None and not self.include_low,
            "excludemax": high is None or not self.include_high,
        }


class FieldIndex(Persistent):
    """One field: typed key -> document ids, and back.

    Forward, a key held by one document maps to that document's id in
    ``_unique`` (an ``OIBTree``: no record per key, and the number of
    documents in a key range is counted in C), a key held by several to an
    ``IITreeSet`` in ``_shared``.  When a second document takes a key, the
    key's entry in ``_unique`` becomes :data:`SHARED` and its set is made;
    it stays so, even when its documents go.  Every change of how a key is
    held thus rewrites its ``_unique`` entry, so two writers changing it at
    once collide on that record (and one is retried) instead of being
    merged by ZODB, bucket by bucket, into an index that lists a key twice
    or loses a document (ARCHITECTURE §4).  Reverse, ``_reverse`` maps each document to its value
    (see :func:`_stored`), and ``_rank_counts`` how many of them have a
    value of each type: the documents of one type (for ``!=`` and the negated
    operators) are then, in the usual field of one type, simply all of them.
    """

    def __init__(self) -> None:
        self._unique = ObjectIntTree()
        self._shared = ObjectTree()
        self._reverse = IntObjectTree()
        self._rank_counts = IOBTree()

    def __len__(self) -> int:
        # Summed over the types rather than kept in a counter of its own: a
        # new object then writes one record less per field (stores made
        # before keep an unused ``_count``).
        return sum(counter() for counter in self._rank_counts.values())

    def insert(self, docid: int, key: SortKey) -> None:
        old = self._reverse.get(docid)
        if old is not None:
            old_key = _key(old)
            if old_key == key:
                return
            self._unpost(docid, old_key)
            if old_key[0] != key[0]:
                self._count_rank(old_key[0], -1)
                self._count_rank(key[0], 1)
        else:
            self._count_rank(key[0], 1)
        self._post(docid, key)
        self._reverse[docid] = _stored(key)

    def remove(self, docid: int) -> None:
        stored = self._reverse.pop(docid, None)
        if stored is None:
            return
        key = _key(stored)
        self._unpost(docid, key)
        self._count_rank(key[0], -1)

    def _post(self, docid: int, key: SortKey) -> None:
        """List *docid* under *key*."""
        shared = self._shared.get(key)
        if shared is not None:
            shared.insert(docid)
            return
        single = self._unique.get(key)
        if single is None:
            self._unique[key] = docid
        else:  # the key stays in _unique, marked: see the class docstring
            self._unique[key] = SHARED
            self._shared[key] = IntTreeSet((single, docid))

    def _unpost(self, docid: int, key: SortKey) -> None:
        """Take *docid* off *key*'s list."""
        if self._unique.get(key) == docid:
            del self._unique[key]
            return
        shared = self._shared.get(key)
        if shared is not None and docid in shared:
            # The set stays, even with one document or none: moving the key
            # back (or deleting it) would touch records that a concurrent
            # insert into this set does not, and ZODB would merge the two
            # into an index that lost that insert (ARCHITECTURE §4).
            shared.remove(docid)

    def _count_rank(self, rank: int, change: int) -> None:
        counter = self._rank_counts.get(rank)
        if counter is None:
            counter = self._rank_counts[rank] = Length()
        counter.change(change)

    def mark_shared(self) -> None:
        """Give every shared key its :data:`SHARED` mark (indexes made before schema 8)."""
        for key in self._shared:
            if self._unique.get(key) != SHARED:
                self._unique[key] = SHARED

    def key_of(self, docid: int) -> SortKey | None:
        stored = self._reverse.get(docid)
        return None if stored is None else _key(stored)

    def keys_of(self, docids: Collection[int]) -> dict[int, SortKey | None]:
        """The key of each of *docids* (None where it has none)."""
        return {
            docid: None if stored is None else _key(stored)
            for docid, stored in self.stored_values(docids).items()
        }

    def stored_values(self, docids: Collection[int]) -> dict[int, Any]:
        """What the reverse index keeps for each of *docids* (None where nothing), in C.

        For a field of strings, such as ``path``, that is the value itself.
        Listing thousands of results is dominated by these lookups; a Python
        call per document would cost several times as much.
        """
        return dict(zip(docids, map(self._reverse.get, docids), strict=True))

    def total(self, docids: Iterable[int] | None = None) -> int:
        """The sum of the values of *docids* (of every document when None), in C.

        For a field of numbers (``cdmi_size``): what ``df`` and ``du`` add
        up without loading an object.  A document without a value adds 0.
        """
        values = self._reverse.values() if docids is None else map(self._reverse.get, docids)
        return sum(filter(None, values))

    def problems(self) -> list[str]:
        """Where the forward, reverse and per-type indexes disagree (``omsh check``).

        Queries read the forward index and results the reverse one, so both
        must list exactly the same (document, value) pairs.
        """
        problems = []
        listed = 0

        def expect(docid: int, key: SortKey) -> None:
            nonlocal listed
            listed += 1
            if self.key_of(docid) != key:
                problems.append(f"document {docid} is listed under a value it does not have")

        for key, docid in _trimming(self._unique.items(), self):
            if docid == SHARED:
                if key not in self._shared:
                    problems.append("a value is marked as shared but has no documents' set")
                continue
            expect(docid, key)
            if key in self._shared:
                problems.append("a value is listed as held by one document and by several")
        for key, docids in _trimming(self._shared.items(), self):
            if self._unique.get(key) != SHARED:
                problems.append("a value's set of documents is not marked as shared")
            for docid in docids:
                expect(docid, key)
        ranks = Counter(_key(stored)[0] for stored in _trimming(self._reverse.values(), self))
        indexed = ranks.total()
        if listed != indexed:
            problems.append(f"{indexed} documents have values but {listed} are listed")
        for rank in sorted(set(ranks) | set(self._rank_counts.keys())):
            if self.count_of_rank(rank) != ranks[rank]:
                problems.append(f"the count of {RANK_NAMES.get(rank, rank)} values is wrong")
        return problems

    # -- lookups -------------------------------------------------------

    def equal(self, key: SortKey) -> DocSet:
        """The documents whose key is *key* (not to be modified)."""
        single = self._unique.get(key)
        if single is not None and single != SHARED:
            return IISet((single,))
        return self._shared.get(key) or IISet()

    def count_equal(self, key: SortKey) -> int:
        if self._unique.get(key, SHARED) != SHARED:
            return 1
        shared = self._shared.get(key)
        return 0 if shared is None else len(shared)

    def of_rank(self, rank: int) -> DocSet:
        """The documents whose value has *rank*'s type.

        In a field of one type that is every document in it, read off the
        reverse index in order; otherwise the rank's whole key range.
        """
        held = self.count_of_rank(rank)
        if not held:
            return IISet()
        if held == len(self):
            return self.docids()
        return self.range(KeyRange(rank))

    def count_of_rank(self, rank: int) -> int:
        counter = self._rank_counts.get(rank)
        return 0 if counter is None else counter()

    def docids(self) -> DocSet:
        """Every document with a value in this field."""
        return IITreeSet(self._reverse.keys())

    def range(self, keys: KeyRange) -> DocSet:
        """The documents whose key lies in *keys*."""
        bounds = keys.bounds()
        # Bare ids into an IITreeSet: multiunion takes them too, but 5x slower.
        found = IITreeSet(self._unique.values(**bounds))
        if SHARED in found:  # keys whose documents are in the sets below
            found.remove(SHARED)
        shared = list(self._shared.values(**bounds))
        return multiunion([found, *shared]) if shared else found

    def count_range(self, keys: KeyRange) -> int:
        """How many documents :meth:`range` would return, without making the set.

        The single-document keys are counted by the length of a B-tree key
        range (bucket by bucket, in C); only shared keys are visited.
        """
        bounds = keys.bounds()
        shared = list(self._shared.values(**bounds))
        # Each shared key also has its SHARED mark among the unique values.
        return len(self._unique.values(**bounds)) - len(shared) + sum(map(len, shared))

    def entries(self, keys: KeyRange) -> Iterator[tuple[Any, DocIds]]:
        """(value, docids) pairs for the keys in *keys*, for pattern matching."""
        bounds = keys.bounds()
        for tree in (self._unique, self._shared):
            for key, docids in tree.items(**bounds):
                if tree is self._shared or docids != SHARED:
                    yield key[1], docids

    def documents(self) -> Iterator[int]:
        """Every document with a value in this field, one at a time (nothing is built)."""
        return iter(self._reverse.keys())

    def documents_in(self, keys: KeyRange) -> Iterator[int]:
        """The documents whose key lies in *keys*, one at a time (:meth:`range`, lazily)."""
        for _, docids in self.entries(keys):
            if isinstance(docids, int):
                yield docids
            else:
                yield from docids

    def holds(self, docid: int) -> bool:
        """Whether *docid* has a value in this field."""
        return docid in self._reverse


def union_of(held: Iterable[DocIds]) -> DocSet:
    """The documents of forward-index entries: bare ids and sets of them, united.

    What ``multiunion`` does, but bare ids go through an ``IITreeSet``
    first: ``multiunion`` accepts them, yet at ~450 ns each against ~100.
    """
    singles: list[int] = []
    sets: list[IITreeSet] = []
    for docids in held:
        (singles if isinstance(docids, int) else sets).append(docids)
    return multiunion([IITreeSet(singles), *sets]) if sets else IITreeSet(singles)


class Catalog(Persistent):
    """All field indexes plus the document-id map."""

    def __init__(self) -> None:
        self.fields: OOBTree = OOBTree()
        self._objects = IntObjectTree()
        self._fields_of = IntObjectTree()
        self._count = Length()

    def __len__(self) -> int:
        return cast(int, self._count())

    def field(self, name: str) -> FieldIndex | None:
        return cast("FieldIndex | None", self.fields.get(name))

    def all_docids(self) -> DocSet:
        return IISet(self._objects.keys())

    def object(self, docid: int) -> StoreObject:
        return cast(StoreObject, self._objects[docid])

    def containers(self) -> DocSet:
        """The documents that are containers (not to be modified)."""
        types = self.field("type")
        return IISet() if types is None else types.equal((RANK_STRING, "container"))

    def live_key(self, docid: int, field: str) -> SortKey | None:
        """*field* of document *docid* read from the object: a container's live field.

        None for a field the catalog keeps (see :func:`catalogued_values`).
        """
        if field not in LIVE_CONTAINER_FIELDS:
            return None
        obj = self._objects.get(docid)
        if not isinstance(obj, Container):
            return None
        return system_values(obj)[field]

    def _docid(self, obj: StoreObject) -> int:
        """*obj*'s document id, claiming one if it has none in this catalog.

        An id the object already carries is kept when no other object holds
        it (after a rebuild, so a rebuild rewrites no object); a copy that
        carries its source's id gets a new one.
        """
        docid: int | None = getattr(obj, "_docid", None)
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
        values = catalogued_values(obj)
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

    def reindex_fields(self, obj: StoreObject, names: Iterable[str]) -> None:
        """Bring only the fields *names* of *obj* up to date (an edit that changed just those).

        A metadata edit changes its keys and ``cdmi_mtime``; reindexing
        every field of each object was a third of a bulk ``set-meta``'s
        time (issue 13).  *names* are catalog field names
        (:data:`USER_FIELD_PREFIX` for user keys); a field *obj* no longer
        has a value for is dropped.  An object not yet indexed is indexed
        whole.
        """
        docid = getattr(obj, "_docid", None)
        if docid is None or self._objects.get(docid) is not obj:
            self.index(obj)
            return
        held = set(self._fields_of.get(docid, ()))
        now = set(held)
        for name in names:
            key = catalogued_value(obj, name)
            if key is None:
                if name in held:
                    self.fields[name].remove(docid)
                    now.discard(name)
                continue
            index = self.fields.get(name)
            if index is None:
                index = self.fields[name] = FieldIndex()
            index.insert(docid, key)
            now.add(name)
        if now != held:
            self._fields_of[docid] = _field_list(now)

    def upgrade_to_8(self) -> int:
        """Bring a catalog made before schema 8 up to it; returns containers seen.

        Shared keys get their mark (:data:`SHARED`), and containers' live
        fields (:data:`LIVE_CONTAINER_FIELDS`) go: they are read from the
        containers themselves now.  Nothing is rebuilt.
        """
        for index in self.fields.values():
            index.mark_shared()
        containers = list(self.containers())
        for docid in containers:
            for name in LIVE_CONTAINER_FIELDS:
                index = self.field(name)
                if index is not None:
                    index.remove(docid)
            held = self._fields_of.get(docid)
            if held is not None and not set(held).isdisjoint(LIVE_CONTAINER_FIELDS):
                kept = [name for name in held if name not in LIVE_CONTAINER_FIELDS]
                self._fields_of[docid] = tuple(kept)
        return len(containers)

    def unindex(self, obj: StoreObject) -> None:
        docid = getattr(obj, "_docid", None)
        if docid is None or self._objects.get(docid) is not obj:
            return
        for name in self._fields_of.get(docid, ()):
            self.fields[name].remove(docid)
        del self._fields_of[docid]
        del self._objects[docid]
        self._count.change(-1)

    def metadata_keys_under(
        self,
        top: str,
        prefix: str = "",
        *,
        visible: Callable[[int], bool] | None = None,
        limit: int,
    ) -> list[str]:
        """User metadata keys starting with *prefix* that a document below *top* holds.

        For completion: the keys are the catalog's field names, so nothing
        walks the tree.  A key is offered once one document below the
        container *top* (an absolute path) holds it and *visible* (the
        caller's right to see it, None for everyone) accepts it.  That
        witness is sought from the smaller side: the key's documents,
        checked for a path below *top*, or the documents below *top* (one
        ``path`` key range), checked for the key.  The search is bounded
        (:data:`KEY_SCAN_PER_FIELD`, :data:`KEY_SCAN_TOTAL`), so a key held
        only by documents it does not reach in time is not offered: an
        answer may miss a rare key, never show one the caller cannot see.
        Sorted; at most *limit* keys.
        """
        paths = self.field("path")
        if paths is None:
            return []
        below = top.rstrip("/") + "/"
        # Paths below /a/b are the strings from "/a/b/" up to "/a/b0" ('0' follows '/').
        scope = KeyRange(RANK_STRING, below, below[:-1] + "0", include_high=False)
        in_scope = paths.count_range(scope)
        if not in_scope:
            return []

        def is_below(docid: int) -> bool:
            key = paths.key_of(docid)
            return key is not None and str(key[1]).startswith(below)

        keys: list[str] = []
        budget = KEY_SCAN_TOTAL
        start = USER_FIELD_PREFIX + prefix
        for name, index in self.fields.items(min=start):
            if not name.startswith(start) or len(keys) >= limit or budget <= 0:
                break
            if len(index) <= in_scope:
                candidates, fits = index.documents(), is_below
            else:
                candidates, fits = paths.documents_in(scope), index.holds
            allowance = min(KEY_SCAN_PER_FIELD, budget)
            for docid in itertools.islice(candidates, allowance):
                budget -= 1
                if fits(docid) and (visible is None or visible(docid)):
                    keys.append(name.removeprefix(USER_FIELD_PREFIX))
                    break
        return keys

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


def _trimming(items: Iterable[T], holder: Persistent) -> Iterator[T]:
    """*items* as they come, letting ZODB trim *holder*'s connection cache now and then.

    A check or a rebuild reads every record of a big store in one
    transaction; the object cache would otherwise keep all of them (1,000,000
    objects: gigabytes).
    """
    jar = holder._p_jar
    for count, item in enumerate(items, 1):
        yield item
        if jar is not None and count % _GC_EVERY == 0:
            jar.cacheGC()


def _indexed_objects(tree: StoreObject) -> Iterator[StoreObject]:
    """Every object below the root, letting the cache shrink as the walk goes."""
    for _, obj in _trimming(walk(tree), tree):
        if obj.__parent__ is not None:
            yield obj


def catalog_problems(catalog: Catalog, tree: StoreObject) -> list[str]:
    """Differences between the catalog and the tree, one line each (``omsh check``).

    Every object must be indexed under exactly the values it has now, every
    field's forward index (what queries read) must agree with its reverse
    index, and nothing may be indexed that is no longer in the tree nor
    under a field its object no longer has.
    """
    problems = []
    seen: set[int] = set()
    holders: Counter[str] = Counter()  # objects that should be in each field
    for obj in _indexed_objects(tree):
        docid = getattr(obj, "_docid", None)
        if docid is None or catalog._objects.get(docid) is not obj:
            problems.append(f"not indexed: {obj.path}")
            continue
        seen.add(docid)
        expected = catalogued_values(obj)
        holders.update(expected.keys())
        for name, key in expected.items():
            index = catalog.field(name)
            actual = index.key_of(docid) if index is not None else None
            if actual != key:
                problems.append(f"stale {name}: {obj.path}")
        if set(catalog._fields_of.get(docid, ())) != set(expected):
            problems.append(f"stale field list: {obj.path}")
    orphans = 0
    for docid in _trimming(catalog._objects.keys(), catalog):
        if docid not in seen:
            orphans += 1
            problems.append(f"indexed but not in the tree: docid {docid}")
    for name, index in catalog.fields.items():
        field_problems = index.problems()
        problems += [f"field {name}: {problem}" for problem in field_problems]
        # Each holder is listed under its value (above), so more documents
        # than holders means some are listed under a field they lack (fewer
        # is a stale value, already named; orphans are named above).
        if not field_problems and not orphans and len(index) > holders[name]:
            problems.append(
                f"field {name}: {len(index)} documents, {holders[name]} objects have it"
            )
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
    jar = obj._p_jar
    assert jar is not None, "only a stored object is in a transaction"
    return jar.transaction_manager.get()
