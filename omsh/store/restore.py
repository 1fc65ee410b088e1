"""Writing the past back: ``restore PATH --at WHEN`` and ``undo TXN``.

A restore reads an object (with ``-r``, a subtree) as it was at a past
transaction through a historical connection and writes that state back
into the tree now, as a new change in one transaction beside it
(:meth:`~omsh.store.database.Store.read_at` with ``write=True``): content,
mimetype, user metadata and ACL.  The owner is never changed; the times
are not restored (a restore is a change, so mtime moves on).  Content is
never streamed: the new revision shares the old revision's blob file (a
hard link, a copy where links are impossible), as ``cp`` does; content
kept in the database is written again as a new record of the same bytes.

Rights are those of doing the same by hand, checked through the same
``check_access``: the old object must be readable (and its metadata
visible) then **and** now (:class:`~omsh.store.asof.HistoricalView`); a
changed content needs write on the object now, changed metadata or mimetype
write-metadata, a changed ACL write-acl; recreating a removed object needs
write (append, for a container) on its parent; removing what was added
since needs delete on all of it.  Objects already as they were are left
alone: no new revision.

``undo TXN`` is built on the same steps, not on ZODB's transactional undo:
every omsh write also rewrites catalog buckets, ``Length`` counters, the
audit trail and the transaction's ``omsh_users`` note, so ZODB's undo fails
with ``UndoError`` as soon as any later write touched one of those (a
``put`` followed by other puts into the same container, a ``set-meta``
followed by unrelated writes).  Instead every tree object whose record TXN
wrote is put back as it was just before TXN (created ones removed, removed
ones recreated, changed fields restored), refusing the whole undo when any
of them changed again since.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from ZODB.Connection import Connection
from ZODB.POSException import POSKeyError
from ZODB.utils import p64, u64

from omsh.errors import NotAContainer, NotFound, OmshError, PermissionDenied
from omsh.store.access import Perm
from omsh.store.asof import HistoricalView, When, parse_tid
from omsh.store.database import Store
from omsh.store.history import NoHistory, tid_text
from omsh.store.model import ROOT_KEY, Container, DataObject, StoreObject, StoreRoot, walk
from omsh.store.names import join_path
from omsh.store.view import StoreView, share_content

#: What a restore writes back, and the right each change needs now (as by hand).
FIELD_RIGHTS = {
    "content": Perm.WRITE,
    "mimetype": Perm.WRITE_METADATA,
    "metadata": Perm.WRITE_METADATA,
    "acl": Perm.WRITE_ACL,
}


def _field(obj: StoreObject, name: str) -> object:
    """The value of one restorable field of *obj* (see :data:`FIELD_RIGHTS`)."""
    if name == "content":
        return (obj.size, obj.sha256) if isinstance(obj, DataObject) else None
    if name == "mimetype":
        return obj.mimetype if isinstance(obj, DataObject) else None
    if name == "metadata":
        return obj.metadata
    return tuple(obj.acl)


def differences(old: StoreObject, new: StoreObject) -> tuple[str, ...]:
    """The restorable fields in which *new* differs from *old*, in a fixed order."""
    return tuple(name for name in FIELD_RIGHTS if _field(old, name) != _field(new, name))


def _child_at(top: StoreObject, relative: str) -> StoreObject | None:
    """The object at *relative* (``a/b``) below *top*, or ``None``."""
    node: StoreObject | None = top
    for name in relative.split("/"):
        node = node.get(name) if isinstance(node, Container) else None
        if node is None:
            return None
    return node


def _names_below(obj: StoreObject) -> frozenset[str]:
    """The names of a container's children (none for a data object)."""
    return frozenset(obj.names()) if isinstance(obj, Container) else frozenset()


def _same_kind(one: StoreObject, other: StoreObject) -> bool:
    return isinstance(one, Container) == isinstance(other, Container)


@dataclass(frozen=True)
class Step:
    """One change a restore or undo made (or, dry, would make) to one object."""

    #: ``restore`` (fields written back), ``recreate`` or ``remove``.
    action: str
    path: str
    changes: tuple[str, ...] = ()

    def document(self) -> dict[str, object]:
        return {"action": self.action, "path": self.path, "changes": list(self.changes)}


