"""The CDMI entry point: parse, authenticate, dispatch, turn errors into statuses.

Every request is negotiated (:func:`~omsh.cdmi.protocol.negotiate_version`),
its URI decoded segment by segment (:func:`~omsh.cdmi.protocol.parse_target`),
its caller identified (:mod:`omsh.cdmi.auth`), and then handled by
:mod:`omsh.cdmi.containers` or :mod:`omsh.cdmi.dataobjects`.

How often a request leaves the event loop matters for small requests, where
a thread hand-off costs more than the work.  A GET is one read transaction
that also checks remembered credentials and builds and serialises the
answer: on the event loop itself when it is cheap (a value of at most
:data:`~omsh.cdmi.values.CACHED_LIMIT` bytes, a container of at most
:data:`LOOP_CHILDREN` children, a local storage; see :mod:`omsh.cdmi.context`
for why that is safe), else in a worker.  A small PUT is staged in one
worker call and committed with whatever other writes are queued
(:mod:`omsh.store.commits`).  Large values stream both ways.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from omsh.authn import Authenticator
from omsh.cdmi import changes, containers, dataobjects
from omsh.cdmi.auth import BasicAuth
from omsh.cdmi.context import Backend, Call, locate, require_canonical_uri, target_path
from omsh.cdmi.protocol import (
    CDMI_CAPABILITY,
    CDMI_CONTAINER,
    CDMI_OBJECT,
    CDMI_TYPES,
    VERSION_HEADER,
    Answer,
    HTTPProblem,
    Selectors,
    base_type,
    error_response,
    fail,
    negotiate_version,
    parse_selectors,
    parse_target,
    status_for,
)
from omsh.cdmi.representation import (
    CAPABILITY_PATHS,
    capability_body,
    children_slice,
    select_fields,
)
from omsh.cdmi.values import CACHED_LIMIT
from omsh.errors import OmshError, PermissionDenied
from omsh.store.acl import InvalidACL
from omsh.store.database import Store
from omsh.store.loopreads import NotCheap
from omsh.store.model import Container
from omsh.store.view import StoreView
from omsh.web.negotiation import claims as browser_claims
from omsh.web.service import BrowserPages

log = logging.getLogger(__name__)

DEFAULT_JSON_LIMIT = 16 * 1024 * 1024
#: Containers with more children than this are listed in a worker, not on the loop.
LOOP_CHILDREN = 64
ALLOWED = {"Allow": "GET, HEAD, PUT, DELETE"}
READ_ONLY = {"Allow": "GET, HEAD"}


class CdmiService:
    """The CDMI endpoint: one :meth:`handle` for every request."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        authenticator: Authenticator,
        *,
        json_limit: int = DEFAULT_JSON_LIMIT,
    ) -> None:
        self.auth = BasicAuth(authenticator)
        self.backend = Backend(store, executor, self.auth, json_limit)
        self.streams = changes.Streams()
        #: Pages for browsers (content negotiation: :mod:`omsh.web.negotiation`).
        self.pages = BrowserPages(self.backend, authenticator)

    def stop_streams(self) -> None:
        """End every change feed being streamed (the server is stopping)."""
        self.streams.stop()

    def close(self) -> None:
        """Release the event loop's ZODB connection (at server shutdown)."""
        self.backend.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Errors become status codes (one line each), never tracebacks."""
        if browser_claims(request):  # a browser's page or form: never CDMI's
            return await self.pages.handle(request)
        version: str | None = None
        call: Call | None = None
        try:
            version = negotiate_version(request)
            raw_path, _, raw_query = request.raw_path.partition("?")
            target = parse_target(raw_path)
            feed = changes.names_feed(target)  # its parameters are not selectors
            selectors = Selectors() if feed else parse_selectors(raw_query)
            caller = await self.auth.caller(
                request.headers.get("Authorization"), request.remote or "?"
            )
            call = Call(request, target, caller, version, selectors)
            return await self.dispatch(call)
        except HTTPProblem as problem:
            return error_response(problem.status, problem.message, version, headers=problem.headers)
        except InvalidACL as exc:
            return error_response(400, str(exc), version)
        except PermissionDenied as exc:
            if call is not None and call.caller.user is None:
                return error_response(401, "authentication required", version)
            return error_response(403, str(exc), version)
        except OmshError as exc:
            return error_response(status_for(exc), str(exc), version)
        except HttpProcessingError as exc:  # a malformed body (chunking, length)
            return error_response(400, f"malformed request: {exc.message}", version)
        except ConnectionError:
            log.info("CDMI %s %s: the client went away", request.method, request.path[:200])
            return error_response(400, "connection lost", version)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("CDMI %s %s failed", request.method, request.raw_path[:200])
            return error_response(500, "internal error (details are in the server log)", version)

    async def dispatch(self, call: Call) -> web.StreamResponse:
        method = call.request.method
        if changes.names_feed(call.target):
            return await changes.serve(self.backend, call, self.streams)
        if call.target.kind == "capabilities" or call.target.object_id.upper() in CAPABILITY_PATHS:
            if method not in ("GET", "HEAD"):
                fail(405, "capabilities are read-only", READ_ONLY)
            return await self.capabilities(call)
        if method in ("GET", "HEAD"):
            return await self.get(call)
        if method == "PUT":
            return await self.put(call)
        if method == "DELETE":
            return await self.delete(call)
        fail(405, f"method {method} is not supported", ALLOWED)

    async def capabilities(self, call: Call) -> web.StreamResponse:
        """The capability objects: below /cdmi_capabilities/, or by ID (and a path below it).

        Like containers, their URIs end in '/' (301 otherwise).  The root's
        ``parentID`` is the root container's, read from the store (§12.2.6).
        """
        target = call.target
        if target.kind == "capabilities":
            path = target.path
            if not target.trailing_slash:
                raw_path, _, query = call.request.raw_path.partition("?")
                location = raw_path + "/" + (f"?{query}" if query else "")
                fail(301, "a capability URI ends in '/'", {"Location": location})
        else:
            path = "/".join((CAPABILITY_PATHS[target.object_id.upper()], *target.below))
        root_id = await self.backend.read_on_loop(
            call, lambda view, _on_loop: view.root.tree.object_id
        )
        body = capability_body(path.replace("//", "/").rstrip("/") or "/", root_id)
        if body is None:
            fail(404, "no such capability")
        selectors = call.selectors
        if selectors.children_range is not None:
            body.update(children_slice(body["children"], selectors.children_range))
        return Answer.of(select_fields(body, selectors.fields), CDMI_CAPABILITY).response(
            call.version
        )

    async def get(self, call: Call) -> web.StreamResponse:
        """One read transaction decides the whole answer (see the module docstring).

        It starts on the event loop and moves to a worker if it is not
        cheap there (:meth:`Backend.read_on_loop`).
        """
        values = self.backend.values

        def read(
            view: StoreView, on_loop: bool
        ) -> Answer | dataobjects.PlainValue | dataobjects.StreamedObject:
            found = locate(view, call.target)
            obj = found.obj
            require_canonical_uri(call, obj)
            if isinstance(obj, Container):
                if on_loop and (call.selectors.query is not None or len(obj) > LOOP_CHILDREN):
                    raise NotCheap
                return containers.read(view, call, found)
            if call.selectors.query is not None:
                fail(400, "?query= searches below a container")
            if on_loop and getattr(obj, "size", 0) > CACHED_LIMIT:
                raise NotCheap
            if not call.cdmi:
                return dataobjects.read_plain(view, found, values)
            return dataobjects.read_cdmi(view, call, found, values)

        answer = await self.backend.read_on_loop(call, read)
        if isinstance(answer, Answer):
            return answer.response(call.version)
        if isinstance(answer, dataobjects.PlainValue):
            return answer.response(call.request)
        return await dataobjects.send_streamed(self.backend, call, answer)

    async def put(self, call: Call) -> web.StreamResponse:
        """A body must fit the URI: containers end in '/', data objects do not."""
        media = base_type(call.request.headers.get("Content-Type"))
        names_container = call.target.trailing_slash
        selectors = call.selectors
        if selectors.query is not None and names_container:
            return await containers.put_query(self.backend, call)
        if selectors.query is not None or set(selectors.fields) - {"value", "metadata"}:
            fail(400, "a PUT takes only ?value:A-B and ?metadata:NAME selectors")
        if call.cdmi:
            if media == CDMI_CONTAINER and names_container:
                return await containers.put(self.backend, call)
            if media == CDMI_OBJECT and not names_container:
                return await dataobjects.put_json(self.backend, call)
            if media == CDMI_CONTAINER:  # an existing container named without '/': 301
                await self.backend.view(call, lambda view: _redirect_to_container(view, call))
            fail(
                400,
                f"a CDMI PUT needs Content-Type {CDMI_CONTAINER} for a URI ending in '/',"
                f" {CDMI_OBJECT} for one that does not",
            )
        if media in CDMI_TYPES:
            fail(400, f"Content-Type {media} needs the {VERSION_HEADER} header")
        if names_container:
            return await containers.put(self.backend, call)
        return await dataobjects.put_plain(self.backend, call)

    async def delete(self, call: Call) -> web.StreamResponse:
        """Containers go with everything in them (spec §9.7), if all may be deleted."""

        def remove(view: StoreView) -> None:
            found = locate(view, call.target)
            require_canonical_uri(call, found.obj)
            view.remove(found.obj.path, recursive=True)

        await self.backend.view(call, remove, write=True)
        return call.no_content()


def _redirect_to_container(view: StoreView, call: Call) -> None:
    """301 if the URI names an existing container without its '/'; else nothing."""
    existing = view.lookup(target_path(view, call.target))
    if isinstance(existing, Container):
        require_canonical_uri(call, existing)


__all__ = ["DEFAULT_JSON_LIMIT", "CdmiService"]
