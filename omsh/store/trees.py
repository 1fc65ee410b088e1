"""The B-tree classes of the store: BTrees' own, with small interior nodes.

A ZODB B-tree is a record per bucket (the leaves) plus a record per
interior node, which lists its children.  When a bucket splits, its parent
is written again whole.  The store's big trees grow at one end or in few
places: document ids are taken in runs (:mod:`omsh.store.index`), times and
the names of uploaded files mostly increase.  Such inserts leave buckets
half full, so one bucket in about thirty splits, and with BTrees' default
of up to 250-500 children a node each split rewrote (and pickled, one
Python call per child) a record of hundreds of entries: measured, the
largest single cost of a small write (about half the CPU of a 4 KiB put,
``python -m bench writes``).  With at most :data:`INTERIOR_NODE_SIZE`
children the tree is one level deeper at a million entries, lookups cost
the same, and a split rewrites a record of a few dozen entries.

Only the interior node size differs (leaf sizes are BTrees' defaults,
which suit both the appending and the random-key trees), so these trees
read, merge conflicts (``_p_resolveConflict`` is per bucket) and take part
in BTrees' set operations exactly as the base classes do.  Trees stored
before keep their class and work as before; ``omsh reindex`` rebuilds the
catalog with these.
"""

from __future__ import annotations

from BTrees.IIBTree import IITreeSet
from BTrees.IOBTree import IOBTree
from BTrees.OIBTree import OIBTree
from BTrees.OOBTree import OOBTree

#: Children per interior node (BTrees' defaults: 250 or 500).
INTERIOR_NODE_SIZE = 64


class IntObjectTree(IOBTree):
    """Integer keys to objects (document ids to objects and values)."""

    max_internal_size = INTERIOR_NODE_SIZE


class ObjectIntTree(OIBTree):
    """Object keys to integers (a field's values to the one document holding each)."""

    max_internal_size = INTERIOR_NODE_SIZE


class ObjectTree(OOBTree):
    """Object keys to objects (a container's children, object IDs to objects)."""

    max_internal_size = INTERIOR_NODE_SIZE


class IntTreeSet(IITreeSet):
    """A set of integers (the documents sharing one value)."""

    max_internal_size = INTERIOR_NODE_SIZE
