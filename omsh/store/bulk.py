"""Bulk edits: many objects changed in one transaction, all or nothing.

``set-meta --query``, ``rm --query``, ``chown --query``, ``acl grant
--query``, the CDMI ``PUT …/?query=`` extension and ``meta import`` all do
the same three things, here, inside the caller's one write transaction:

1. **resolve** the targets: every object a query matches that the caller
   may see (:meth:`StoreView.query`, ACL-filtered exactly as ``query``
   answers), in path order — or, for ``meta import``, the objects named;
2. **check all** of them for the right the change needs before anything is
   written: if any is refused, nothing changes and the error names the
   first refused object and how many were refused;
3. **apply** the change to each (:class:`BulkChange`), through the same
   :class:`StoreView` operations a single edit uses, so the catalog and the
   audit trail stay exact.

The work only reads and writes the store, so :meth:`Store.run` may run it
again after a conflict: the whole bulk edit is retried, never a part.
A dry run resolves and checks the same way and applies nothing (and runs in
a read transaction, which aborts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from omsh.errors import OmshError, PermissionDenied
from omsh.store.metadata import MetadataValue
from omsh.store.model import StoreObject
from omsh.store.query import Node, QuerySyntaxError, parse_query
from omsh.store.view import StoreView


def parse_bulk_query(text: str) -> Node:
    """:func:`parse_query`, its error on one line (exit 2; HTTP 400).

    The query command shows the query with a caret under the fault on the
    lines after; a bulk edit's error is one line (it may go to a script or
    an HTTP client), so only the first line, which says what and at which
    column, is kept.
    """
    try:
        return parse_query(text)
    except QuerySyntaxError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise QuerySyntaxError(f"query: {first}") from None


class Target(NamedTuple):
    """One object a bulk edit changes, and how messages name it (its path)."""

    obj: StoreObject
    subject: str


@dataclass(frozen=True)
class Outcome:
    """What a bulk edit did: its targets' paths (in order) and how many changed."""

    paths: list[str]
    changed: int
    dry_run: bool

    @property
    def count(self) -> int:
        return len(self.paths)


class BulkChange:
    """What a bulk edit does to its targets; subclasses say which right and what change."""

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        """Whether the caller may make this change to *obj* (checked for all, first)."""
        raise NotImplementedError

    def prepare(self, view: StoreView, targets: Sequence[Target]) -> None:
        """Refuse before anything changes for reasons other than rights (default: none)."""

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        """Change every target; how many objects actually changed."""
        raise NotImplementedError

    def changes(self, obj: StoreObject) -> bool:
        """Whether *obj* would change (a dry run lists only those); default: yes."""
        return True


def matches(view: StoreView, node: Node, within: str | None, cwd: str = "/") -> list[Target]:
    """Every object *node* matches that the caller may see, in path order.

    Scoped like ``query --in``: strictly below the container *within* (which
    the caller must be able to list), else the whole store.
    """
    result = view.query(node, within, cwd)
    catalog = result.catalog
    return [Target(catalog.object(docid), result.path(docid)) for docid in result.ordered()]


def require_all(view: StoreView, change: BulkChange, targets: Sequence[Target]) -> None:
    """Refuse, changing nothing, if the caller may not change any one of *targets*.

    The error names the first refused target (in the targets' order) and
    says how many were refused.
    """
    refused = [target for target in targets if not change.allowed(view, target.obj)]
    if refused:
        many = f"{len(refused):,} of {len(targets):,}"
        raise PermissionDenied(
            refused[0].subject, f"permission denied ({many} objects refused; nothing changed)"
        )


def edit(
    view: StoreView, targets: Sequence[Target], change: BulkChange, *, dry_run: bool = False
) -> Outcome:
    """Check every target, then apply *change* to all of them (unless *dry_run*)."""
    require_all(view, change, targets)
    change.prepare(view, targets)
    if dry_run:
        paths = [target.obj.path for target in targets if change.changes(target.obj)]
        return Outcome(paths, len(paths), dry_run=True)
    changed = change.apply(view, targets) if targets else 0
    return Outcome([target.obj.path for target in targets], changed, dry_run=False)


def edit_matches(
    view: StoreView,
    node: Node,
    within: str | None,
    cwd: str,
    change: BulkChange,
    *,
    dry_run: bool = False,
    expected: int | None = None,
) -> Outcome:
    """:func:`edit` every object *node* matches (see :func:`matches`).

    With *expected* (how many matched when the person confirmed), a
    different number of matches now refuses the edit rather than changing
    objects nobody agreed to.
    """
    targets = matches(view, node, within, cwd)
    if expected is not None and len(targets) != expected:
        raise OmshError(
            f"{len(targets):,} objects match now, not the {expected:,} confirmed; nothing changed"
        )
    return edit(view, targets, change, dry_run=dry_run)


