"""What each page shows, read in one transaction through :class:`StoreView`.

Every function here runs inside a store transaction for the caller and
returns plain data (the templates never see a persistent object).  Access
is decided by the view's operations — :meth:`~StoreView.resolve`,
:meth:`~StoreView.children`, :meth:`~StoreView.stat`,
:meth:`~StoreView.read_acl`, :meth:`~StoreView.query` — never here, so a
page shows exactly what ``ls``, ``stat``, ``acl`` and ``query`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from urllib.parse import quote

from omsh.store.acl import perm_words
from omsh.store.metadata import (
    InvalidMetadata,
    MetadataValue,
    parse_value,
    split_key,
    to_text,
    type_name,
    validate_key,
)
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.names import join_path, split_path
from omsh.store.query import QuerySyntaxError, key_to_json, parse_query
from omsh.store.system import object_type, size_of, system_metadata, timestamp
from omsh.store.view import StoreView

#: Children on one page of a listing (the next page starts ``?after=`` the last).
PAGE_SIZE = 100
#: Search results shown (the count says how many there are).
RESULTS_SHOWN = 200


def href(path: str, container: bool) -> str:
    """The URL path of a store path: every name percent-encoded, '/' for a container."""
    names = split_path(path)
    url = "/" + "/".join(quote(name, safe="") for name in names)
    return url + "/" if container and names else url


@dataclass(frozen=True)
class Crumb:
    name: str
    url: str


def breadcrumbs(path: str) -> list[Crumb]:
    """The root and each container on the way to *path* (the last one included)."""
    crumbs = [Crumb("/", "/")]
    walked = ""
    for name in split_path(path):
        walked += "/" + name
        crumbs.append(Crumb(name, href(walked, True)))
    return crumbs


@dataclass(frozen=True)
class Row:
    """One child in a listing."""

    name: str
    url: str
    kind: str
    size: int
    mtime: str
    owner: str


def _row(name: str, path: str, child: StoreObject) -> Row:
    container = isinstance(child, Container)
    return Row(
        name,
        href(path, container),
        object_type(child),
        size_of(child),
        timestamp(child.mtime),
        child.owner,
    )


@dataclass(frozen=True)
class Hit:
    path: str
    url: str


@dataclass
class Search:
    """A query run in a container: its hits, or the syntax error to show under it."""

    query: str
    error: str | None = None
    count: int = 0
    hits: list[Hit] = field(default_factory=list)
    as_of: str = ""


@dataclass(frozen=True)
class Item:
    """A user metadata item as shown: key, type, text."""

    key: str
    kind: str
    text: str


def items_of(obj: StoreObject) -> list[Item]:
    """*obj*'s user metadata by key, each with its type (checked by the caller)."""
    return [
        Item(key, type_name(value), to_text(value)) for key, value in sorted(obj.metadata.items())
    ]


@dataclass
class Listing:
    """A container page: one page of children, and what the forms may offer."""

    path: str
    url: str
    crumbs: list[Crumb]
    rows: list[Row]
    after: str | None
    next_after: str | None
    search: Search | None
    #: The container's own user metadata (empty if the caller may not see it).
    items: list[Item]


def search(view: StoreView, path: str, text: str) -> Search:
    """``query --in PATH TEXT``: results the caller may see, or the syntax error."""
    found = Search(text)
    try:
        node = parse_query(text)
    except QuerySyntaxError as error:
        found.error = str(error)
        return found
    result = view.query(node, within=path)
    found.count = len(result)
    found.as_of = result.as_of
    for docid in islice(result.ordered(), RESULTS_SHOWN):
        hit_path = result.path(docid)
        kind = result.value(docid, "type")
        container = kind is not None and key_to_json(kind) == "container"
        found.hits.append(Hit(hit_path, href(hit_path, container)))
    return found


def listing(
    view: StoreView, container: Container, path: str, after: str | None, query: str | None
) -> Listing:
    """One page of *container*'s children the caller may see, by name."""
    children = view.children(container, path, after=after or None)
    rows = [
        _row(name, join_path(path, name), child) for name, child in islice(children, PAGE_SIZE + 1)
    ]
    next_after = rows[PAGE_SIZE - 1].name if len(rows) > PAGE_SIZE else None
    found = search(view, path, query) if query else None
    items = items_of(container) if view.can_see(container) else []
    return Listing(
        path, href(path, True), breadcrumbs(path), rows[:PAGE_SIZE], after, next_after, found, items
    )


@dataclass(frozen=True)
class AclRow:
    acetype: str
    identifier: str
    rights: str
    inheritable: bool
    source: str


@dataclass
class ObjectPage:
    """A data object's page (containers get a :class:`Listing`)."""

    path: str
    url: str
    crumbs: list[Crumb]
    objectid: str
    system: dict[str, Any]
    items: list[Item]
    acl: list[AclRow] | None
    size: int


def object_page(view: StoreView, obj: DataObject, path: str) -> ObjectPage:
    """System and user metadata (read-metadata) and the ACL, if the caller may read it."""
    view.stat(obj, path)
    items = items_of(obj)
    acl = None
    if view.can_read_acl(obj):
        acl = [
            AclRow(
                ace.acetype.name,
                ace.identifier,
                " ".join(perm_words(ace.acemask)),
                ace.inheritable,
                "" if source is obj else source.path,
            )
            for ace, source in view.read_acl(obj, path)
        ]
    return ObjectPage(
        path,
        href(path, False),
        breadcrumbs(path)[:-1],
        obj.object_id,
        system_metadata(obj),
        items,
        acl,
        obj.size,
    )


def parse_item(text: str) -> tuple[str, MetadataValue]:
    """A set-meta form's ``KEY[:TYPE]=VALUE``, typed by the same rule as ``set-meta``."""
    spec, equals, value = text.partition("=")
    if not equals:
        raise InvalidMetadata(f"{text[:60]!r}: expected KEY=VALUE")
    key, kind = split_key(spec.strip())
    return validate_key(key), parse_value(value, kind)