@dataclass(frozen=True)
class Outcome:
    """What a restore or undo did, as plain data."""

    #: The transaction read from (restore) or undone (undo), 16 hex digits.
    txn: str
    steps: tuple[Step, ...]
    dry_run: bool

    @property
    def restored(self) -> int:
        """Objects written back or recreated."""
        return sum(step.action != "remove" for step in self.steps)

    @property
    def removed(self) -> int:
        """Objects removed (added since, or created by the undone transaction)."""
        return sum(step.action == "remove" for step in self.steps)


class Restorer(StoreView):
    """The tree now, for one user, with the past in :attr:`then` to write back from.

    Every step runs in the caller's one transaction; a refusal anywhere
    raises and the transaction is aborted, so nothing is half restored.  A
    dry run does the same work (the transaction is aborted) but shares no
    content.
    """

    then: HistoricalView
    dry_run: bool
    steps: list[Step]

    @classmethod
    def between(
        cls, then: StoreRoot, now: StoreRoot, user: str, tid: bytes, *, dry_run: bool
    ) -> Restorer:
        """A restorer for *user* (as their account is now) from *then* (transaction *tid*)."""
        restorer = cast(Restorer, cls.for_user(now, user))
        restorer.then = HistoricalView(then, restorer, tid)
        restorer.dry_run = dry_run
        restorer.steps = []
        return restorer

    def outcome(self) -> Outcome:
        return Outcome(tid_text(self.then.tid), tuple(self.steps), self.dry_run)

    # -- restore PATH --at WHEN ----------------------------------------------

    def restore(self, path: str, cwd: str, *, recursive: bool) -> None:
        """Write the state *path* had then back (its subtree, with *recursive*).

        Paths resolve as the tree was then.  With *recursive*, containers
        missing now above it are recreated too, and what was added below it
        since is removed.
        """
        old = self.then.resolve(path, cwd)
        absolute = old.path
        if recursive:
            self._recreate_ancestors(old, path)
            current = self.lookup(absolute)
            if isinstance(old, Container) and isinstance(current, Container):
                self._remove_added(old, current, path)
        nodes = walk(old) if recursive else iter([("", old)])
        for relative, node in nodes:
            target = join_path(absolute, relative) if relative else absolute
            self._restore_one(node, target, self.then.subtree_subject(old, path, relative, node))
        if self.steps and not self.dry_run:
            detail = f"at={self.outcome().txn}" + (" recursive" if recursive else "")
            self.audit("restore", absolute, detail)

    def _recreate_ancestors(self, old: StoreObject, subject: str) -> None:
        """Recreate (empty, as they were then) the containers above *old* missing now."""
        chain: list[StoreObject] = []
        node = old.__parent__
        while node is not None and node.__parent__ is not None:
            chain.append(node)
            node = node.__parent__
        for ancestor in reversed(chain):
            current = self.lookup(ancestor.path)
            if current is None:
                self._restore_one(ancestor, ancestor.path, ancestor.path)
            elif not isinstance(current, Container):
                raise NotAContainer(subject, f"{ancestor.path} is no longer a container")

    def _remove_added(self, old: Container, current: Container, subject: str) -> None:
        """Remove what lies below *current* now but not below *old* then (or is of another kind)."""
        gone: list[tuple[str, str]] = []
        skip: str | None = None
        for relative, node in walk(current):
            if not relative or (skip is not None and relative.startswith(skip)):
                continue
            was = _child_at(old, relative)
            if was is None or not _same_kind(was, node):
                gone.append((node.path, self.subtree_subject(current, subject, relative, node)))
                skip = relative + "/"
        for path, named in gone:
            self._remove(path, named)

    def _restore_one(self, old: StoreObject, absolute: str, subject: str) -> None:
        """Make the object at *absolute* now what *old* was (not its children)."""
        self.then.stat(old, subject)
        self.then.require_read(old, subject)
        current = self.lookup(absolute)
        if current is not None and not _same_kind(old, current):
            self._remove(absolute, subject)
            current = None
        if current is None:
            self._recreate(old, absolute, subject)
        else:
            self._write_back(old, current, absolute, subject, differences(old, current))

    def _remove(self, absolute: str, subject: str) -> None:
        """Remove the object at *absolute* and all below it (delete on all of it).

        A refusal names *subject*, never a path below it the caller may not see.
        """
        top = self.lookup(absolute)
        assert top is not None
        paths = [node.path for _, node in walk(top)]
        try:
            self.remove(absolute, recursive=True)
        except PermissionDenied:
            raise PermissionDenied(subject) from None
        self.steps += [Step("remove", path) for path in paths]

    def _recreate(self, old: StoreObject, absolute: str, subject: str) -> None:
        """Create *old* again at *absolute*: its old object ID if free, its old owner if allowed."""
        try:
            parent, name = self._parent_of(absolute, subject)
        except NotFound as exc:
            raise NotFound(exc.subject, "no such container (use -r)") from None
        self._require(parent, Perm.APPEND if isinstance(old, Container) else Perm.WRITE, subject)
        object_id = old.object_id if old.object_id not in self.root.by_id else self._new_id()
        owner = self._owner_for(old)
        obj: StoreObject
        if isinstance(old, DataObject):
            obj = DataObject(name, owner, object_id, old.mimetype)
            self._share_content(old, obj)
        else:
            obj = Container(name, owner, object_id)
        obj.replace_metadata(old.metadata)
        obj.acl = tuple(old.acl)
        obj.ctime = old.ctime
        self._inheritance.clear()
        self._register(parent, name, obj)
        self.steps.append(Step("recreate", absolute))

    def _owner_for(self, old: StoreObject) -> str:
        """Who owns a recreated object: its old owner if they still exist and the
        caller is them or an administrator (giving away is ``chown``), else the caller."""
        if old.owner in self.root.principals.users and (
            self.principal.is_admin or old.owner == self.principal.name
        ):
            return old.owner
        return self.principal.name

    def _share_content(self, old: DataObject, target: DataObject) -> None:
        """Give *target* *old*'s bytes: its blob file shared, or its inline bytes."""
        if not self.dry_run:
            share_content(old, target, self.root)
        target.size, target.sha256 = old.size, old.sha256

    def _write_back(
        self,
        old: StoreObject,
        current: StoreObject,
        absolute: str,
        subject: str,
        changes: tuple[str, ...],
    ) -> None:
        """Write *changes* (fields of :data:`FIELD_RIGHTS`) of *old* into *current*."""
        if not changes:
            return
        for change in changes:
            self._require(current, FIELD_RIGHTS[change], subject)
        if isinstance(old, DataObject) and isinstance(current, DataObject):
            if "content" in changes:
                self._share_content(old, current)
            if "mimetype" in changes:
                current.mimetype = str(old.mimetype)
        if "metadata" in changes:
            current.replace_metadata(old.metadata)
        if "acl" in changes:
            current.acl = tuple(old.acl)
            self._inheritance.clear()
        current.touch()
        self._reindex(current)
        self.steps.append(Step("restore", absolute, changes))

    # -- undo TXN --------------------------------------------------------------

    def undo(self, after: StoreRoot, written: Iterable[StoreObject], txn: str) -> None:
        """Put every tree object in *written* back as it was in :attr:`then`.

        *after* is the root just after the transaction *txn*, *written* the
        objects whose records it wrote (loaded from *after*).  Everything is
        checked first: any of them changed again since refuses the whole
        undo, naming it.
        """
        self.require_admin(txn)
        touched = [obj for obj in written if after.by_id.get(obj.object_id) is obj]
        if not touched:
            raise OmshError(
                f"cannot undo {txn}: it changed no object in the tree "
                "(users, groups, keys and the audit trail are not undone)"
            )
        removals: list[StoreObject] = []
        recreations: list[tuple[StoreObject, str]] = []
        writes: list[tuple[StoreObject, StoreObject, tuple[str, ...]]] = []
        for obj in sorted(touched, key=lambda node: node.path.count("/")):
            before = self.then.root.by_id.get(obj.object_id)
            if before is None:
                removals.append(self._unchanged_since(obj, txn, None))
            elif before.path != obj.path:
                raise OmshError(f"cannot undo {txn}: it moved {before.path} to {obj.path} (use mv)")
            else:
                changes = differences(before, obj)
                current = self._unchanged_since(obj, txn, changes)
                if changes:
                    writes.append((before, current, changes))
                if isinstance(before, Container):
                    recreations += self._removed_by(before, after, txn)
        self._apply_undo(removals, recreations, writes)
        if not self.dry_run:
            outcome = self.outcome()
            self.audit("undo", txn, f"restored={outcome.restored} removed={outcome.removed}")

    def _unchanged_since(
        self, obj: StoreObject, txn: str, fields: tuple[str, ...] | None
    ) -> StoreObject:
        """*obj* as it is now, refusing if what *txn* left (*fields*, or all of it) changed."""
        current: StoreObject | None = self.root.by_id.get(obj.object_id)
        if current is None or current.path != obj.path:
            raise OmshError(f"cannot undo {txn}: {obj.path} was moved or removed since")
        changed = differences(obj, current)
        if fields is not None:
            changed = tuple(name for name in changed if name in fields)
        elif _names_below(obj) != _names_below(current):
            changed += ("children",)
        if changed:
            raise OmshError(
                f"cannot undo {txn}: {obj.path} changed again since ({', '.join(changed)}); "
                "use restore --at"
            )
        return current

    def _removed_by(
        self, before: Container, after: StoreRoot, txn: str
    ) -> list[tuple[StoreObject, str]]:
        """Children of *before* that *txn* removed, each with its path, checked free now."""
        found: list[tuple[StoreObject, str]] = []
        for _, child in before.items():
            if after.by_id.get(child.object_id) is not None:
                continue  # still there, or moved (its own record says so)
            path = child.path
            if self.lookup(path) is not None:
                raise OmshError(f"cannot undo {txn}: {path} was made again since")
            found.append((child, path))
        return found

    def _apply_undo(
        self,
        removals: list[StoreObject],
        recreations: list[tuple[StoreObject, str]],
        writes: list[tuple[StoreObject, StoreObject, tuple[str, ...]]],
    ) -> None:
        """Apply the checked steps of an undo: removals, recreations, then field writes."""
        for obj in removals:
            if self.root.by_id.get(obj.object_id) is obj:  # not gone with a parent
                self._remove(obj.path, obj.path)
        for old, path in recreations:
            for relative, node in walk(old):
                target = join_path(path, relative) if relative else path
                self._restore_one(node, target, target)
        for old, current, changes in writes:
            self._write_back(old, current, current.path, current.path, changes)