# -- the changes -----------------------------------------------------------------


def _typed(metadata: Mapping[str, MetadataValue]) -> dict[str, tuple[type, MetadataValue]]:
    """Items with their types, so that 1, 1.0 and True compare as different values."""
    return {key: (type(value), value) for key, value in metadata.items()}


def _same(old: MetadataValue, new: MetadataValue) -> bool:
    """Whether two values are the same value of the same type (1, 1.0 and True differ)."""
    return type(old) is type(new) and old == new


@dataclass(frozen=True)
class SetMetadata(BulkChange):
    """``set-meta --query`` and the CDMI bulk PUT: the same items on every target."""

    updates: Mapping[str, MetadataValue]
    deletions: tuple[str, ...] = ()

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        return view.can_set_metadata(obj)

    def changes(self, obj: StoreObject) -> bool:
        # Only the items named can differ: no copy of everything else (100,000 objects).
        current = obj.metadata
        if any(key in current for key in self.deletions if key not in self.updates):
            return True
        return any(
            key not in current or not _same(current[key], value)
            for key, value in self.updates.items()
        )

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        changed = 0
        for target in targets:
            if self.changes(target.obj):
                view.set_metadata(target.obj, target.subject, self.updates, self.deletions)
                changed += 1
        return changed


@dataclass(frozen=True)
class ReplaceMetadata(BulkChange):
    """``meta import``: each target gets its own items (with *replace*, only those)."""

    items: Mapping[str, Mapping[str, MetadataValue]]
    replace: bool = False

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        return view.can_set_metadata(obj)

    def _deletions(self, obj: StoreObject) -> tuple[str, ...]:
        if not self.replace:
            return ()
        wanted = self.items[obj.path]
        return tuple(key for key in obj.metadata if key not in wanted)

    def changes(self, obj: StoreObject) -> bool:
        current = obj.metadata
        after = {k: v for k, v in current.items() if k not in self._deletions(obj)}
        return _typed(after | dict(self.items[obj.path])) != _typed(current)

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        changed = 0
        for target in targets:
            obj = target.obj
            if self.changes(obj):
                deletions = self._deletions(obj)
                try:
                    view.set_metadata(obj, target.subject, self.items[obj.path], deletions)
                except OmshError as exc:  # too many items, say: name the object
                    exc.subject = exc.subject or target.subject
                    raise
                changed += 1
        return changed


@dataclass(frozen=True)
class Remove(BulkChange):
    """``rm --query``: each match removed (a container with *recursive*, all below it).

    Without *recursive* matches go deepest first, so a container whose
    children all match is empty by its turn; with it, a match inside a
    container already removed went with it.
    """

    recursive: bool = False

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        return view.can_remove(obj, recursive=self.recursive)

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        ordered = targets if self.recursive else list(reversed(targets))
        if self.recursive:  # a match below another matched container goes with it
            ordered = outermost(ordered)
        for target in ordered:
            view.remove(target.obj.path, recursive=self.recursive)
        return len(targets)


@dataclass(frozen=True)
class ChangeOwner(BulkChange):
    """``chown --query``: every match (and with *recursive*, what lies below) to *owner*."""

    owner: str
    recursive: bool = False
    #: What the audit event names as the target (the query).
    description: str = ""

    def allowed(self, view: StoreView, obj: StoreObject) -> bool:
        return True  # administrators only: refused as a whole in prepare

    def prepare(self, view: StoreView, targets: Sequence[Target]) -> None:
        view.require_admin()
        view.root.principals.get_user(self.owner)

    def changes(self, obj: StoreObject) -> bool:
        return self.recursive or obj.owner != self.owner

    def apply(self, view: StoreView, targets: Sequence[Target]) -> int:
        detail = f" query objects={len(targets)}" + (" recursive" if self.recursive else "")
        # With recursive, a match below another is walked with it already.
        chosen = outermost(targets) if self.recursive else targets
        return view.change_owners(
            [(target.obj, target.subject) for target in chosen],
            None,
            self.owner,
            self.recursive,
            target=self.description,
            detail=detail,
        )


def outermost(targets: Sequence[Target]) -> list[Target]:
    """*targets* without those that lie below another target (a recursive edit covers them)."""
    chosen = {id(target.obj) for target in targets}
    kept = []
    for target in targets:
        node = target.obj.__parent__
        while node is not None and id(node) not in chosen:
            node = node.__parent__
        if node is None:
            kept.append(target)
    return kept
