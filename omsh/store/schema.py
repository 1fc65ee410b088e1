"""Bringing a store's root up to the layout this code expects.

A :class:`~omsh.store.model.StoreRoot` records the ``schema_version`` it was
last brought up to.  :func:`upgrade` adds what later versions need, step by
step, in the caller's transaction; :meth:`Store.bootstrap
<omsh.store.database.Store.bootstrap>` calls it whenever a store is opened
for serving, and on a brand-new root, which starts at version 1 like the
oldest store, so a new store and an upgraded one are built the same way.

Versions:

1. the tree, the object-ID map and the principals;
2. the root's default ACL (private: owners and administrators only) and
   the audit trail;
3. the metadata catalog (the indexes ``query`` reads);
4. the catalog in a new layout: a key held by one document costs no
   record of its own, and values are kept bare in the reverse index;
5. the catalog counting each field's values per type instead of keeping a
   set of each type's documents;
6. named snapshots (:mod:`omsh.store.snapshots`);
7. saved views (:mod:`omsh.store.views`).

Each change of the catalog's layout builds it anew from the tree.

This module is the only one that knows the history: the persistent classes
(:mod:`omsh.store.model`) stay plain state, and import nothing that builds
on them.
"""

from __future__ import annotations

from BTrees.OOBTree import OOBTree

from omsh.store.acl import default_root_acl
from omsh.store.audit import AuditLog
from omsh.store.index import Catalog, rebuild_catalog
from omsh.store.model import StoreRoot, walk

#: The version :func:`upgrade` brings every root to.
SCHEMA_VERSION = 7


def upgrade(root: StoreRoot) -> bool:
    """Add to *root* what newer code expects; True if anything changed."""
    if root.schema_version >= SCHEMA_VERSION:
        return False
    if root.schema_version < 2:
        if not root.tree.acl:
            root.tree.acl = default_root_acl()
        root.audit = AuditLog()
    if root.schema_version < 3:
        root.catalog = Catalog()
        root.catalog.index_all(node for _, node in walk(root.tree))
    elif root.schema_version < 5:
        # The layout of FieldIndex changed since (see the versions above).
        rebuild_catalog(root)
    if root.schema_version < 6:
        root.snapshots = OOBTree()
    if root.schema_version < 7:
        root.views = OOBTree()
    root.schema_version = SCHEMA_VERSION
    return True