def restore(
    store: Store,
    user: str,
    path: str,
    cwd: str,
    when: When,
    *,
    recursive: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """``restore PATH --at WHEN``: one transaction (none, for a dry run); see the module doc."""

    def work(then: StoreRoot, now: StoreRoot, tid: bytes) -> Outcome:
        restorer = Restorer.between(then, now, user, tid, dry_run=dry_run)
        restorer.restore(path, cwd, recursive=recursive)
        return restorer.outcome()

    return store.read_at(when, work, write=not dry_run)


def written_records(store: Store, tid: bytes, txn: str) -> list[bytes]:
    """The oids of the records transaction *tid* wrote, from the storage's iterator."""
    iterator = getattr(store.db.storage, "iterator", None)
    if iterator is None:
        raise NoHistory()
    transactions = iterator(tid, tid)
    try:
        for record in transactions:
            if record.tid == tid:
                return [data.oid for data in record]
    finally:
        close = getattr(transactions, "close", None)
        if close is not None:
            close()
    raise NotFound(txn, "no such transaction is kept (never made, or packed away)")


def _written_objects(after: Connection, oids: Iterable[bytes]) -> list[StoreObject]:
    """The tree objects among *oids*, as loaded in *after*."""
    found = []
    for oid in oids:
        with contextlib.suppress(POSKeyError):
            obj = after.get(oid)
            if isinstance(obj, StoreObject):
                found.append(obj)
    return found


def undo(store: Store, user: str, txn: str, *, dry_run: bool = False) -> Outcome:
    """``undo TXN`` (administrators): one transaction putting back what *txn* changed."""
    tid = parse_tid(txn, repr(txn))
    store.read(lambda root: StoreView.for_user(root, user).require_admin(txn))
    oids = written_records(store, tid, txn)

    def kept_before(connection: Connection) -> bool:
        try:
            return ROOT_KEY in connection.root()
        except POSKeyError:
            return False

    packed = f"cannot undo {txn}: the state before it is no longer kept (packed away)"
    if not store.read_before(tid, kept_before):
        raise OmshError(packed)

    def with_after(after: Connection) -> Outcome:
        after_root = after.root()[ROOT_KEY]
        written = _written_objects(after, oids)

        def work(then: StoreRoot, now: StoreRoot, _: bytes) -> Outcome:
            restorer = Restorer.between(then, now, user, tid, dry_run=dry_run)
            try:
                restorer.undo(after_root, written, txn)
            except POSKeyError:  # a state from before the pack horizon
                raise OmshError(packed) from None
            return restorer.outcome()

        just_before = When(txn, tid=p64(u64(tid) - 1))
        return store.read_at(just_before, work, write=not dry_run)

    return store.read_before(p64(u64(tid) + 1), with_after)
