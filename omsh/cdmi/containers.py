"""Containers: read (with children, ranges, the ``?query=`` extension) and PUT.

A container PUT creates (201 with the container's body), updates metadata
(204), or copies or moves another container to a new URI (201; a move keeps
the object ID).  Everything happens in one transaction, so a refused change
leaves nothing half done.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from omsh.cdmi.bodies import container_fields, read_json
from omsh.cdmi.context import (
    Backend,
    Call,
    Located,
    locate,
    refuse_reserved,
    require_canonical_uri,
    target_path,
)
from omsh.cdmi.protocol import CDMI_CONTAINER, Answer, accept_body, base_type, fail
from omsh.cdmi.representation import container_body, select_fields, uri_of
from omsh.cdmi.updates import apply_metadata, copy_or_move, resolve_source
from omsh.errors import AlreadyExists
from omsh.store.bulk import Outcome, SetMetadata, edit_matches, parse_bulk_query
from omsh.store.model import Container
from omsh.store.query import parse_query
from omsh.store.view import StoreView

QUERY_TYPE = "application/json"


def read(view: StoreView, call: Call, found: Located) -> Answer:
    """GET: the container's fields (selected ones if asked), or a query's results."""
    container = found.obj
    assert isinstance(container, Container)
    selectors = call.selectors
    if selectors.query is not None:
        view.require_list(container, found.subject)
        return Answer.of(query_results(view, container, selectors.query), QUERY_TYPE)
    view.stat(container, found.subject)
    with_children = not selectors.fields or "children" in selectors.fields
    if with_children:
        view.require_list(container, found.subject)
    body = container_body(
        view,
        container,
        children_range=selectors.children_range,
        prefixes=selectors.metadata,
        with_children=with_children,
    )
    return Answer.of(select_fields(body, selectors.fields), CDMI_CONTAINER)


def query_results(view: StoreView, container: Container, text: str) -> dict[str, Any]:
    """The ``?query=`` extension: the shell's query language over a subtree.

    Non-standard (``omsh_query`` in the capabilities): the answer lists each
    match's object ID and URI, with the transaction it is complete as of.
    """
    result = view.query(parse_query(text), container.path)
    return {
        "query": text,
        "results": [
            {
                "objectID": result.catalog.object(docid).object_id,
                "objectURI": uri_of(result.path(docid), container=False),
            }
            for docid in result.ordered()
        ],
        "count": len(result),
        "transaction": result.transaction,
        "complete_as_of": result.as_of,
    }


async def put_query(backend: Backend, call: Call) -> web.StreamResponse:
    """The bulk extension: ``PUT /container/?query=EXPR`` with a CDMI container body.

    The body's ``metadata`` items are set on every object below the
    container that the query shows the caller, in one transaction (as
    ``set-meta --query``): 200 with ``{"query", "count", "changed"}``; 403,
    changing nothing, if the caller may not change one of them.  Only
    ``metadata`` may be given, without ``cdmi_acl``.
    """
    if base_type(call.request.headers.get("Content-Type")) != CDMI_CONTAINER or not call.cdmi:
        fail(400, f"?query= takes a CDMI PUT with Content-Type {CDMI_CONTAINER}")
    text = call.selectors.query or ""
    node = parse_bulk_query(text)
    fields = container_fields(await read_json(call.request, backend.json_limit))
    if fields.source is not None or fields.metadata is None:
        fail(400, "?query= takes a body with metadata only")
    if fields.metadata.acl is not None:
        fail(400, "?query= does not set cdmi_acl")
    if not fields.metadata.items:
        fail(400, "?query= needs at least one metadata item to set")
    change = SetMetadata(fields.metadata.items)

    def apply(view: StoreView) -> Outcome:
        found = locate(view, call.target)
        require_canonical_uri(call, found.obj)
        if not isinstance(found.obj, Container):
            fail(400, "?query= searches below a container")
        return edit_matches(view, node, found.obj.path, "/", change)

    outcome = await backend.view(call, apply, write=True)
    body = {"query": text, "count": outcome.count, "changed": outcome.changed}
    return Answer.of(body, QUERY_TYPE).response(call.version)


async def put(backend: Backend, call: Call) -> web.StreamResponse:
    """PUT of a container URI: CDMI JSON, or a plain PUT with an empty body."""
    if call.cdmi:
        fields = container_fields(await read_json(call.request, backend.json_limit))
    else:
        await accept_body(call.request)
        if await call.request.content.read(1):
            fail(400, "a container PUT without the CDMI header must have an empty body")
        fields = container_fields({})
    names = call.selectors.metadata

    def apply(view: StoreView) -> tuple[bool, Answer]:
        path = target_path(view, call.target)
        existing = view.lookup(path)
        created = existing is None
        if created:
            refuse_reserved(path)
        if fields.source is not None:
            if existing is not None:
                raise AlreadyExists(path)
            origin = resolve_source(view, fields.source, Container, "a container")
            container = copy_or_move(view, fields.source, origin, path)
        elif existing is None:
            container = view.make_container(path)
        elif isinstance(existing, Container):
            container = existing
        else:
            fail(409, "a data object exists at that URI")
        assert isinstance(container, Container)
        apply_metadata(view, container, path, fields.metadata, names)
        listable = view.can_list(container)
        return created, Answer.of(
            container_body(view, container, with_children=listable), CDMI_CONTAINER, 201
        )

    created, answer = await backend.view(call, apply, write=True)
    if created and call.cdmi:
        return answer.response(call.version)
    return call.no_content(201 if created else 204)
