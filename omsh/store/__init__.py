"""The omsh object store: ZODB containers, data objects, principals, access.

This package knows nothing of SSH, HTTP or the shell commands.  Front ends
open a :class:`Store`, and inside :meth:`Store.run` build a
:class:`StoreView` for the calling user; every change to the tree goes
through that view and every permission decision through
:func:`check_access`.
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
