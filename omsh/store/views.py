"""Live views: saved queries, browsable as ``/.views/NAME``.

A view is a query with a name, kept in ``root.views`` under its owner's
name (a shared one, made by an administrator, under :data:`SHARED`).
``/.views`` lists the views its reader has (their own, then shared ones
whose names they have not taken); ``/.views/NAME`` is a container made up
on each read, listing the objects that match *now*, as the reader's
``query`` would: answered from the catalog in the reading transaction
(exact as of it, complete by construction) and filtered by the reader's
rights.  Each entry is the matching object itself, under a name derived
from its path below the view's scope (``photos%2F2024%2Fa.jpg``: ``/`` and
``%`` percent-encoded), so names are unique, stable while the object stays
where it is, and lead back to the path.

Entries are read-only, like snapshots: the view refuses every write right on
an object reached through ``/.views`` (:meth:`StoreView.lookup
<omsh.store.view.StoreView.lookup>` marks them), so a ``put``, ``rm`` or
``set-meta`` there is refused before anything changes.  Reading an entry
needs the same rights as reading the object by its path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from BTrees.OOBTree import OOBTree

from omsh.errors import AlreadyExists, InvalidName, NotFound
from omsh.store.index import indexed_values
from omsh.store.model import Container, StoreObject, StoreRoot, VirtualContainer
from omsh.store.names import join_path, normalize_path, validate_name
from omsh.store.query import Node, QueryResult, parse_query

if TYPE_CHECKING:
    from omsh.store.view import StoreView

VIEWS_NAME = ".views"
VIEWS_PATH = "/" + VIEWS_NAME
#: The owner under which shared views are kept (not a valid user name).
SHARED = "*"

#: Runs a query as the reader: (expression, scope) -> the reader's result.
RunQuery = Callable[[Node, str | None], QueryResult]


@dataclass(frozen=True)
class SavedView:
    """A saved query: what it matches, where, and which fields ``view run`` shows."""

    name: str
    owner: str
    expression: str
    within: str | None = None
    select: tuple[str, ...] = ()
    created: float = 0.0

    @property
    def shared(self) -> bool:
        return self.owner == SHARED

    @property
    def path(self) -> str:
        return f"{VIEWS_PATH}/{self.name}"

    @property
    def node(self) -> Node:
        return parse_query(self.expression)

    def document(self) -> dict[str, Any]:
        """The JSON shape of ``view list --json`` and ``view add --json``."""
        return {
            "name": self.name,
            "query": self.expression,
            "in": self.within,
            "select": list(self.select),
            "shared": self.shared,
            "owner": None if self.shared else self.owner,
            "created": self.created,
            "path": self.path,
        }


def entry_name(relative: str) -> str:
    """The entry name of an object at *relative* (a path below the scope, no leading ``/``)."""
    return relative.replace("%", "%25").replace("/", "%2F")


def entry_relative(name: str) -> str:
    """The path below the scope an entry name stands for (:func:`entry_name` undone)."""
    return name.replace("%2F", "/").replace("%25", "%")


def _records(root: StoreRoot) -> OOBTree:
    return cast(OOBTree, root.views)


def _key(owner: str, name: str) -> tuple[str, str]:
    return (owner, name)


# -- as a principal asks ----------------------------------------------------


def add_view(
    view: StoreView,
    name: str,
    expression: str,
    *,
    within: str | None = None,
    select: tuple[str, ...] = (),
    shared: bool = False,
    cwd: str = "/",
) -> SavedView:
    """Save a view for the caller (or, for administrators, a shared one).

    The expression is parsed now (a syntax error is exit 2 and nothing is
    saved); the scope must be a container the caller may list.
    """
    validate_name(name)
    parse_query(expression)
    if shared:
        view.require_admin(name)
    if within is not None:
        within = view.enter(within, cwd).path
    owner = SHARED if shared else view.principal.name
    records = _records(view.root)
    if _key(owner, name) in records:
        raise AlreadyExists(name, "a view of that name exists")
    saved = SavedView(name, owner, expression, within, tuple(select), time.time())
    records[_key(owner, name)] = saved
    if shared:
        view.audit("view add", saved.path, expression)
    return saved


def remove_view(view: StoreView, name: str, *, shared: bool = False) -> SavedView:
    """Remove the caller's view *name* (or a shared one: administrators)."""
    if shared:
        view.require_admin(name)
    owner = SHARED if shared else view.principal.name
    records = _records(view.root)
    saved = records.get(_key(owner, name))
    if saved is None:
        raise NotFound(name, "no such view" + (" (shared)" if shared else ""))
    del records[_key(owner, name)]
    if shared:
        view.audit("view rm", saved.path, saved.expression)
    return cast(SavedView, saved)


