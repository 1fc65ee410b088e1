"""The store as one principal sees it inside one transaction.

:class:`StoreView` is the only place that changes the tree, and the only
place that chooses which right an operation needs (the table at the top of
the class).  Each operation resolves paths, asks
:func:`~omsh.store.access.check_access` for the right it needs, validates
names and metadata, and keeps the object-ID map and the catalog in step.
The shell commands, SFTP and the CDMI endpoint all go through it and ask for
operations (:meth:`StoreView.stat`, :meth:`StoreView.children`,
:meth:`StoreView.open_content`…), never for rights, so the rules are
written once.

Error subjects are the paths as the caller wrote them, so a message reads
``cat: ../x: not found`` rather than leaking the absolute layout.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar, cast

from transaction.interfaces import NoTransaction
from ZODB.TimeStamp import TimeStamp
from ZODB.utils import p64, u64

from omsh.errors import (
    AlreadyExists,
    IsAContainer,
    NotAContainer,
    NotEmpty,
    NotFound,
    OmshError,
    PermissionDenied,
)
from omsh.store.access import (
    InheritanceCache,
    Perm,
    Principal,
    check_access,
    effective_aces,
    may_manage_user,
)
from omsh.store.acl import ACE, SPECIAL_IDENTIFIERS, validate_acl
from omsh.store.content import COPY_PREFIX, ContentUpload, MissingContent, StoredContent
from omsh.store.ids import InvalidObjectID, new_object_id, parse_object_id
from omsh.store.index import USER_FIELD_PREFIX, Catalog
from omsh.store.metadata import (
    MAX_ITEMS,
    InvalidMetadata,
    MetadataValue,
    format_timestamp,
    is_mimetype,
    validate_key,
    validate_value,
)
from omsh.store.model import (
    MOUNT_ATTRIBUTE,
    ROOT_KEY,
    Container,
    DataObject,
    StoreObject,
    StoreRoot,
    walk,
)
from omsh.store.names import join_path, normalize_path, parent_and_name, split_path
from omsh.store.principals import User
from omsh.store.query import Node, QueryResult
from omsh.store.snapshots import (
    SNAPSHOTS_NAME,
    PastOpener,
    SnapshotDirectory,
    is_past,
)
from omsh.store.views import VIEWS_NAME, ViewContainer, ViewsDirectory

ObjT = TypeVar("ObjT", bound=StoreObject)

#: Called by a recursive ``remove``/``copy`` with the size of each object it
#: passes (0 for a container), for a progress bar; it may raise (Ctrl-C) to
#: stop, which aborts the transaction, so the whole subtree stays as it was.
Passed = Callable[[int], None]

DEFAULT_MIMETYPE = "application/octet-stream"
#: atime is updated at most this often per object (like Linux's relatime).
ATIME_GRANULARITY = 24 * 3600


#: The rights that only read: all a past object (``/.snapshots``) may grant.
READ_ONLY_PERMS = (
    Perm.READ | Perm.READ_METADATA | Perm.READ_ATTRIBUTES | Perm.READ_ACL | Perm.EXECUTE
)

#: Every other bit, as a plain int: IntFlag arithmetic costs a microsecond a
#: check, and ``ls`` of a snapshot checks each of 10,000 children.
_CHANGING_BITS = int(Perm.all()) & ~int(READ_ONLY_PERMS)


def _changes(perms: Perm) -> bool:
    """Whether *perms* asks for any right beyond reading."""
    return bool(int(perms) & _CHANGING_BITS)


#: The transaction's extended-info key listing every user whose view it held.
USERS_KEY = "omsh_users"


def note_user(root: StoreRoot, name: str) -> None:
    """Record *name* among the users of the transaction *root* is loaded in.

    ``history`` shows who made each change (ARCHITECTURE §4): the
    transaction's ``user`` is the names joined by ``,`` and its extended
    info ``omsh_users`` the list.  A group commit holds one view per
    writer, so a batch lists them all.  Reads abort, so noting costs them
    nothing; a root outside a transaction (a test's) records nothing.
    """
    jar = getattr(root, "_p_jar", None)
    if jar is None:
        return
    try:
        txn = jar.transaction_manager.get()
    except NoTransaction:
        return
    users: list[str] = list(txn.extension.get(USERS_KEY, ()))
    if name not in users:
        users.append(name)
        txn.setExtendedInfo(USERS_KEY, users)
        txn.user = ",".join(users)


def guess_mimetype(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_MIMETYPE


class StoreView:
    """Operations on the tree, each checked for *principal*."""

    def __init__(self, root: StoreRoot, principal: Principal) -> None:
        self.root = root
        self.principal = principal
        self._inheritance = InheritanceCache()
        #: Inheritance caches for the snapshots' trees, by connection (the
        #: cache is keyed by oid, which the past shares with the present).
        self._past_inheritance: dict[int, InheritanceCache] = {}
        self._past: PastOpener | None = None
        #: Objects found through ``/.views`` in this transaction: read-only there.
        self._through_views: set[int] = set()
        note_user(root, principal.name)

    @classmethod
    def for_user(cls, root: StoreRoot, user_name: str) -> StoreView:
        """A view for a stored user; a removed user is refused outright."""
        try:
            principal = root.principals.principal(user_name)
        except NotFound:
            raise PermissionDenied(None, "account no longer exists") from None
        return cls(root, principal)

    # -- access: the right each operation needs, chosen here ----------------
    #
    # Front ends ask for an operation, never for a right (ARCHITECTURE §6.4); every
    # operation below checks its right with check_access:
    #
    #   see an object: its name in a listing, its system and
    #     user metadata (ls, stat, meta, SFTP stat, CDMI fields)   read-metadata
    #   list a container or enter it (ls, cd, opendir, ?children) read
    #   read a data object's content (cat, get, GET)              read
    #   copy (cp): everything copied                              read, read-metadata
    #   store content, or a new object in a container             write
    #   make a container in a container (also by cp -r, mv)       append
    #   change metadata, the mimetype or the times                write-metadata
    #   read, change an ACL                                       read-acl, write-acl
    #   remove (all of it, with -r), move away, replace by mv/cp  delete
    #   users, groups, ownership, other users' rights             admins only

    def _allowed(self, obj: StoreObject, perms: Perm) -> bool:
        if isinstance(obj, SnapshotDirectory):  # as the root now, and read-only
            return not _changes(perms) and self._allowed(self.root.tree, perms)
        if isinstance(obj, ViewsDirectory | ViewContainer):  # the reader's own views
            return not _changes(perms)
        if _changes(perms) and id(obj) in self._through_views:
            return False
        jar = obj._p_jar
        if jar is not self.root._p_jar and is_past(obj):
            return self._allowed_in_snapshot(obj, perms)
        return check_access(self.principal, obj, perms, self._inheritance)

    def _allowed_in_snapshot(self, obj: StoreObject, perms: Perm) -> bool:
        """A right on an object in a snapshot: only reads, held then and now (asof)."""
        if _changes(perms):
            return False
        cache = self._past_inheritance.get(id(obj._p_jar))
        if cache is None:
            cache = self._past_inheritance[id(obj._p_jar)] = InheritanceCache()
        if not check_access(self.principal, obj, perms, cache):
            return False
        if self.principal.is_admin:  # check_access grants them all: skip finding it now
            return True
        now = current_counterpart(self.root, obj)
        return check_access(self.principal, now, perms, self._inheritance)

    def _require(self, obj: StoreObject, perms: Perm, subject: str) -> None:
        if not self._allowed(obj, perms):
            reason = self._read_only_reason(obj) if _changes(perms) else None
            if reason is not None:
                raise PermissionDenied(subject, f"permission denied ({reason})")
            raise PermissionDenied(subject)

    def _read_only_reason(self, obj: StoreObject) -> str | None:
        """Why *obj* can never be changed through this path, if it cannot."""
        if in_snapshot(obj):
            return "snapshots are read-only"
        if isinstance(obj, ViewsDirectory | ViewContainer) or id(obj) in self._through_views:
            return "views are read-only"
        return None

    def can_see(self, obj: StoreObject) -> bool:
        """Whether the caller may see *obj*: list its name, read its metadata."""
        return self._allowed(obj, Perm.READ_METADATA)

    def stat(self, obj: ObjT, subject: str) -> ObjT:
        """*obj*, checked for :meth:`can_see`: what ``stat``, ``ls`` and ``meta`` show."""
        self._require(obj, Perm.READ_METADATA, subject)
        return obj

    def can_list(self, container: StoreObject) -> bool:
        """Whether the caller may list *container*'s children (and enter it)."""
        return self._allowed(container, Perm.READ)

    def require_list(self, container: StoreObject, subject: str) -> None:
        """Refuse unless :meth:`can_list`."""
        self._require(container, Perm.READ, subject)

    def enter(self, path: str, cwd: str = "/") -> Container:
        """The container at *path*, if the caller may list it (``cd``, SFTP ``opendir``)."""
        container = self.resolve_as(Container, path, cwd)
        self.require_list(container, path)
        return container

    def can_read(self, obj: StoreObject) -> bool:
        """Whether the caller may read *obj*'s content (list it, for a container)."""
        return self._allowed(obj, Perm.READ)

    def require_read(self, obj: StoreObject, subject: str) -> None:
        """Refuse unless :meth:`can_read` (see also :meth:`open_content`)."""
        self._require(obj, Perm.READ, subject)

    def can_write(self, obj: StoreObject) -> bool:
        """Whether the caller may replace *obj*'s content, or add to a container."""
        return self._allowed(obj, Perm.WRITE)

    def can_set_times(self, obj: StoreObject) -> bool:
        """Whether :meth:`set_times` would be allowed."""
        return self._allowed(obj, Perm.WRITE_METADATA)

    def can_read_acl(self, obj: StoreObject) -> bool:
        """Whether :meth:`read_acl` would be allowed (CDMI shows ``cdmi_acl`` then)."""
        return self._allowed(obj, Perm.READ_ACL)

    def can_write_acl(self, obj: StoreObject) -> bool:
        """Whether :meth:`replace_acls` would accept *obj* (bulk edits check first)."""
        return self._allowed(obj, Perm.WRITE_ACL)

    def can_set_metadata(self, obj: StoreObject) -> bool:
        """Whether :meth:`set_metadata` would be allowed on *obj*."""
        return self._allowed(obj, Perm.WRITE_METADATA)

    def can_remove(self, obj: StoreObject, *, recursive: bool) -> bool:
        """Whether :meth:`remove` would be allowed the rights it needs on *obj*.

        Delete on *obj*, and with *recursive* on everything below it; the
        root container never.  (Emptiness is :meth:`remove`'s to decide.)
        """
        if obj.__parent__ is None:
            return False
        nodes = walk(obj) if recursive else [("", obj)]
        return all(self._allowed(node, Perm.DELETE) for _, node in nodes)

    def check_removable(self, obj: StoreObject, subject: str) -> None:
        """Refuse unless the caller may remove *obj* itself (not what is below it)."""
        if obj.__parent__ is None and self._read_only_reason(obj) is None:
            raise PermissionDenied(subject, "cannot remove the root container")
        self._require(obj, Perm.DELETE, subject)

    def require_admin(self, subject: str | None = None) -> None:
        """Administration (users, groups, ownership) is for ``admins`` only."""
        if not self.principal.is_admin:
            raise PermissionDenied(subject, "permission denied (administrators only)")

    def audit(self, action: str, target: str, detail: str = "") -> None:
        """Record an administrative event in this transaction."""
        self.root.audit.record(self.principal.name, action, target, detail)

    # -- ACLs --------------------------------------------------------------

    def read_acl(self, obj: StoreObject, subject: str) -> list[tuple[ACE, StoreObject]]:
        """Every ACE bearing on *obj* in evaluation order, each with its source."""
        self._require(obj, Perm.READ_ACL, subject)
        return effective_aces(obj)

    def principal_kind(self, identifier: str, is_group: bool | None) -> bool:
        """Whether *identifier* names a group; checks it exists.

        Special identifiers (``OWNER@``…) are never groups.  An unqualified
        name is a user if one exists, else a group.
        """
        if identifier in SPECIAL_IDENTIFIERS:
            return False
        principals = self.root.principals
        if is_group is None:
            if identifier in principals.users:
                return False
            if identifier in principals.groups:
                return True
            raise NotFound(identifier, "no such user or group")
        table = principals.groups if is_group else principals.users
        if identifier not in table:
            raise NotFound(identifier, f"no such {'group' if is_group else 'user'}")
        return is_group

    def replace_acl(
        self, obj: StoreObject, subject: str, acl: Iterable[ACE], *, action: str, detail: str = ""
    ) -> None:
        """Set *obj*'s own ACL (needs write-acl); named principals must exist."""
        self.replace_acls([(obj, subject, acl)], action=action, target=obj.path, detail=detail)

    def replace_acls(
        self,
        changes: Iterable[tuple[StoreObject, str, Iterable[ACE]]],
        *,
        action: str,
        target: str,
        detail: str = "",
    ) -> int:
        """Set the own ACLs of several objects as one change (``acl grant -R``).

        Each change is ``(object, subject for errors, new ACL)``.  Every
        object is checked for write-acl against the ACLs as they were before
        the change (so an edit cannot lock itself out half-way) and every new
        ACL validated before anything is written: one refusal changes
        nothing.  Principals named by new entries must exist; entries kept
        for a principal removed since are not an error, or no ACL holding one
        could ever be edited again.  Objects whose ACL stays the same are
        checked but not written.  One audit event covers the whole change,
        so a recursive edit cannot flood the bounded audit trail.  Returns
        how many objects changed.
        """
        pending: list[tuple[StoreObject, tuple[ACE, ...]]] = []
        for obj, subject, acl in changes:
            self._require(obj, Perm.WRITE_ACL, subject)
            entries = validate_acl(acl)
            if entries == obj.acl:
                continue
            known = {(ace.identifier, ace.is_group) for ace in obj.acl}
            for ace in entries:
                if (ace.identifier, ace.is_group) not in known:
                    self.principal_kind(ace.identifier, ace.is_group)
            pending.append((obj, entries))
        for obj, entries in pending:
            obj.acl = entries
        if pending:
            self._inheritance.clear()
            self.audit(action, target, detail)
        return len(pending)

    def principal_to_check(self, user_name: str | None) -> Principal:
        """Whose rights ``acl check`` reports: the caller's, or (administrators) anyone's."""
        if user_name is None or user_name == self.principal.name:
            return self.principal
        self.require_admin(user_name)
        return self.root.principals.principal(user_name)

    def effective_perms(self, obj: StoreObject, principal: Principal) -> Perm:
        """Every bit *principal* holds on *obj* (``acl check``)."""
        granted = Perm.NONE
        for bit in Perm:
            if bit and check_access(principal, obj, bit, self._inheritance):
                granted |= bit
        return granted

    def change_owner(self, obj: StoreObject, subject: str, owner: str, recursive: bool) -> int:
        """``chown``: administrators only; returns how many objects changed."""
        detail = " recursive" if recursive else ""
        return self.change_owners(
            [(obj, subject)], subject, owner, recursive, target=obj.path, detail=detail
        )

    def change_owners(
        self,
        objects: Iterable[tuple[StoreObject, str]],
        subject: str | None,
        owner: str,
        recursive: bool,
        *,
        target: str,
        detail: str = "",
    ) -> int:
        """Give *objects* (and with *recursive* what lies below them) to *owner*.

        Each object comes with how errors name it.  Administrators only
        (refused naming *subject*), and each object must take a new owner
        (write-owner: the past is read-only); one audit event for the whole
        change (``chown --query`` may touch thousands).  Returns how many
        objects changed.
        """
        self.require_admin(subject)
        self.root.principals.get_user(owner)
        changed = 0
        for obj, named in objects:
            for relative, node in walk(obj) if recursive else [("", obj)]:
                self._require(
                    node, Perm.WRITE_OWNER, self.subtree_subject(obj, named, relative, node)
                )
                if node.owner != owner:
                    node.owner = owner
                    self._reindex(node)
                    changed += 1
        self._inheritance.clear()
        self.audit("chown", target, f"owner={owner}{detail}")
        return changed

    def editable_user(self, user_name: str | None = None) -> User:
        """The account the caller may change: its own, or any one for an admin.

        A non-admin asking for another account is refused before the name is
        looked up, so the answer does not tell whether that user exists.
        """
        target = user_name or self.principal.name
        if not may_manage_user(self.principal, target):
            raise PermissionDenied(target)
        return self.root.principals.get_user(target)

    # -- query -----------------------------------------------------------

    def query(self, node: Node, within: str | None = None, cwd: str = "/") -> QueryResult:
        """Objects matching *node* that the caller may see.

        Answered from the catalog, which every change in this class keeps
        current in its own transaction, so the result is complete as of the
        snapshot this transaction reads — reported with it.  An object the
        caller could not find by listing from the scope down (see
        :meth:`_sees`) is neither returned nor counted (administrators see
        everything, so no object is loaded for them).
        """
        scope = None
        top: Container = self.root.tree
        if within is not None:
            top = self.enter(within, cwd)
            scope = top.path
        root, mount = self.root, ""
        if isinstance(top, SnapshotDirectory):
            raise OmshError("query one snapshot at a time: --in /.snapshots/NAME", subject=within)
        if top._p_jar is not root._p_jar and is_past(top):  # in a snapshot's tree
            root, mount = past_root(top), str(getattr(top._p_jar, MOUNT_ATTRIBUTE))
            scope = top.path[len(mount) :] or "/"
        catalog = root.catalog
        visible = None if self.principal.is_admin else functools.partial(self._sees, catalog, top)
        transaction, as_of = _snapshot_names(_read_tid(root) if mount else self.snapshot_tid())
        return QueryResult(node, catalog, scope, transaction, as_of, visible, mount=mount)

    def snapshot_tid(self) -> bytes:
        """The transaction this view reads the tree as of."""
        return _read_tid(self.root)

    def metadata_keys(
        self, top: StoreObject, prefix: str = "", *, limit: int, below: bool = True
    ) -> list[str]:
        """User metadata keys starting with *prefix* that *top* or what lies below it has.

        What completion offers for ``set-meta``, ``find --meta`` and query
        fields: *top*'s own keys if the caller may see it, and, for a
        container the caller may list (unless not *below*), the keys of
        objects below it that a query from there would show (:meth:`_sees`),
        from the catalog (:meth:`~omsh.store.index.Catalog.metadata_keys_under`,
        bounded).  Sorted; at most *limit* keys.
        """
        keys = (
            {key for key in top.metadata if key.startswith(prefix)} if self.can_see(top) else set()
        )
        if below and isinstance(top, Container) and self.can_list(top):
            catalog = self.root.catalog
            visible = (
                None if self.principal.is_admin else functools.partial(self._sees, catalog, top)
            )
            keys.update(catalog.metadata_keys_under(top.path, prefix, visible=visible, limit=limit))
        return sorted(keys)[:limit]

    def _sees(self, catalog: Catalog, top: Container, docid: int) -> bool:
        """Whether a query result may show the document *docid* to the caller.

        As ``find`` or ``ls -R`` from the query's scope would: its metadata
        readable and every container from *top* down to it listable, so a
        result never names what lies in a container the caller may not list.
        """
        return self.visible_below(top, catalog.object(docid))

    # -- lookup ----------------------------------------------------------

    def snapshot_directory(self) -> SnapshotDirectory:
        """``/.snapshots``: each snapshot's tree, opened when first read."""
        if self._past is None:
            jar = self.root._p_jar
            assert jar is not None  # the root was read through a connection
            self._past = PastOpener(jar)
        return SnapshotDirectory(self.root, self._past)

    def lookup(self, path: str) -> StoreObject | None:
        """The object at an absolute normalized path, or ``None``.

        ``/.snapshots/NAME/…`` is found in that snapshot's tree
        (:mod:`omsh.store.snapshots`), ``/.views/NAME/ENTRY`` among the
        objects a view matches now (:mod:`omsh.store.views`); an object
        found through ``/.views`` is read-only for the rest of the transaction.
        """
        node, found = self._deepest(path)
        return node if found else None

    def _deepest(self, path: str) -> tuple[StoreObject, bool]:
        """The deepest object on *path* that exists, and whether it is the last."""
        node: StoreObject = self.root.tree
        names = split_path(path)
        through_views = bool(names) and names[0] == VIEWS_NAME
        if through_views:
            node = self.views_directory()
            del names[0]
        elif names and names[0] == SNAPSHOTS_NAME:
            node = self.snapshot_directory()
            del names[0]
        for name in names:
            child = node.get(name) if isinstance(node, Container) else None
            if child is None:
                return node, False
            node = child
            if through_views:
                self._through_views.add(id(node))
        return node, True

    def views_directory(self) -> ViewsDirectory:
        """``/.views``: the caller's live views (:mod:`omsh.store.views`)."""
        return ViewsDirectory(self.root, self.principal.name, self.query)

    def resolve(self, path: str, cwd: str = "/") -> StoreObject:
        """The object *path* names from *cwd*; ``NotFound`` names *path*."""
        absolute = normalize_path(path, cwd)
        obj = self.lookup(absolute)
        if obj is None:
            raise self.missing(absolute, path)
        return obj

    def missing(self, absolute: str, subject: str, message: str = "not found") -> OmshError:
        """The error for a path that does not exist, without leaking that fact.

        Whether a name exists inside a container is itself information: if
        the caller may not list the deepest existing container on the way,
        the answer is "permission denied", exactly as for a name that exists
        but may not be read.
        """
        node, _ = self._deepest(absolute)
        if not self.can_read(node):  # list it (read it, for a data object in the way)
            return PermissionDenied(subject)
        return NotFound(subject, message)

    def resolve_as(self, kind: type[ObjT], path: str, cwd: str = "/") -> ObjT:
        obj = self.resolve(path, cwd)
        if not isinstance(obj, kind):
            raise NotAContainer(path) if kind is Container else IsAContainer(path)
        return obj

    def by_object_id(self, object_id: str) -> StoreObject:
        try:
            canonical = parse_object_id(object_id)
        except InvalidObjectID as exc:
            raise OmshError(str(exc), subject=object_id) from None
        obj: StoreObject | None = self.root.by_id.get(canonical)
        if obj is None:
            raise NotFound(object_id)
        return obj

    def children(
        self, container: Container, subject: str, *, after: str | None = None
    ) -> Iterator[tuple[str, StoreObject]]:
        """Children the caller may see, in name order (needs list on *container*).

        With *after*, only the names that sort after it: a listing can then
        be fetched in pages, one short transaction each (SFTP ``readdir``).
        """
        self.require_list(container, subject)
        for name, child in container.items(after=after):
            if self.can_see(child):
                yield name, child

    # -- creation --------------------------------------------------------

    def _parent_of(self, absolute: str, subject: str) -> tuple[Container, str]:
        """The container that holds (or would hold) *absolute*, and the last name."""
        parent_path, name = parent_and_name(absolute)
        parent = self.lookup(parent_path)
        if parent is None:
            raise self.missing(parent_path, subject, "no such container")
        if not isinstance(parent, Container):
            raise NotAContainer(subject, "parent is not a container")
        return parent, name

    def _free_slot(self, path: str, cwd: str, perms: Perm) -> tuple[Container, str]:
        """Parent container and name for a new object at *path*, checked."""
        parent, name = self._parent_of(normalize_path(path, cwd), path)
        self._require(parent, perms, path)
        if name in parent:
            raise AlreadyExists(path)
        return parent, name

    def _register(self, parent: Container, name: str, obj: StoreObject) -> None:
        parent.attach(obj, name)
        parent.touch()
        self.root.by_id[obj.object_id] = obj
        # Not the parent: what a child changes of it (size, mtime) is read
        # from the container, not the catalog (LIVE_CONTAINER_FIELDS).
        self._reindex(obj)

    def _reindex(self, *objects: StoreObject) -> None:
        """Bring the catalog up to date for *objects*, in this transaction."""
        for obj in objects:
            self.root.catalog.index(obj)

    def _new_id(self) -> str:
        while True:
            object_id = new_object_id(self.root.enterprise_number)
            if object_id not in self.root.by_id:
                return object_id

    def make_container(self, path: str, cwd: str = "/", *, parents: bool = False) -> Container:
        """``mkdir``: create a container; with *parents* create missing ancestors.

        With *parents* an existing container is returned as it is.  The walk
        down the path is a loop, not a recursion, so depth is only bounded by
        the path length.
        """
        absolute = normalize_path(path, cwd)
        if not parents:
            if absolute == "/":
                raise AlreadyExists(path)
            return self._new_container(path, cwd)
        node = self.root.tree
        walked = "/"
        for name in split_path(absolute):
            walked = join_path(walked, name)
            # Errors name the path as typed, or the ancestor that is in the way.
            subject, base = (path, cwd) if walked == absolute else (walked, "/")
            child = node.get(name)
            if child is None:
                child = self._new_container(subject, base)
            elif not isinstance(child, Container):
                raise AlreadyExists(subject, "exists and is not a container")
            node = child
        return node

    def _new_container(self, path: str, cwd: str) -> Container:
        parent, name = self._free_slot(path, cwd, Perm.APPEND)
        container = Container(name, self.principal.name, self._new_id())
        self._register(parent, name, container)
        return container

    def store_data(
        self,
        path: str,
        upload: ContentUpload,
        cwd: str = "/",
        *,
        mimetype: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> DataObject:
        """``put``: create or replace a data object with uploaded content.

        Replacing keeps the object ID and user metadata (new items merge in),
        as a CDMI update does.
        """
        if mimetype is not None and not is_mimetype(mimetype):
            raise InvalidMetadata(f"{mimetype[:60]!r}: not a media type like text/plain")
        absolute = normalize_path(path, cwd)
        existing = self.lookup(absolute)
        slot: tuple[Container, str] | None = None
        if existing is not None:
            if isinstance(existing, Container):
                raise IsAContainer(path)
            assert isinstance(existing, DataObject)
            self._require(existing, Perm.WRITE, path)
            obj = existing
            if mimetype:
                obj.mimetype = mimetype
        else:
            slot = self._free_slot(absolute, "/", Perm.WRITE)
            name = slot[1]
            obj = DataObject(name, self.principal.name, self._new_id(), mimetype or "")
            obj.mimetype = mimetype or guess_mimetype(name)
        upload.attach_to(obj)
        obj.size = upload.size
        obj.sha256 = upload.sha256
        if existing is not None:  # a new object keeps mtime == ctime
            obj.touch()
        if metadata:
            self._apply_metadata(obj, dict(metadata), ())
        # A new object is registered (and indexed) once it is complete.
        if slot is None:
            self._reindex(obj)
        else:
            self._register(*slot, obj)
        return obj

    def check_can_store(self, path: str, cwd: str = "/") -> None:
        """Fail early, before a client streams bytes, if ``store_data`` would."""
        absolute = normalize_path(path, cwd)
        existing = self.lookup(absolute)
        if isinstance(existing, Container):
            raise IsAContainer(path)
        if isinstance(existing, DataObject):
            self._require(existing, Perm.WRITE, path)
        else:
            self._free_slot(absolute, "/", Perm.WRITE)

    # -- metadata --------------------------------------------------------

    def _apply_metadata(
        self, obj: StoreObject, updates: dict[str, MetadataValue], deletions: tuple[str, ...]
    ) -> None:
        merged = obj.metadata
        for key in deletions:
            merged.pop(key, None)
        for key, value in updates.items():
            merged[validate_key(key)] = validate_value(value)
        if len(merged) > MAX_ITEMS:
            raise InvalidMetadata(f"at most {MAX_ITEMS} metadata items per object")
        obj.replace_metadata(merged)

    def set_metadata(
        self,
        obj: StoreObject,
        subject: str,
        updates: Mapping[str, MetadataValue],
        deletions: tuple[str, ...] = (),
    ) -> None:
        self._require(obj, Perm.WRITE_METADATA, subject)
        self._apply_metadata(obj, dict(updates), deletions)
        obj.touch()
        # Only what changed (a bulk set-meta does this for every match).
        edited = (USER_FIELD_PREFIX + key for key in (*updates, *deletions))
        self.root.catalog.reindex_fields(obj, ("cdmi_mtime", *edited))

    def set_mimetype(self, obj: DataObject, subject: str, mimetype: str) -> None:
        """Change a data object's media type (a write of its metadata)."""
        self._require(obj, Perm.WRITE_METADATA, subject)
        if not is_mimetype(mimetype):
            raise InvalidMetadata(f"{mimetype[:60]!r}: not a media type like text/plain")
        obj.mimetype = mimetype
        obj.touch()
        self._reindex(obj)

    def set_times(
        self,
        obj: StoreObject,
        subject: str,
        *,
        mtime: float | None = None,
        atime: float | None = None,
    ) -> None:
        """Keep a client-set modification (and access) time: ``touch``, ``sftp put -p``.

        Tools that synchronise trees (rclone, lftp ``mirror``, ``scp -p``)
        compare sizes and modification times; without this every run would
        copy everything again.  ``cdmi_mtime`` is system metadata, so changing
        it is a write of the object's metadata.
        """
        self._require(obj, Perm.WRITE_METADATA, subject)
        if mtime is not None:
            obj.mtime = float(mtime)
        if atime is not None:
            obj.atime = float(atime)
        self._reindex(obj)

    # -- reading content -------------------------------------------------

    def open_content(self, obj: StoreObject, subject: str) -> tuple[DataObject, StoredContent]:
        """Check read access and return the object and its content (blob file or bytes)."""
        if not isinstance(obj, DataObject):
            raise IsAContainer(subject)
        self.require_read(obj, subject)
        try:
            return obj, obj.stored_content()
        except MissingContent:
            raise MissingContent(subject) from None

    def note_access(self, obj: StoreObject) -> bool:
        """Advance ``cdmi_atime`` relatime-style; True if the object changed."""
        now = time.time()
        if obj.atime < obj.mtime or now - obj.atime > ATIME_GRANULARITY:
            obj.atime = now
            return True
        return False

    # -- removal, move, copy ---------------------------------------------

    def _unregister_subtree(self, obj: StoreObject, progress: Passed | None = None) -> None:
        for _, node in walk(obj):
            self.root.by_id.pop(node.object_id, None)
            self.root.catalog.unindex(node)
            if progress is not None:
                progress(node.size if isinstance(node, DataObject) else 0)

    def visible_below(self, top: StoreObject, obj: StoreObject) -> bool:
        """Whether *obj* shows in listings from *top* down (``ls -R``, ``verify -r``).

        The caller must be able to see *obj* itself, as :meth:`children`
        requires, and to list every container from *top* to *obj*'s parent.
        """
        if obj is top:
            return True
        if not self.can_see(obj):
            return False
        node = obj.__parent__
        while node is not None:
            if not self.can_list(node):
                return False
            if node is top:
                return True
            node = node.__parent__
        return True

    def subtree_subject(
        self, top: StoreObject, subject: str, relative: str, obj: StoreObject
    ) -> str:
        """How a message may name *obj*, found at *relative* below *top* (named *subject*).

        Its path when the caller may list the containers on the way to it;
        otherwise *subject* itself, so that refusing a recursive operation
        never names an object the caller could not have seen.
        """
        if relative and self.visible_below(top, obj):
            return join_path(subject, relative)
        return subject

    def _require_subtree(self, obj: StoreObject, perms: Perm, subject: str) -> None:
        for relative, node in walk(obj):
            self._require(node, perms, self.subtree_subject(obj, subject, relative, node))

    def remove(
        self,
        path: str,
        cwd: str = "/",
        *,
        recursive: bool = False,
        progress: Passed | None = None,
    ) -> StoreObject:
        """``rm``: one transaction, the whole subtree with *recursive*.

        *progress* sees each object removed (see :data:`Passed`).
        """
        obj = self.resolve(path, cwd)
        # Permission first: "not empty" would tell a stranger there is something inside.
        self.check_removable(obj, path)
        parent = obj.__parent__
        assert parent is not None
        if isinstance(obj, Container) and len(obj) and not recursive:
            raise NotEmpty(path)
        self._require_subtree(obj, Perm.DELETE, path)
        parent.detach(obj.__name__)
        parent.touch()
        self._unregister_subtree(obj, progress)
        return obj

    def _destination(
        self, source: StoreObject, target: str, cwd: str
    ) -> tuple[Container, str, StoreObject | None]:
        """Where a move or copy of *source* to *target* lands, like ``mv``/``cp``.

        An existing container target receives the source under its own name.
        """
        absolute = normalize_path(target, cwd)
        existing = self.lookup(absolute)
        if isinstance(existing, Container):
            parent, name = existing, source.__name__
            subject = f"{target.rstrip('/')}/{name}"
            existing = parent.get(name)
        else:
            parent, name = self._parent_of(absolute, target)
            subject = target
        if existing is source:
            raise AlreadyExists(target, "source and destination are the same object")
        if existing is not None:
            if isinstance(existing, Container) or isinstance(source, Container):
                raise AlreadyExists(subject)
            self._require(existing, Perm.DELETE, subject)
        self._require(parent, Perm.APPEND if isinstance(source, Container) else Perm.WRITE, target)
        return parent, name, existing

    def _clear_destination(
        self, source: StoreObject, target: str, cwd: str, verb: str
    ) -> tuple[Container, str]:
        """Checked destination of a move or copy, with any object it replaces gone."""
        parent, name, existing = self._destination(source, target, cwd)
        node: StoreObject | None = parent
        while node is not None:
            if node is source:
                raise OmshError(f"cannot {verb} a container into itself", subject=target)
            node = node.__parent__
        if existing is not None:
            parent.detach(name)
            self._unregister_subtree(existing)
        return parent, name

    def move(self, source_path: str, target: str, cwd: str = "/") -> StoreObject:
        """``mv``: the object keeps its ID; a data object at the target is replaced."""
        source = self.resolve(source_path, cwd)
        old_parent = source.__parent__
        if old_parent is None:
            raise PermissionDenied(source_path, "cannot move the root container")
        self._require(source, Perm.DELETE, source_path)
        parent, name = self._clear_destination(source, target, cwd, "move")
        old_parent.detach(source.__name__)
        old_parent.touch()
        parent.attach(source, name)
        parent.touch()
        # Paths and names below the moved object changed: reindex all of it.
        self._reindex(*(node for _, node in walk(source)))
        return source

    def copy(
        self,
        source_path: str,
        target: str,
        cwd: str = "/",
        *,
        recursive: bool = False,
        progress: Passed | None = None,
    ) -> StoreObject:
        """``cp``: a new object (new ID) with the same content and metadata.

        One transaction, the whole subtree with *recursive*; *progress* sees
        each object copied (see :data:`Passed`).
        """
        source = self.resolve(source_path, cwd)
        if isinstance(source, Container) and not recursive:
            raise IsAContainer(source_path, "is a container (use -r)")
        self._require_subtree(source, Perm.READ | Perm.READ_METADATA, source_path)
        parent, name = self._clear_destination(source, target, cwd, "copy")
        duplicate = self._duplicate(source, name, progress)
        parent.touch()
        parent.attach(duplicate, name)
        self._register_subtree(duplicate)
        return duplicate

    def _register_subtree(self, obj: StoreObject) -> None:
        for _, node in walk(obj):
            self.root.by_id[node.object_id] = node
            self._reindex(node)

    def _duplicate(
        self, source: StoreObject, name: str, progress: Passed | None = None
    ) -> StoreObject:
        """A copy of *source*'s subtree owned by the caller, with new IDs."""
        top = self._clone(source, name)
        made: dict[str, StoreObject] = {"": top}
        for relative, node in walk(source):
            if progress is not None:
                progress(node.size if isinstance(node, DataObject) else 0)
            if not relative:
                continue
            parent_relative, _, child_name = relative.rpartition("/")
            clone = self._clone(node, child_name)
            parent = made[parent_relative]
            assert isinstance(parent, Container)
            parent.attach(clone, child_name)
            if isinstance(clone, Container):
                made[relative] = clone
        return top

    def _clone(self, source: StoreObject, name: str) -> StoreObject:
        """One object like *source* (content and metadata), without children."""
        owner = self.principal.name
        clone: StoreObject
        if isinstance(source, Container):
            clone = Container(name, owner, self._new_id())
        else:
            assert isinstance(source, DataObject)
            clone = DataObject(name, owner, self._new_id(), source.mimetype)
            clone.size, clone.sha256 = source.size, source.sha256
            share_content(source, clone, self.root)
        clone.replace_metadata(source.metadata)
        return clone


@functools.lru_cache(maxsize=64)
def _snapshot_names(tid: bytes) -> tuple[str, str]:
    """A transaction id as query results name it: in hex, and its time in CDMI form.

    Cached: formatting the time costs more than answering a selective
    query, and queries between two writes all read the same snapshot.
    """
    return tid.hex(), format_timestamp(TimeStamp(tid).timeTime())


def _read_tid(root: StoreRoot) -> bytes:
    """The transaction a connection reads *root* as of."""
    jar = root._p_jar
    assert jar is not None  # the root was read through a connection
    if jar.before is not None:  # historical: the last transaction before that
        return cast(bytes, p64(u64(jar.before) - 1))
    # The MVCC snapshot this connection reads; ZODB has no public name for it.
    return cast(bytes, jar._storage.lastTransaction())


def in_snapshot(obj: StoreObject) -> bool:
    """Whether *obj* is ``/.snapshots`` or was read in a snapshot's tree."""
    return (
        isinstance(obj, SnapshotDirectory) or getattr(obj._p_jar, MOUNT_ATTRIBUTE, None) is not None
    )


def past_root(obj: StoreObject) -> StoreRoot:
    """The store root of the connection *obj* was read through."""
    jar = obj._p_jar
    assert jar is not None
    return cast(StoreRoot, jar.root()[ROOT_KEY])


def current_counterpart(now: StoreRoot, obj: StoreObject) -> StoreObject:
    """*obj* as it is in *now*, or its nearest ancestor that still exists.

    How a right on the past is also checked now (:mod:`omsh.store.asof`):
    the same object, found by its ID; one removed since is judged by the
    nearest container above it that is still there, at worst the root.
    """
    node: StoreObject | None = obj
    while node is not None:
        current: StoreObject | None = now.by_id.get(node.object_id)
        if current is not None:
            return current
        node = node.__parent__
    return now.tree


def share_content(source: DataObject, target: DataObject, root: StoreRoot) -> None:
    """Give *target* the same bytes as *source*, never read into memory twice.

    Inline content shares *source*'s record when both are in *root*'s
    database connection, else (a restore from a historical connection) it
    is a new record of the same bytes.  A blob file is hard-linked where
    possible, else copied: blob files are never modified in place (a write
    makes a new file), so sharing an inode is safe.
    """
    jar = root._p_jar
    assert jar is not None  # the root was read through a connection
    if source.blob is None:
        inline = source.inline
        if inline is not None and inline._p_jar in (None, jar):
            target.share_inline(inline)
        else:
            target.keep_inline(inline.data if inline is not None else b"")
        return
    content = source.stored_content().filename
    assert content is not None
    fd, staging = tempfile.mkstemp(prefix=COPY_PREFIX, dir=jar.db().storage.temporaryDirectory())
    os.close(fd)
    os.unlink(staging)
    try:
        os.link(content, staging)
    except OSError:
        shutil.copyfile(content, staging)
    target.blob_for_writing().consumeFile(staging)
