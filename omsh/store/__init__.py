"""The omsh object store: ZODB containers, data objects, principals, access.

This package knows nothing of SSH, HTTP or the shell commands.  Front ends
open a :class:`Store`, and inside :meth:`Store.run` build a
:class:`StoreView` for the calling user; every change to the tree goes
through that view, which chooses the right each operation needs, and every
permission decision through :func:`check_access`.

The modules, each building only on those above it (nothing imports in a
circle):

- ``names``, ``ids``, ``metadata``, ``perms``, ``content``, ``trees``: path
  and name rules, CDMI object IDs, typed metadata values, permission bits,
  streaming content into blobs, the B-tree classes (small interior nodes);
- ``model``: the persistent classes (their module path is in every stored
  pickle: they stay here); ``audit``: the audit trail;
- ``acl``: access control entries as data; ``access``: who asks
  (:class:`Principal`) and the one decision; ``principals``: the users,
  groups and keys a principal is made from;
- ``system``: system metadata; ``index`` and ``query``: the catalog and the
  query language; ``snapshots``: named snapshots and the read-only
  ``/.snapshots`` they are browsed at; ``views``: saved queries and the
  live ``/.views``; ``schema``: bringing an older store
  up to date;
- ``view``: every operation, checked; ``bulk``: many objects in one
  transaction, all checked first; ``admin``: administering principals
  through a view; ``usage``: the figures of ``du`` and ``df``;
- ``asof``: ``--at WHEN``, a view of the past that checks rights then and now;
  ``storages``: whether the storage keeps the past; ``retention``:
  packing history to an age (snapshots hold it back);
- ``database``: opening a store and running transactions (``postgres``,
  RelStorage on PostgreSQL, is imported by it only for such a URI); ``commits``,
  ``staging``, ``loopreads``: group commit, the one way an upload's bytes
  are staged (for ``put``, SFTP and CDMI), small reads on the event loop;
  ``history``: an object's kept revisions and what each changed;
  ``bulkload``: ``omsh import``, many objects per transaction;
- ``changes``: the change feed (``watch``) read from the transaction log;
- ``restore``: writing a past state back (``restore``, ``undo``).
"""

from omsh.store.access import Perm, Principal, check_access
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.model import Container, DataObject, IContainer, IDataObject, StoreObject
from omsh.store.view import StoreView

__all__ = [
    "Container",
    "ContentUpload",
    "DataObject",
    "IContainer",
    "IDataObject",
    "Perm",
    "Principal",
    "Store",
    "StoreObject",
    "StoreView",
    "check_access",
]