def views_of(root: StoreRoot, user: str) -> list[SavedView]:
    """The views *user* has: their own, then shared ones whose names are free, by name."""
    records = _records(root)
    own = {saved.name: saved for saved in records.values(min=(user, ""), max=(user, "\uffff"))}
    for saved in records.values(min=(SHARED, ""), max=(SHARED, "\uffff")):
        own.setdefault(saved.name, saved)
    return [own[name] for name in sorted(own)]


def find_view(root: StoreRoot, user: str, name: str) -> SavedView | None:
    """*user*'s view *name*, or the shared one of that name."""
    records = _records(root)
    found = records.get(_key(user, name)) or records.get(_key(SHARED, name))
    return cast("SavedView | None", found)


def require_view(view: StoreView, name: str) -> SavedView:
    saved = find_view(view.root, view.principal.name, name)
    if saved is None:
        raise NotFound(name, "no such view")
    return saved


# -- browsing: /.views ------------------------------------------------------


class _Virtual(VirtualContainer):
    """A made-up container whose children are a listing computed on demand."""

    refusal = "views are read-only"

    def __init__(self, root: StoreRoot, name: str, path: str) -> None:
        super().__init__(root.tree, name, path)
        self._root = root

    def _listing(self) -> list[tuple[str, StoreObject]]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._listing())

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def names(self, start: str | None = None) -> Iterator[str]:
        return (name for name, _ in self._listing() if start is None or name >= start)

    def items(self, after: str | None = None) -> Iterator[tuple[str, StoreObject]]:
        return ((n, o) for n, o in self._listing() if after is None or n > after)


class ViewContainer(_Virtual):
    """``/.views/NAME``: the objects matching the view now, as its reader sees them."""

    def __init__(self, root: StoreRoot, saved: SavedView, run_query: RunQuery) -> None:
        super().__init__(root, saved.name, saved.path)
        self.saved = saved
        self._run_query = run_query
        self._entries: list[tuple[str, StoreObject]] | None = None
        #: The same entries by name, once listed (``ls -l`` looks up each).
        self._by_name: dict[str, StoreObject] = {}
        self._scope = saved.within or "/"

    def _listing(self) -> list[tuple[str, StoreObject]]:
        if self._entries is None:
            result = self._run_query(self.saved.node, self.saved.within)
            catalog = result.catalog
            cut = 1 if self._scope == "/" else len(self._scope) + 1
            entries = [
                (entry_name(path[cut:]), catalog.object(docid))
                for docid, path in result.paths().items()
            ]
            entries.sort(key=lambda entry: entry[0])
            self._entries = entries
            self._by_name = dict(entries)
        return self._entries

    def get(self, name: str) -> StoreObject | None:
        """The entry *name*, if its object exists and matches the view now."""
        if self._entries is not None:
            return self._by_name.get(name)
        relative = entry_relative(name)
        try:
            path = normalize_path(relative, self._scope)
        except InvalidName:
            return None
        if path == self._scope or not path.startswith(join_path(self._scope, "")):
            return None  # ".." or an empty name: not an entry
        node: StoreObject = self._root.tree
        for part in path.strip("/").split("/"):
            child = node.get(part) if isinstance(node, Container) else None
            if child is None:
                return None
            node = child
        if not self.saved.node.matches(indexed_values(node)):
            return None
        return node


class ViewsDirectory(_Virtual):
    """``/.views``: the reader's views, each a :class:`ViewContainer`."""

    def __init__(self, root: StoreRoot, user: str, run_query: RunQuery) -> None:
        super().__init__(root, VIEWS_NAME, VIEWS_PATH)
        self._user = user
        self._run_query = run_query

    def _listing(self) -> list[tuple[str, StoreObject]]:
        return [
            (saved.name, ViewContainer(self._root, saved, self._run_query))
            for saved in views_of(self._root, self._user)
        ]

    def __len__(self) -> int:
        return len(views_of(self._root, self._user))

    def get(self, name: str) -> StoreObject | None:
        saved = find_view(self._root, self._user, name)
        return None if saved is None else ViewContainer(self._root, saved, self._run_query)
