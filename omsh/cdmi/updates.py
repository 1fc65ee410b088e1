"""Changes shared by container and data object updates: metadata, ACL, sources.

The metadata rules are CDMI 1.1.1's (§16.6 and the ``?metadata:`` update of
§8.6/§9.6): with ``?metadata:NAME;…`` exactly the named items change — each
is added or replaced from the body, or deleted when the body lacks it;
without a selector the body's ``metadata`` replaces all user metadata.
``cdmi_acl`` is the object's own ACL, changed with write-acl through the
same :meth:`StoreView.replace_acl` as ``acl grant``; other ``cdmi_*`` items
are computed by the server and never change.
"""

from __future__ import annotations

from omsh.cdmi.bodies import ACL_KEY, Metadata, Source
from omsh.cdmi.context import locate
from omsh.cdmi.protocol import fail
from omsh.errors import NotFound
from omsh.store.metadata import RESERVED_PREFIX
from omsh.store.model import StoreObject
from omsh.store.view import StoreView


def apply_metadata(
    view: StoreView,
    obj: StoreObject,
    subject: str,
    metadata: Metadata | None,
    names: list[str],
) -> None:
    """Apply a body's ``metadata`` to *obj*, limited to *names* if any."""
    if names:
        given = metadata.items if metadata is not None else {}
        user_names = [name for name in names if not name.startswith(RESERVED_PREFIX)]
        updates = {name: given[name] for name in user_names if name in given}
        deletions = tuple(name for name in user_names if name not in given)
        acl = None
        if ACL_KEY in names:
            acl = metadata.acl if metadata is not None and metadata.acl is not None else ()
    elif metadata is not None:
        updates = metadata.items
        deletions = tuple(key for key in obj.metadata if key not in updates)
        acl = metadata.acl
    else:
        return
    if updates or deletions:
        view.set_metadata(obj, subject, updates, deletions)
    if acl is not None:
        try:
            view.replace_acl(obj, subject, acl, action="acl-set", detail="via CDMI")
        except NotFound as exc:  # an ACE naming nobody: the body is wrong
            fail(400, f"cdmi_acl: {exc}")


def resolve_source(view: StoreView, source: Source, kind: type[StoreObject], what: str) -> str:
    """The store path a ``copy``/``move`` names, which must be a *kind*."""
    try:
        origin = locate(view, source.target).obj
    except NotFound as exc:  # say which URI is missing: the source, not the destination
        fail(404, f"{source.kind} source {exc.subject or ''}: not found")
    if not isinstance(origin, kind):
        fail(400, f"{source.kind} source is not {what}")
    return origin.path


def copy_or_move(view: StoreView, source: Source, origin: str, destination: str) -> StoreObject:
    """Copy (new IDs) or move (same ID) *origin* to *destination*."""
    if source.kind == "copy":
        return view.copy(origin, destination, recursive=True)
    return view.move(origin, destination)
